using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Video.Capture;
using Video.Inference;
using Video.Inference.Batching;

namespace Video.Streaming.Grpc;

/// <summary>A model the server has loaded: its manifest and its ONNX Runtime session.</summary>
internal sealed record LoadedModel(ModelManifest Manifest, Stylizer Stylizer)
{
    public string Name => Manifest.Name;

    /// <summary>The model's batched session when the server batches across streams and the graph allows it.</summary>
    public BatchedModel? Batched { get; init; }

    /// <summary>Why the model runs frame by frame although the server batches; empty otherwise.</summary>
    public string BatchingNote { get; init; } = string.Empty;

    /// <summary>Most frames run in one call of this model.</summary>
    public int MaxBatch => Batched?.MaxBatch ?? 1;

    /// <summary>True for models that take a style (AdaIN).</summary>
    public bool NeedsStyle => Stylizer.TakesStyle;
}

/// <summary>
/// Loads the installed models when the server starts and hands them to calls. Health reports NOT_SERVING
/// until loading has finished with at least one model.
/// </summary>
/// <remarks>
/// Thread safe. Loading runs in the background so that the server answers health checks while it loads.
/// Plans for unary calls are cached here per model and size (bounded); stream sessions own their plans.
/// </remarks>
internal sealed class ModelHost : IHostedService, IDisposable
{
    /// <summary>The service name health reports for (besides the empty name for the whole server).</summary>
    public const string ServiceName = "video.stylize.v1.VideoStylizer";

    private const int MaxCachedPlans = 16;

    private readonly StreamingOptions _options;
    private readonly HealthServiceImpl _health;
    private readonly ILogger<ModelHost> _logger;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<(string Model, int W, int H, int TW, int TH), Lazy<StylizerPlan>> _plans = new();
    private Dictionary<string, LoadedModel> _models = new(StringComparer.OrdinalIgnoreCase);
    private volatile bool _isReady;
    private string? _failure;

    private readonly FrameAllocator _allocator;

    public ModelHost(IOptions<StreamingOptions> options, HealthServiceImpl health, ILogger<ModelHost> logger, FrameAllocator allocator)
    {
        _allocator = allocator;
        _options = options.Value;
        _health = health;
        _logger = logger;
        SetHealth(HealthCheckResponse.Types.ServingStatus.NotServing);
    }

    /// <summary>True once the models are loaded.</summary>
    public bool IsReady => _isReady;

    /// <summary>Completes when loading has finished (successfully or not).</summary>
    public Task Loaded => _ready.Task;

    /// <summary>The execution provider the models run on.</summary>
    public string Device { get; private set; } = "cpu";

    /// <summary>The model used when a request names none.</summary>
    public string DefaultModel { get; private set; } = ModelCatalog.DefaultModelName;

