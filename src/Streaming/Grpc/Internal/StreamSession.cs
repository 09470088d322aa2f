using System.Diagnostics;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Video.Capture;
using Video.Inference;
using Video.Inference.Batching;
using Video.Inference.Temporal;
using Video.Streaming.Protos.V1;
using Frame = Video.Capture.Frame;
using ProtoFrame = Video.Streaming.Protos.V1.Frame;

namespace Video.Streaming.Grpc.Internal;

/// <summary>
/// One <c>StylizeStream</c> call: a read loop (parse and decode into pooled frames), an inference loop and the
/// one write loop, linked by bounded channels under one cancellation token and joined with <c>Task.WhenAll</c>.
/// </summary>
/// <remarks>
/// Under <see cref="Policy.Latest"/> the input queue drops its oldest frame (disposing it and counting the
/// drop); under <see cref="Policy.All"/> the read loop waits, which stops reading the request stream and so
/// pushes back on the client through HTTP/2 flow control. Each loop completes its output channel in
/// <c>finally</c> (with the exception when it failed). Not thread safe; used by one call.
/// </remarks>
internal sealed class StreamSession
{
    private const int MaxPlans = 4;
    private static long _nextId;

    private readonly SessionConfigResolver _resolver;
    private readonly StreamingOptions _options;
    private readonly StreamingMetrics _metrics;
    private readonly FrameAllocator _allocator;
    private readonly ILogger _logger;
    private readonly string _peer;
    private readonly Dictionary<(string Model, int W, int H, int TW, int TH), PlanEntry> _plans = new();
    private readonly List<FramePool> _pools = [];
    private readonly BatchItem _batchItem = new();
    private Channel<WorkItem> _input = null!;
    private Channel<Outgoing> _output = null!;
    private FramePool? _pool;
    private TemporalFilter? _filter;
    private long _framesIn;
    private long _framesOut;
    private long _dropped;

    public StreamSession(SessionConfigResolver resolver, StreamingOptions options, StreamingMetrics metrics, FrameAllocator allocator, ILogger logger, string peer, string? pushId = null)
    {
        PushId = pushId;
        _allocator = allocator;
        _resolver = resolver;
        _options = options;
        _metrics = metrics;
        _logger = logger;
        _peer = peer;
        Id = Interlocked.Increment(ref _nextId);
    }

    public long Id { get; }

    /// <summary>The id <c>PushSession</c> takes when the session was opened by <c>OpenSession</c>; null for <c>StylizeStream</c>.</summary>
    public string? PushId { get; }

    public long FramesIn => _framesIn;

    public long FramesOut => _framesOut;

    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Runs the call to its end; throws <see cref="StreamingException"/> (or another domain exception) when it fails.</summary>
    /// <param name="requests">The call's request stream.</param>
    /// <param name="responses">The call's response stream; only the write loop writes it.</param>
    /// <param name="callToken">The call's own token (cancelled when the client goes away).</param>
    /// <param name="abortCall">
    /// Resets the call's HTTP/2 stream; used when a reply is not taken within <see cref="StreamingOptions.WriteTimeout"/>,
    /// because a write stuck on flow control can end no other way.
    /// </param>
    public async Task RunAsync(IAsyncStreamReader<StreamRequest> requests, IServerStreamWriter<StreamResponse> responses, CancellationToken callToken, Action? abortCall = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(callToken);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);

        var first = await ReadNextAsync(requests, idle, cts.Token).ConfigureAwait(false)
            ?? throw new StreamingException(StreamingError.OutOfOrder, "the stream ended before its first message: send a SessionConfig first");
        if (first.KindCase != StreamRequest.KindOneofCase.Config)
        {
            throw new StreamingException(StreamingError.OutOfOrder, first.KindCase == StreamRequest.KindOneofCase.Frame
                ? "a frame arrived before any SessionConfig: the first message of a stream must be a config"
                : "the first message is empty: send a SessionConfig first");
        }

