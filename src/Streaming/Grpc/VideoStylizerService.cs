using System.Diagnostics;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Video.Capture;
using Video.Inference;
using Video.Streaming.Grpc.Internal;
using Video.Streaming.Protos.V1;
using Frame = Video.Capture.Frame;

namespace Video.Streaming.Grpc;

/// <summary>
/// The <c>video.stylize.v1.VideoStylizer</c> service. This is the only layer that turns failures into
/// <see cref="RpcException"/>s: domain exceptions keep their one-line message and get a status chosen by kind.
/// </summary>
/// <remarks>Thread safe; one instance per call (the gRPC default), sharing the singletons it is given.</remarks>
internal sealed class VideoStylizerService : VideoStylizer.VideoStylizerBase
{
    private readonly ModelHost _models;
    private readonly SessionConfigResolver _resolver;
    private readonly StreamLimiter _limiter;
    private readonly StyleRegistry _styles;
    private readonly StreamingMetrics _metrics;
    private readonly StreamingOptions _options;
    private readonly ILogger<VideoStylizerService> _logger;
    private readonly FrameAllocator _allocator;
    private readonly PushSessionRegistry _sessions;

    public VideoStylizerService(
        ModelHost models,
        SessionConfigResolver resolver,
        StreamLimiter limiter,
        StyleRegistry styles,
        StreamingMetrics metrics,
        IOptions<StreamingOptions> options,
        ILogger<VideoStylizerService> logger,
        FrameAllocator allocator,
        PushSessionRegistry sessions)
    {
        _sessions = sessions;
        _allocator = allocator;
        _models = models;
        _resolver = resolver;
        _limiter = limiter;
        _styles = styles;
        _metrics = metrics;
        _options = options.Value;
        _logger = logger;
    }