    /// <summary>Loaded models, sorted by name.</summary>
    public IReadOnlyList<LoadedModel> Models => _models.Values.OrderBy(m => m.Name, StringComparer.Ordinal).ToList();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = Task.Run(Load, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The model named <paramref name="name"/> (the default when empty).</summary>
    /// <exception cref="StreamingException">NotReady while loading; NotFound for unknown names.</exception>
    public LoadedModel Get(string? name)
    {
        if (!_isReady)
        {
            throw new StreamingException(StreamingError.NotReady, _failure is null ? "the server is still loading its models; retry shortly (health reports SERVING when ready)" : $"the server has no usable model: {_failure}");
        }

        string key = string.IsNullOrWhiteSpace(name) ? DefaultModel : name.Trim();
        if (_models.TryGetValue(key, out var model))
        {
            return model;
        }

        throw new StreamingException(StreamingError.NotFound, $"unknown model {UserText.Quote(key)} (installed: {string.Join(", ", _models.Keys.Order(StringComparer.Ordinal))})");
    }

    /// <summary>
    /// A shared plan for single images of one size. Plans are thread safe per slot; when the cache is full
    /// the caller gets a fresh plan it must dispose (<paramref name="owned"/> = true).
    /// </summary>
    public StylizerPlan SharedPlan(LoadedModel model, int width, int height, int tensorWidth, int tensorHeight, out bool owned)
    {
        var key = (model.Name, width, height, tensorWidth, tensorHeight);
        if (_plans.TryGetValue(key, out var existing) || _plans.Count < MaxCachedPlans)
        {
            owned = false;
            var lazy = existing ?? _plans.GetOrAdd(key, _ => new Lazy<StylizerPlan>(() => model.Stylizer.CreatePlan(width, height, tensorWidth, tensorHeight, slots: 2, _allocator)));
            return lazy.Value;
        }

        owned = true;
        return model.Stylizer.CreatePlan(width, height, tensorWidth, tensorHeight, slots: 1, _allocator);
    }

    public void Dispose()
    {
        foreach (var plan in _plans.Values.Where(p => p.IsValueCreated))
        {
            plan.Value.Dispose();
        }

        foreach (var model in _models.Values)
        {
            model.Batched?.Dispose();
            model.Stylizer.Dispose();
        }
    }

    private void Load()
    {
        var watch = Stopwatch.StartNew();
        try
        {
            var catalog = ModelCatalog.Load(ModelCatalog.ResolveDirectory(_options.ModelsDirectory));
            foreach (var problem in catalog.Problems)
            {
                Log.ModelSkipped(_logger, problem);
            }

            var loaded = new Dictionary<string, LoadedModel>(StringComparer.OrdinalIgnoreCase);
            foreach (var manifest in catalog.Models)
            {
                try
                {
                    var stylizerOptions = new StylizerOptions
                    {
                        Device = _options.Device,
                        IntraOpThreads = _options.IntraOpThreads,
                        Warn = w => Log.DeviceWarning(_logger, w),
                    };
                    var stylizer = Stylizer.Load(manifest, stylizerOptions);
                    BatchedModel? batched = null;
                    string note = string.Empty;
                    if (_options.BatchMax > 1)
                    {
                        batched = BatchedModel.TryLoad(stylizer, stylizerOptions, _options.BatchMax, _options.BatchDelay, out string reason, _allocator);
                        if (batched is null)
                        {
                            note = reason;
                            Log.BatchingOff(_logger, manifest.Name, reason);
                        }
                        else
                        {
                            Log.BatchingOn(_logger, manifest.Name, _options.BatchMax, _options.BatchDelay.TotalMilliseconds, reason);
                        }
                    }

                    loaded[manifest.Name] = new LoadedModel(manifest, stylizer) { Batched = batched, BatchingNote = note };
                    Device = stylizer.DeviceName;
                }
                catch (ModelException e)
                {
                    Log.ModelSkipped(_logger, e.Message);
                }
            }

            if (loaded.Count == 0)
            {
                throw new ModelException($"no loadable model in {catalog.Directory}");
            }

            DefaultModel = _options.DefaultModel is { Length: > 0 } d && loaded.ContainsKey(d) ? loaded[d].Name
                : loaded.ContainsKey(ModelCatalog.DefaultModelName) ? ModelCatalog.DefaultModelName
                : loaded.Keys.Order(StringComparer.Ordinal).First();
            _models = loaded;
            _isReady = true;
            SetHealth(HealthCheckResponse.Types.ServingStatus.Serving);
            Log.ModelsLoaded(_logger, loaded.Count, Device, watch.Elapsed.TotalMilliseconds, string.Join(", ", loaded.Keys.Order(StringComparer.Ordinal)));
        }
        catch (Exception e) when (e is Capture.VideoException or IOException or UnauthorizedAccessException)
        {
            _failure = e.Message;
            Log.ModelsFailed(_logger, e.Message);
        }
        finally
        {
            _ready.TrySetResult();
        }
    }

    private void SetHealth(HealthCheckResponse.Types.ServingStatus status)
    {
        _health.SetStatus(string.Empty, status);
        _health.SetStatus(ServiceName, status);
    }
}