        var settings = _resolver.Resolve(first.Config, null);
        _input = settings.Policy == Policy.Latest
            ? Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(settings.QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true }, OnDropped)
            : Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(settings.QueueCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        _output = Channel.CreateBounded<Outgoing>(new BoundedChannelOptions(4) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
        _output.Writer.TryWrite(new Outgoing(Applied(settings), null));
        Log.StreamStarted(_logger, Id, _peer, settings.Model.Name, settings.Policy.ToString(), settings.QueueCapacity);

        var read = Task.Run(() => ReadLoopAsync(requests, idle, settings, cts), CancellationToken.None);
        var infer = Task.Run(() => InferLoopAsync(cts), CancellationToken.None);
        var write = WriteLoopAsync(responses, cts, callToken, abortCall);
        try
        {
            // The cause, not the cancellations and closed channels it caused in the other loops.
            await TaskJoin.WhenAllAsync([read, infer, write]).ConfigureAwait(false);
        }
        catch (Exception) when (callToken.IsCancellationRequested)
        {
            // The client went away; nothing to report to it.
        }
        finally
        {
            Cleanup();
            Log.StreamEnded(_logger, Id, _framesIn, _framesOut, Dropped);
        }
    }

    private async Task ReadLoopAsync(IAsyncStreamReader<StreamRequest> requests, CancellationTokenSource idle, SessionSettings settings, CancellationTokenSource cts)
    {
        var ct = cts.Token;
        try
        {
            while (await ReadNextAsync(requests, idle, ct).ConfigureAwait(false) is { } message)
            {
                switch (message.KindCase)
                {
                    case StreamRequest.KindOneofCase.Config:
                        settings = _resolver.Resolve(message.Config, settings);
                        Log.ConfigApplied(_logger, Id, settings.Model.Name, settings.Version);
                        await _output.Writer.WriteAsync(new Outgoing(Applied(settings), null), ct).ConfigureAwait(false);
                        break;
                    case StreamRequest.KindOneofCase.Frame:
                        await AcceptAsync(message.Frame, settings, ct).ConfigureAwait(false);
                        break;
                    default:
                        throw new StreamingException(StreamingError.InvalidInput, "a StreamRequest carries neither a config nor a frame");
                }
            }

            _input.Writer.TryComplete();
        }
        catch (Exception e)
        {
            _input.Writer.TryComplete(e);
            await cts.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<StreamRequest?> ReadNextAsync(IAsyncStreamReader<StreamRequest> requests, CancellationTokenSource idle, CancellationToken ct)
    {
        idle.CancelAfter(_options.IdleTimeout);
        try
        {
            return await requests.MoveNext(idle.Token).ConfigureAwait(false) ? requests.Current : null;
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled } && idle.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new StreamingException(StreamingError.Idle, $"no message for {_options.IdleTimeout.TotalSeconds:0.#} s: the stream was closed as idle");
        }
        finally
        {
            idle.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    private async ValueTask AcceptAsync(ProtoFrame message, SessionSettings settings, CancellationToken ct)
    {
        using var image = ImageCodec.Parse(message.Image, $"frame {message.Sequence}", _options.MaxFrameWidth, _options.MaxFrameHeight);
        var pool = PoolFor(image.Width, image.Height, settings);
        // A new frame of the pool may not fit in the budget while runs hold memory: wait for one of them, do not fail.
        var frame = await _resolver.Models.WithinBudgetAsync(pool.RentAsync, ct).ConfigureAwait(false);
        try
        {
            ImageCodec.CopyTo(image, frame);
        }
        catch
        {
            frame.Dispose();
            throw;
        }

        frame.Index = (long)message.Sequence;
        var item = new WorkItem(frame, settings, message.Pts, message.Sequence, image.Source.Encoding, Stopwatch.GetTimestamp());
        _framesIn++;
        _metrics.FrameIn(settings.Model.Name);
        _metrics.Queued(1);
        try
        {
            // Under DropOldest this never waits; under Wait it is the backpressure.
            await _input.Writer.WriteAsync(item, ct).ConfigureAwait(false);
        }
        catch
        {
            _metrics.Queued(-1);
            frame.Dispose();
            throw;
        }
    }

    private async Task InferLoopAsync(CancellationTokenSource cts)
    {
        var ct = cts.Token;
        try
        {
            while (await _input.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                while (_input.Reader.TryRead(out var item))
                {
                    _metrics.Queued(-1);
                    StreamResponse response;
                    PixelBuffer<byte>? rented = null;
                    double queueMs, inferMs, totalMs;
                    int batchSize = 1;
                    using (item.Frame)
                    {
                        var frame = item.Frame;
                        var (tw, th) = item.Settings.Model.Stylizer.InferenceSize(frame.Width, frame.Height, item.Settings.InferenceSize);
                        long started, inferred;
                        // Waiting for room among the runs in flight counts as queue time; the plan's first run is a run too.
                        var (run, entry) = await _resolver.Models.EnterRunAsync((long)tw * th, () => PlanFor(item.Settings, frame.Width, frame.Height), ct).ConfigureAwait(false);
                        using (run)
                        {
                            started = Stopwatch.GetTimestamp();
                            var plan = entry.Plan;
                            var filter = FilterFor(item.Settings.Temporal, frame.Width, frame.Height);
                            filter?.ObserveInput(frame);
                            var lane = entry.Batcher is { } batcher ? new BatchLane(batcher, _batchItem) : (BatchLane?)null;
                            batchSize = await plan.StylizeAsync(frame, lane, ct).ConfigureAwait(false);
                            filter?.Apply(frame);
                            inferred = Stopwatch.GetTimestamp();
                        }

                        var encoding = ImageCodec.ResponseEncoding(item.Settings.OutputEncoding, item.InputEncoding);
                        var image = encoding == Encoding.Rgb24
                            ? ImageCodec.EncodeRgb24Pooled(frame, _allocator, out rented)
                            : ImageCodec.Encode(frame, encoding, item.Settings.JpegQuality);
                        long done = Stopwatch.GetTimestamp();
                        queueMs = Stopwatch.GetElapsedTime(item.Arrived, started).TotalMilliseconds;
                        inferMs = Stopwatch.GetElapsedTime(started, inferred).TotalMilliseconds;
                        totalMs = Stopwatch.GetElapsedTime(item.Arrived, done).TotalMilliseconds;
                        response = new StreamResponse
                        {
                            Frame = new StylizedFrame
                            {
                                Pts = item.Pts,
                                Sequence = item.Sequence,
                                Image = image,
                                Model = item.Settings.Model.Name,
                                DroppedTotal = (ulong)Dropped,
                                Timings = new Timings { QueueMs = queueMs, InferenceMs = inferMs, TotalMs = totalMs, BatchSize = (uint)batchSize },
                            },
                        };
                    }

                    _metrics.FrameOut(item.Settings.Model.Name, queueMs, inferMs, totalMs, batchSize);
                    try
                    {
                        await _output.Writer.WriteAsync(new Outgoing(response, rented), ct).ConfigureAwait(false);
                    }
                    catch
                    {
                        Return(rented);
                        throw;
                    }
                }
            }

            _output.Writer.TryComplete();
        }
        catch (Exception e)
        {
            _output.Writer.TryComplete(e);
            await cts.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task WriteLoopAsync(IServerStreamWriter<StreamResponse> responses, CancellationTokenSource cts, CancellationToken callToken, Action? abortCall)
    {
        try
        {
            await foreach (var (response, rented) in _output.Reader.ReadAllAsync(cts.Token).ConfigureAwait(false))
            {
                // Only the call's own token may interrupt a write: cancelling a write half way aborts the HTTP/2
                // stream, and the client would see Cancelled instead of the status another loop failed with.
                try
                {
                    // The message is serialized before the write completes, so the pixel buffer can go back then.
                    var written = responses.WriteAsync(response, callToken);
                    if (!written.IsCompleted)
                    {
                        await WaitWrittenAsync(written, callToken, abortCall).ConfigureAwait(false);
                    }
                    else
                    {
                        await written.ConfigureAwait(false);
                    }
                }
                finally
                {
                    Return(rented);
                }

                if (response.KindCase == StreamResponse.KindOneofCase.Frame)
                {
                    _framesOut++;
                }
            }
        }
        catch
        {
            await cts.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Waits for a reply's write under <see cref="StreamingOptions.WriteTimeout"/>. A write that does not finish in
    /// time means the client is not reading: the call is aborted (which also ends the pending write) and the stream fails.
    /// </summary>
    private async Task WaitWrittenAsync(Task written, CancellationToken callToken, Action? abortCall)
    {
        try
        {
            await written.WaitAsync(_options.WriteTimeout, callToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.RepliesNotRead(_logger, Id, _peer, _options.WriteTimeout.TotalSeconds);
            _metrics.StreamStalled();
            _ = written.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            abortCall?.Invoke();
            throw new StreamingException(StreamingError.Idle, $"a reply was not read for {_options.WriteTimeout.TotalSeconds:0.#} s: the stream was closed (read the replies, or use POLICY_LATEST)");
        }
    }

    private void OnDropped(WorkItem item)
    {
        item.Frame.Dispose();
        Interlocked.Increment(ref _dropped);
        _metrics.Queued(-1);
        _metrics.FrameDropped();
    }

    private FramePool PoolFor(int width, int height, SessionSettings settings)
    {
        if (_pool is { } pool && pool.Width == width && pool.Height == height)
        {
            return pool;
        }

        // A size change starts a new pool; retired pools are kept until their frames come back.
        _pools.RemoveAll(p =>
        {
            if (p.Outstanding == 0)
            {
                p.Dispose();
                return true;
            }

            return false;
        });

        // Enough for the queue, the frame being decoded, the one being stylized and one spare, so that
        // POLICY_LATEST never waits for a frame.
        _pool = _allocator.CreatePool(width, height, PixelFormat.Rgb24, settings.QueueCapacity + 3);
        _pools.Add(_pool);
        return _pool;
    }

    private PlanEntry PlanFor(SessionSettings settings, int width, int height)
    {
        var model = settings.Model;
        var (tw, th) = model.Stylizer.InferenceSize(width, height, settings.InferenceSize);
        var key = (model.Name, width, height, tw, th);
        if (!_plans.TryGetValue(key, out var entry))
        {
            if (_plans.Count >= MaxPlans)
            {
                // Only this loop uses the plans, so none is in use here.
                var evict = _plans.First();
                evict.Value.Dispose();
                _plans.Remove(evict.Key);
            }

            // Under the frame budget, idle cached plans of unary calls give their memory back first.
            entry = new PlanEntry(_resolver.Models.WithinBudget(() => model.Stylizer.CreatePlan(width, height, tw, th, slots: 1, _allocator)));
            _plans[key] = entry;
        }

        // A plan holds its own style statistics and α: set them when this frame's settings differ from the last.
        if (settings.Style is { } style && !ReferenceEquals(entry.Applied, settings))
        {
            entry.Plan.SetStyle(style.Statistics, settings.Alpha);
            entry.Applied = settings;
        }

        // Frames batch with other streams' frames of the same model, tensor size, style and α.
        if (model.Batched is { } batched)
        {
            var statistics = settings.Style?.Statistics;
            float alpha = statistics is null ? 1f : settings.Alpha;
            if (entry.Batcher is null || !ReferenceEquals(entry.BatchStyle, statistics) || entry.BatchAlpha != alpha)
            {
                entry.DetachBatcher();
                entry.AttachBatcher(batched, tw, th, statistics, alpha);
            }
        }

        return entry;
    }

    private TemporalFilter? FilterFor(TemporalOptions options, int width, int height)
    {
        if (_filter is { } f && f.Width == width && f.Height == height && f.Options == options)
        {
            return f;
        }

        _filter?.Dispose();
        _filter = options.Mode == Inference.Temporal.TemporalMode.Off ? null : new TemporalFilter(width, height, options);
        return _filter;
    }

    private static void Return(PixelBuffer<byte>? rented) => rented?.Dispose();

    private void Cleanup()
    {
        while (_output?.Reader.TryRead(out var outgoing) == true)
        {
            Return(outgoing.Rented);
        }

        while (_input?.Reader.TryRead(out var item) == true)
        {
            _metrics.Queued(-1);
            item.Frame.Dispose();
        }

        foreach (var entry in _plans.Values)
        {
            entry.Dispose();
        }

        _plans.Clear();
        _filter?.Dispose();
        _filter = null;
        int leaked = _pools.Sum(p => p.Outstanding);
        if (leaked > 0)
        {
            _metrics.Leaked(leaked);
            Log.FramesLeaked(_logger, Id, leaked);
        }

        foreach (var pool in _pools)
        {
            pool.Dispose();
        }

        _pools.Clear();
    }

    private StreamResponse Applied(SessionSettings s) => new()
    {
        ConfigApplied = new ConfigApplied
        {
            Model = s.Model.Name,
            Device = s.Model.Stylizer.DeviceName,
            Policy = s.Policy,
            QueueCapacity = (uint)s.QueueCapacity,
            Version = (uint)s.Version,
            SessionId = PushId ?? string.Empty,
        },
    };

    private sealed class PlanEntry(StylizerPlan plan) : IDisposable
    {
        private BatchedModel? _batched;

        public StylizerPlan Plan { get; } = plan;

        public SessionSettings? Applied { get; set; }

        /// <summary>The cross-stream batcher this stream's frames of this plan go through; null = frame by frame.</summary>
        public InferenceBatcher? Batcher { get; private set; }

        public StyleStatistics? BatchStyle { get; private set; }

        public float BatchAlpha { get; private set; }

        public void AttachBatcher(BatchedModel batched, int tensorWidth, int tensorHeight, StyleStatistics? style, float alpha)
        {
            Batcher = batched.Attach(tensorWidth, tensorHeight, style, alpha);
            _batched = batched;
            BatchStyle = style;
            BatchAlpha = alpha;
        }

        public void DetachBatcher()
        {
            if (Batcher is not null)
            {
                _batched!.Detach(Batcher);
                Batcher = null;
            }
        }

        public void Dispose()
        {
            DetachBatcher();
            Plan.Dispose();
        }
    }

    /// <summary>A response and the pooled buffer its image wraps (returned once written).</summary>
    private readonly record struct Outgoing(StreamResponse Response, PixelBuffer<byte>? Rented);

    private readonly record struct WorkItem(Frame Frame, SessionSettings Settings, long Pts, ulong Sequence, Encoding InputEncoding, long Arrived);
}