    public override Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context) => Guard(nameof(ListModels), () =>
    {
        _models.Get(null);
        var response = new ListModelsResponse { Device = _models.Device, DefaultModel = _models.DefaultModel, BatchMax = (uint)_options.BatchMax, BatchDelayMs = _options.BatchDelay.TotalMilliseconds };
        foreach (var loaded in _models.Models)
        {
            var m = loaded.Manifest;
            var info = new ModelInfo
            {
                Name = m.Name,
                Family = m.Family.ToString(),
                Description = m.Description ?? string.Empty,
                InputName = m.Input.Name,
                InputLayout = m.Input.Layout.ToString(),
                ColorOrder = m.Input.ColorOrder.ToString(),
                SizeRule = m.Size.Mode == SizeMode.Fixed ? $"fixed {m.Size.Width}x{m.Size.Height}" : $"dynamic, multiple of {m.Size.MultipleOf}",
                NeedsStyle = loaded.NeedsStyle,
                Provenance = m.ProvenanceSummary(),
                MaxBatch = (uint)loaded.MaxBatch,
                BatchingNote = loaded.BatchingNote,
            };
            info.InputRange.AddRange(m.Input.Range);
            if (m.Adain is { } adain)
            {
                info.ExtraInputs.AddRange(adain.Statistics);
                info.ExtraInputs.Add(adain.AlphaInput);
            }

            response.Models.Add(info);
        }

        return Task.FromResult(response);
    });

    public override Task<RegisterStyleResponse> RegisterStyle(RegisterStyleRequest request, ServerCallContext context) => Guard(nameof(RegisterStyle), async () =>
    {
        _models.Get(null);
        var adain = _models.Models.Where(m => m.NeedsStyle).ToList();
        if (!string.IsNullOrEmpty(request.Model))
        {
            var named = _models.Get(request.Model);
            if (!named.NeedsStyle)
            {
                throw new StreamingException(StreamingError.OutOfOrder, $"model '{named.Name}' ({named.Manifest.Family}) takes no style; RegisterStyle is for AdaIN models");
            }
        }
        else if (adain.Count == 0)
        {
            throw new StreamingException(StreamingError.OutOfOrder, $"no AdaIN model is installed (installed: {string.Join(", ", _models.Models.Select(m => m.Name))}); RegisterStyle needs a model whose manifest has an 'adain' section");
        }

        using var lease = _limiter.Acquire(Client(context));
        var model = string.IsNullOrEmpty(request.Model) ? adain[0] : _models.Get(request.Model);
        using var image = ImageCodec.Parse(request.Image, "style image", _options.MaxFrameWidth, _options.MaxFrameHeight);
        using var frame = _models.WithinBudget(() => _allocator.AllocateFrame(image.Width, image.Height));
        ImageCodec.CopyTo(image, frame);

        // The id is a content hash: the same image for the same model is computed once and shared.
        var hash = System.Security.Cryptography.SHA256.HashData(frame.Pixels);
        string id = $"{model.Name.ToLowerInvariant()}-{Convert.ToHexStringLower(hash, 0, 8)}";
        // The style encoder's run (at most 512 px on the long side) counts in the memory budget like any other run.
        var (tw, th) = model.Stylizer.StyleTensorSize(frame.Width, frame.Height);
        StyleStatistics statistics;
        using (await _models.EnterRunAsync((long)tw * th, context.CancellationToken).ConfigureAwait(false))
        {
            statistics = model.Stylizer.EncodeStyle(frame);
        }

        var style = new RegisteredStyle(id, model.Name, statistics);
        _styles.Add(style);
        Log.StyleRegistered(_logger, id, model.Name);
        return new RegisterStyleResponse { StyleId = id, Model = model.Name };
    });

    public override Task<StylizeImageResponse> StylizeImage(StylizeImageRequest request, ServerCallContext context) => Guard(nameof(StylizeImage), async () =>
    {
        // A unary call takes a stream slot while it runs, so image calls count against the same limits.
        using var lease = _limiter.Acquire(Client(context));
        var settings = _resolver.Resolve(request.Config, null);
        long arrived = Stopwatch.GetTimestamp();
        using var image = ImageCodec.Parse(request.Image, "image", _options.MaxFrameWidth, _options.MaxFrameHeight);

        // Memory for a valid request first comes from cached plans nobody uses (least recently used first).
        using var frame = await _models.WithinBudgetAsync(_ => ValueTask.FromResult(_allocator.AllocateFrame(image.Width, image.Height)), context.CancellationToken).ConfigureAwait(false);
        ImageCodec.CopyTo(image, frame);
        var (tw, th) = settings.Model.Stylizer.InferenceSize(frame.Width, frame.Height, settings.InferenceSize);
        // The plan is made inside the run: its first run is a run too.
        var (run, (cached, plan)) = await _models.EnterRunAsync((long)tw * th, PlanForCall, context.CancellationToken).ConfigureAwait(false);
        using var runLease = run;
        using var cachedLease = cached;
        long started = Stopwatch.GetTimestamp();
        try
        {
            if (settings.Style is { } style)
            {
                // Styled plans hold per-call statistics, so they are never shared.
                plan.SetStyle(style.Statistics, settings.Alpha);
            }

            // Concurrent calls of one size share the cached plan; the call waits for a slot without blocking a thread.
            await plan.StylizeAsync(frame, lane: null, context.CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (cached is null)
            {
                plan.Dispose();
            }
        }

        long inferred = Stopwatch.GetTimestamp();
        var output = ImageCodec.Encode(frame, ImageCodec.ResponseEncoding(settings.OutputEncoding, image.Source.Encoding), settings.JpegQuality);
        return new StylizeImageResponse
        {
            Image = output,
            Model = settings.Model.Name,
            Timings = new Timings
            {
                QueueMs = Stopwatch.GetElapsedTime(arrived, started).TotalMilliseconds,
                InferenceMs = Stopwatch.GetElapsedTime(started, inferred).TotalMilliseconds,
                TotalMs = Stopwatch.GetElapsedTime(arrived).TotalMilliseconds,
                BatchSize = 1,
            },
        };

        // Styled plans hold per-call statistics, so they are never shared; the others come from the host's cache.
        (PlanLease? Cached, StylizerPlan Plan) PlanForCall()
        {
            if (settings.Style is not null)
            {
                return (null, _models.WithinBudget(() => settings.Model.Stylizer.CreatePlan(frame.Width, frame.Height, tw, th, slots: 1, _allocator)));
            }

            var shared = _models.RentPlan(settings.Model, frame.Width, frame.Height, tw, th);
            return (shared, shared.Plan);
        }
    });

    public override Task StylizeStream(IAsyncStreamReader<StreamRequest> requestStream, IServerStreamWriter<StreamResponse> responseStream, ServerCallContext context)
        => RunSessionAsync(requestStream, responseStream, context, pushId: null, nameof(StylizeStream));

    public override async Task OpenSession(OpenSessionRequest request, IServerStreamWriter<StreamResponse> responseStream, ServerCallContext context)
    {
        // The same session as StylizeStream; only its request stream differs: PushSession calls feed it.
        var requests = _sessions.Open(new StreamRequest { Config = request.Config ?? new SessionConfig() });
        try
        {
            await RunSessionAsync(requests, responseStream, context, requests.Id, nameof(OpenSession)).ConfigureAwait(false);
        }
        finally
        {
            _sessions.Close(requests);
        }
    }

    public override Task<PushSessionResponse> PushSession(PushSessionRequest request, ServerCallContext context) => Guard(nameof(PushSession), async () =>
    {
        if (request.Request is null && !request.EndOfStream)
        {
            throw new StreamingException(StreamingError.InvalidInput, "a PushSessionRequest carries nothing: set request, end_of_stream or both");
        }

        var session = _sessions.Find(request.SessionId)
            ?? throw new StreamingException(StreamingError.NotFound, $"no open session '{request.SessionId}': sessions come from OpenSession and end with its call");
        await session.PushAsync(request.Request, request.EndOfStream, context.CancellationToken).ConfigureAwait(false);
        return new PushSessionResponse();
    });

    /// <summary>Runs one stream session (StylizeStream, or OpenSession fed by PushSession) under a stream slot.</summary>
    private async Task RunSessionAsync(IAsyncStreamReader<StreamRequest> requestStream, IServerStreamWriter<StreamResponse> responseStream, ServerCallContext context, string? pushId, string method)
    {
        string client = Client(context);
        StreamSession? session = null;
        try
        {
            var lease = _limiter.Acquire(client);
            _metrics.StreamOpened();
            try
            {
                session = new StreamSession(_resolver, _options, _metrics, _allocator, _logger, client, pushId);
                await session.RunAsync(requestStream, responseStream, context.CancellationToken, context.GetHttpContext().Abort).ConfigureAwait(false);
            }
            finally
            {
                // The slot is free before the stream stops counting as active, so "active == n" implies n slots taken.
                lease.Dispose();
                _metrics.StreamClosed();
                if (session is not null)
                {
                    context.ResponseTrailers.Add("x-frames-in", session.FramesIn.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    context.ResponseTrailers.Add("x-frames-dropped", session.Dropped.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }
        catch (Exception e) when (e is not RpcException)
        {
            var rpc = ToRpc(e, method);
            if (session is not null)
            {
                Log.StreamFailed(_logger, session.Id, rpc.StatusCode.ToString(), rpc.Status.Detail);
            }

            throw rpc;
        }
    }

    /// <summary>Who a call counts against for the per-client limit: the remote IP address.</summary>
    private static string Client(ServerCallContext context) => context.GetHttpContext().Connection.RemoteIpAddress?.ToString() ?? context.Peer;

    /// <summary>The status for a failure: the one place where exceptions become gRPC statuses.</summary>
    internal static StatusCode StatusFor(Exception e) => e switch
    {
        StreamingException s => s.Error switch
        {
            StreamingError.InvalidInput => StatusCode.InvalidArgument,
            StreamingError.NotFound => StatusCode.NotFound,
            StreamingError.OutOfOrder => StatusCode.FailedPrecondition,
            StreamingError.LimitExceeded => StatusCode.ResourceExhausted,
            StreamingError.NotReady => StatusCode.Unavailable,
            StreamingError.Unsupported => StatusCode.Unimplemented,
            StreamingError.Idle => StatusCode.DeadlineExceeded,
            _ => StatusCode.Internal,
        },
        ModelException => StatusCode.InvalidArgument,
        FrameBudgetException => StatusCode.ResourceExhausted,
        VideoException => StatusCode.InvalidArgument,
        OperationCanceledException => StatusCode.Cancelled,
        _ => StatusCode.Internal,
    };

    private RpcException ToRpc(Exception e, string method)
    {
        var code = StatusFor(e);
        if (code == StatusCode.Internal)
        {
            Log.CallFailed(_logger, method, e);
            return new RpcException(new Status(code, $"internal error ({e.GetType().Name}); the server log has the details"));
        }

        if (code != StatusCode.Cancelled)
        {
            Log.CallRejected(_logger, method, code.ToString(), e.Message);
        }

        return new RpcException(new Status(code, code == StatusCode.Cancelled ? "cancelled" : e.Message));
    }

    private async Task<T> Guard<T>(string method, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw ToRpc(e, method);
        }
    }
}
