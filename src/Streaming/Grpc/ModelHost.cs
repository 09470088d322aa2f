using System.Diagnostics;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Video.Capture;
using Video.Inference;
using Video.Inference.Batching;
using Video.Streaming.Grpc.Internal;

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
    private readonly Lock _plansGate = new();
    private readonly Dictionary<(string Model, int W, int H, int TW, int TH), LinkedListNode<CachedPlan>> _plans = new();

    // Most recently used first; only plans no call is using are evicted, from the end.
    private readonly LinkedList<CachedPlan> _recent = new();
    private long _plansEvicted;
    private long _memoryGivenBack;
    private long _runsReserved;
    private long _runsWaitedForMemory;
    private TaskCompletionSource _runReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dictionary<string, LoadedModel> _models = new(StringComparer.OrdinalIgnoreCase);
    private volatile bool _isReady;
    private string? _failure;

    private readonly FrameAllocator _allocator;
    private readonly StreamingMetrics _metrics;

    public ModelHost(IOptions<StreamingOptions> options, HealthServiceImpl health, ILogger<ModelHost> logger, FrameAllocator allocator, StreamingMetrics metrics)
    {
        _allocator = allocator;
        _metrics = metrics;
        metrics.ObserveMemory(allocator);
        _options = options.Value;
        Runs = new RunGate(options);
        _health = health;
        _logger = logger;
        SetHealth(HealthCheckResponse.Types.ServingStatus.NotServing);
    }

    /// <summary>
    /// Bounds the pixels in large model runs at once; every run (a plan's first run included) enters it through
    /// <see cref="EnterRunAsync(long, CancellationToken)"/>, which also reserves the run's working memory in the budget.
    /// </summary>
    public RunGate Runs { get; }

    /// <summary>
    /// Admits a model run of <paramref name="pixels"/> (at the tensor size): waits for room among the large runs in
    /// <see cref="Runs"/>, then reserves the run's working memory (<see cref="StreamingOptions.RunBytesPerPixel"/> per
    /// pixel) in the memory budget, evicting idle cached plans when it does not fit. Frames, plans and ONNX Runtime's
    /// working memory so share one budget. While other runs hold reservations, a run that does not fit waits for one of
    /// them to finish instead of failing. Dispose the lease when the run is done.
    /// </summary>
    /// <exception cref="FrameBudgetException">The run does not fit beside the memory other calls hold, with no run in flight.</exception>
    public async ValueTask<IDisposable> EnterRunAsync(long pixels, CancellationToken cancellationToken)
    {
        var gate = await Runs.EnterAsync(pixels, cancellationToken).ConfigureAwait(false);
        try
        {
            long bytes = pixels * _options.RunBytesPerPixel;
            return new RunLease(this, gate, await WithinBudgetAsync(_ => ValueTask.FromResult(_allocator.Reserve(bytes)), cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            gate.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <see cref="EnterRunAsync(long, CancellationToken)"/>, then <paramref name="prepare"/> inside the run (a plan for it,
    /// whose first run is a run too). When the preparation does not fit in the budget while other runs hold memory, the
    /// run is left, and entered again once one of them has ended: a waiting run holds no reservation, so runs cannot
    /// wait for each other in a circle. Dispose the returned run when done.
    /// </summary>
    /// <exception cref="FrameBudgetException">It does not fit even with no other run in flight.</exception>
    public async ValueTask<(IDisposable Run, T Prepared)> EnterRunAsync<T>(long pixels, Func<T> prepare, CancellationToken cancellationToken)
    {
        var room = new RoomWaiter(this);
        while (true)
        {
            var run = await EnterRunAsync(pixels, cancellationToken).ConfigureAwait(false);
            try
            {
                return (run, prepare());
            }
            catch (FrameBudgetException e)
            {
                run.Dispose();
                await room.WaitOrThrowAsync(e, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                run.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="allocate"/> under the budget: idle cached plans are given back first (<see cref="WithinBudget{T}"/>),
    /// and while runs in flight hold memory the caller waits for one of them to end and tries again. The caller must hold
    /// no run of its own (a run waiting for another that waits for it would wait for good).
    /// </summary>
    /// <exception cref="FrameBudgetException">It does not fit even with no run in flight.</exception>
    public async ValueTask<T> WithinBudgetAsync<T>(Func<CancellationToken, ValueTask<T>> allocate, CancellationToken cancellationToken)
    {
        var room = new RoomWaiter(this);
        while (true)
        {
            try
            {
                return await WithinBudgetAsyncOnce(allocate, cancellationToken).ConfigureAwait(false);
            }
            catch (FrameBudgetException e)
            {
                await room.WaitOrThrowAsync(e, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// One caller's wait for memory held by runs in flight. The next run end is noted before every try (at creation and
    /// after each wait), so an end between a failed try and the wait is not missed; with no run in flight the caller
    /// tries once more, then the budget error stands.
    /// </summary>
    private sealed class RoomWaiter(ModelHost host)
    {
        private Task _nextRunEnd = Volatile.Read(ref host._runReleased).Task;
        private bool _retriedIdle;

        /// <summary>Call when a try failed with <paramref name="error"/>: waits for a run to end, or rethrows it.</summary>
        public async Task WaitOrThrowAsync(FrameBudgetException error, CancellationToken cancellationToken)
        {
            if (Interlocked.Read(ref host._runsReserved) > 0 || _nextRunEnd.IsCompleted)
            {
                Interlocked.Increment(ref host._runsWaitedForMemory);
                host._metrics.RunWaitedForMemory();
                await _nextRunEnd.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            else if (!_retriedIdle)
            {
                _retriedIdle = true; // what was in the way has just ended: once more
            }
            else
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
            }

            _nextRunEnd = Volatile.Read(ref host._runReleased).Task;
        }
    }

    /// <summary>Times a call waited for memory held by the runs in flight (a reservation, a plan or a frame that did not fit yet).</summary>
    public long RunsWaitedForMemory => Interlocked.Read(ref _runsWaitedForMemory);

    internal void RunReserved() => Interlocked.Increment(ref _runsReserved);

    internal void RunEnded()
    {
        Interlocked.Decrement(ref _runsReserved);
        Interlocked.Exchange(ref _runReleased, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
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

    /// <summary>Plans for single images currently cached.</summary>
    public int CachedPlans
    {
        get
        {
            lock (_plansGate)
            {
                return _plans.Count;
            }
        }
    }

    /// <summary>Cached plans disposed since start to make room (count limit or memory budget).</summary>
    public long PlansEvicted => Interlocked.Read(ref _plansEvicted);

    /// <summary>
    /// A shared plan for single images of one size, held until the lease is disposed. Plans are thread safe per slot.
    /// The cache keeps at most 16 plans and gives memory back under the frame budget: the least recently used plans no
    /// call is using are disposed when the count is exceeded or an allocation would exceed the budget (<see cref="WithinBudget{T}"/>).
    /// </summary>
    public PlanLease RentPlan(LoadedModel model, int width, int height, int tensorWidth, int tensorHeight)
    {
        var key = (model.Name, width, height, tensorWidth, tensorHeight);
        lock (_plansGate)
        {
            if (_plans.TryGetValue(key, out var node))
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                node.Value.Users++;
                return new PlanLease(this, node.Value);
            }
        }

        // Created outside the lock: it allocates tensors and runs the model once.
        var plan = WithinBudget(() => model.Stylizer.CreatePlan(width, height, tensorWidth, tensorHeight, slots: 2, _allocator));
        CachedPlan entry;
        StylizerPlan? duplicate = null;
        var evicted = new List<StylizerPlan>();
        lock (_plansGate)
        {
            if (_plans.TryGetValue(key, out var raced))
            {
                // Another call of the same size created one meanwhile: use that, drop ours.
                duplicate = plan;
                entry = raced.Value;
                _recent.Remove(raced);
                _recent.AddFirst(raced);
            }
            else
            {
                entry = new CachedPlan(key, plan);
                _plans[key] = _recent.AddFirst(entry);
                while (_plans.Count > MaxCachedPlans && EvictOneLocked() is { } old)
                {
                    evicted.Add(old);
                }
            }

            entry.Users++;
        }

        duplicate?.Dispose();
        evicted.ForEach(p => p.Dispose());
        return new PlanLease(this, entry);
    }

    /// <summary>
    /// Runs <paramref name="allocate"/>; when it fails because the frame memory budget is spent, disposes the least
    /// recently used idle cached plan and tries again, until it succeeds or no idle plan is left (then the
    /// <see cref="FrameBudgetException"/> stands: RESOURCE_EXHAUSTED for the call).
    /// </summary>
    public T WithinBudget<T>(Func<T> allocate)
    {
        var giveBack = new GiveBack(this);
        try
        {
            while (true)
            {
                try
                {
                    return allocate();
                }
                catch (FrameBudgetException)
                {
                    if (!giveBack.EvictOne())
                    {
                        throw;
                    }
                }
            }
        }
        finally
        {
            giveBack.Complete();
        }
    }

    private async ValueTask<T> WithinBudgetAsyncOnce<T>(Func<CancellationToken, ValueTask<T>> allocate, CancellationToken cancellationToken)
    {
        var giveBack = new GiveBack(this);
        try
        {
            while (true)
            {
                try
                {
                    return await allocate(cancellationToken).ConfigureAwait(false);
                }
                catch (FrameBudgetException)
                {
                    if (!giveBack.EvictOne())
                    {
                        throw;
                    }
                }
            }
        }
        finally
        {
            giveBack.Complete();
        }
    }

    /// <summary>
    /// What one budgeted allocation gave back: <see cref="EvictOne"/> disposes the least recently used idle cached plan and
    /// drops the kept buffers; <see cref="Complete"/> then hands the garbage to the system (<see cref="GiveBackDroppedMemory"/>)
    /// when plans were evicted or enough kept buffers were dropped on the way.
    /// </summary>
    private struct GiveBack(ModelHost host)
    {
        private readonly long _droppedBefore = (host._allocator as PooledFrameAllocator)?.BytesDropped ?? 0;
        private bool _evicted;

        public bool EvictOne()
        {
            StylizerPlan? evicted;
            lock (host._plansGate)
            {
                evicted = host.EvictOneLocked();
            }

            if (evicted is null)
            {
                return false;
            }

            _evicted = true;
            evicted.Dispose();
            (host._allocator as PooledFrameAllocator)?.Trim();
            return true;
        }

        public readonly void Complete()
        {
            long dropped = ((host._allocator as PooledFrameAllocator)?.BytesDropped ?? 0) - _droppedBefore;
            if (_evicted || dropped >= DecommitThresholdBytes)
            {
                host.GiveBackDroppedMemory();
            }
        }
    }

    /// <summary>Dropped buffers of at least this many bytes are given back to the system at once (<see cref="GiveBackDroppedMemory"/>).</summary>
    private const long DecommitThresholdBytes = 64L << 20;

    /// <summary>
    /// Dropped buffers and evicted plans are garbage the GC keeps committed until a full collection; a run that
    /// reserved their room would otherwise add its working memory on top of them, and RSS would rise above the budget
    /// by that much. A blocking aggressive collection gives their pages back first (a few ms: the heap is mostly
    /// pinned pixel arrays, which are not moved).
    /// </summary>
    private void GiveBackDroppedMemory()
    {
        long started = Stopwatch.GetTimestamp();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        Interlocked.Increment(ref _memoryGivenBack);
        _metrics.MemoryGivenBack();
        Log.MemoryGivenBack(_logger, Stopwatch.GetElapsedTime(started).TotalMilliseconds, GC.GetGCMemoryInfo().TotalCommittedBytes >> 20);
    }

    /// <summary>Full collections made to give dropped frame memory back (<see cref="GiveBackDroppedMemory"/>).</summary>
    public long MemoryGivenBack => Interlocked.Read(ref _memoryGivenBack);

    /// <summary>Removes the least recently used plan no call is using; the caller disposes it outside the lock.</summary>
    private StylizerPlan? EvictOneLocked()
    {
        for (var node = _recent.Last; node is not null; node = node.Previous)
        {
            if (node.Value.Users == 0)
            {
                _recent.Remove(node);
                _plans.Remove(node.Value.Key);
                Interlocked.Increment(ref _plansEvicted);
                Log.PlanEvicted(_logger, node.Value.Key.Model, node.Value.Key.W, node.Value.Key.H, _plans.Count);
                return node.Value.Plan;
            }
        }

        return null;
    }

    internal void ReleasePlan(CachedPlan entry)
    {
        lock (_plansGate)
        {
            entry.Users--;
        }
    }

    public void Dispose()
    {
        lock (_plansGate)
        {
            foreach (var entry in _recent)
            {
                entry.Plan.Dispose();
            }

            _recent.Clear();
            _plans.Clear();
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
            // Each model's int8 variant, when it has one, is served as well, under NAME:int8.
            var int8 = catalog.Models.Where(m => m.Int8 is not null).Select(m => catalog.Find(m.Name + ModelCatalog.Int8Suffix));
            foreach (var manifest in catalog.Models.Concat(int8))
            {
                try
                {
                    var stylizerOptions = new StylizerOptions
                    {
                        Device = _options.Device,
                        IntraOpThreads = _options.IntraOpThreads,
                        ReleaseRunMemory = true,
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

/// <summary>A cached single-image plan and how many calls are using it (guarded by the host's lock).</summary>
internal sealed class CachedPlan((string Model, int W, int H, int TW, int TH) key, StylizerPlan plan)
{
    public (string Model, int W, int H, int TW, int TH) Key { get; } = key;

    public StylizerPlan Plan { get; } = plan;

    public int Users { get; set; }
}

/// <summary>A run admitted by <see cref="ModelHost.EnterRunAsync"/>: its place among the runs and its memory reservation.</summary>
internal sealed class RunLease : IDisposable
{
    private ModelHost? _host;
    private readonly IDisposable _gate;
    private readonly IDisposable _reservation;

    internal RunLease(ModelHost host, IDisposable gate, IDisposable reservation)
    {
        _host = host;
        _gate = gate;
        _reservation = reservation;
        host.RunReserved();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _host, null) is { } host)
        {
            _reservation.Dispose();
            _gate.Dispose();
            host.RunEnded();
        }
    }
}

/// <summary>A call's hold on a cached plan: while held the plan is not evicted; dispose once the call is done with it.</summary>
internal sealed class PlanLease : IDisposable
{
    private ModelHost? _host;
    private readonly CachedPlan _entry;

    internal PlanLease(ModelHost host, CachedPlan entry)
    {
        _host = host;
        _entry = entry;
    }

    public StylizerPlan Plan => _entry.Plan;

    public void Dispose()
    {
        _host?.ReleasePlan(_entry);
        _host = null;
    }
}
