using System.Diagnostics.Metrics;

namespace Video.Streaming.Grpc;

/// <summary>
/// The server's one <see cref="Meter"/> (<c>Video.Streaming</c>): frames in/out/dropped, queue depth, latency
/// histograms and active streams; exported for Prometheus at <c>/metrics</c>.
/// </summary>
/// <remarks>
/// Thread safe. Also keeps plain counters (<see cref="ActiveStreams"/>, <see cref="QueueDepth"/>,
/// <see cref="FramesLeaked"/>) that tests and the health of a running server can read without an exporter.
/// </remarks>
internal sealed class StreamingMetrics : IDisposable
{
    public const string MeterName = "Video.Streaming";

    private readonly Meter _meter;
    private readonly Counter<long> _framesIn;
    private readonly Counter<long> _framesOut;
    private readonly Counter<long> _framesDropped;
    private readonly Histogram<double> _queueMs;
    private readonly Histogram<double> _inferenceMs;
    private readonly Histogram<double> _totalMs;
    private readonly UpDownCounter<long> _activeStreams;
    private readonly Histogram<int> _batchSize;
    private long _active;
    private long _queued;
    private long _leaked;
    private long _sessionsOpened;
    private long _stalled;
    private long _authFailures;
    private readonly Counter<long> _stalledCounter;
    private readonly Counter<long> _authFailuresCounter;
    private readonly Counter<long> _memoryGivenBack;
    private readonly Counter<long> _runMemoryWaits;

    public StreamingMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _framesIn = _meter.CreateCounter<long>("video.stream.frames.in", "{frame}", "Frames received on streams");
        _framesOut = _meter.CreateCounter<long>("video.stream.frames.out", "{frame}", "Stylized frames sent on streams");
        _framesDropped = _meter.CreateCounter<long>("video.stream.frames.dropped", "{frame}", "Frames dropped by POLICY_LATEST queues");
        _queueMs = _meter.CreateHistogram<double>("video.stream.queue.duration", "ms", "Time a frame waited for inference");
        _inferenceMs = _meter.CreateHistogram<double>("video.stream.inference.duration", "ms", "Pre-processing, model and post-processing time per frame");
        _totalMs = _meter.CreateHistogram<double>("video.stream.total.duration", "ms", "Server time per frame from arrival to response");
        _batchSize = _meter.CreateHistogram<int>("video.stream.batch.size", "{frame}", "Frames (of all streams) in the model call that stylized a frame");
        _activeStreams = _meter.CreateUpDownCounter<long>("video.stream.active", "{stream}", "Open StylizeStream calls");
        _stalledCounter = _meter.CreateCounter<long>("video.stream.stalled", "{stream}", "Streams aborted because the client did not read its replies");
        _authFailuresCounter = _meter.CreateCounter<long>("video.auth.failures", "{call}", "Calls rejected for a missing or wrong API key (before their body was read)");
        _memoryGivenBack = _meter.CreateCounter<long>("video.memory.given_back", "{collection}", "Full collections that gave dropped frame memory back to the system before a run used its room");
        _runMemoryWaits = _meter.CreateCounter<long>("video.run.memory_waits", "{wait}", "Times a call waited for memory held by the model runs in flight to fit in the memory budget");
        _meter.CreateObservableGauge("video.stream.queue.depth", () => Volatile.Read(ref _queued), "{frame}", "Frames waiting for inference over all streams");
    }

    /// <summary>Open streams now.</summary>
    public long ActiveStreams => Volatile.Read(ref _active);

    /// <summary>Streams opened since start.</summary>
    public long StreamsOpened => Volatile.Read(ref _sessionsOpened);

    /// <summary>Frames waiting in stream queues now.</summary>
    public long QueueDepth => Volatile.Read(ref _queued);

    /// <summary>Frames that ended streams failed to return to their pools (should stay 0).</summary>
    public long FramesLeaked => Volatile.Read(ref _leaked);

    /// <summary>Streams aborted since start because their replies were not read (<see cref="StreamingOptions.WriteTimeout"/>).</summary>
    public long StreamsStalled => Volatile.Read(ref _stalled);

    /// <summary>Calls rejected since start for a missing or wrong API key.</summary>
    public long AuthFailures => Volatile.Read(ref _authFailures);

    /// <summary>Exports the memory budget's use: bytes held (frames, tensors and run reservations) and the runs' share.</summary>
    internal void ObserveMemory(Capture.FrameAllocator allocator)
    {
        _meter.CreateObservableGauge("video.memory.held", () => allocator.BytesRented, "By", "Bytes held in the memory budget: frames, tensors and the working memory reserved by the runs in flight");
        _meter.CreateObservableGauge("video.memory.budget", () => allocator.BudgetBytes, "By", "The memory budget (--frame-memory-mb)");
        if (allocator is Capture.PooledFrameAllocator pooled)
        {
            _meter.CreateObservableGauge("video.memory.run_reserved", () => pooled.BytesReserved, "By", "Working memory reserved by the model runs in flight");
        }
    }

    internal void MemoryGivenBack() => _memoryGivenBack.Add(1);

    internal void RunWaitedForMemory() => _runMemoryWaits.Add(1);

    internal void StreamStalled()
    {
        Interlocked.Increment(ref _stalled);
        _stalledCounter.Add(1);
    }

    internal void AuthFailed()
    {
        Interlocked.Increment(ref _authFailures);
        _authFailuresCounter.Add(1);
    }

    internal void StreamOpened()
    {
        Interlocked.Increment(ref _active);
        Interlocked.Increment(ref _sessionsOpened);
        _activeStreams.Add(1);
    }

    internal void StreamClosed()
    {
        Interlocked.Decrement(ref _active);
        _activeStreams.Add(-1);
    }

    internal void FrameIn(string model)
    {
        _framesIn.Add(1, new KeyValuePair<string, object?>("model", model));
    }

    internal void FrameOut(string model, double queueMs, double inferenceMs, double totalMs, int batchSize)
    {
        var tag = new KeyValuePair<string, object?>("model", model);
        _framesOut.Add(1, tag);
        _batchSize.Record(batchSize, tag);
        _queueMs.Record(queueMs, tag);
        _inferenceMs.Record(inferenceMs, tag);
        _totalMs.Record(totalMs, tag);
    }

    internal void FrameDropped() => _framesDropped.Add(1);

    internal void Queued(int delta) => Interlocked.Add(ref _queued, delta);

    internal void Leaked(int frames) => Interlocked.Add(ref _leaked, frames);

    public void Dispose() => _meter.Dispose();
}
