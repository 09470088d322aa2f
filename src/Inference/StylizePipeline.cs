using System.Diagnostics;
using System.Threading.Channels;
using Video.Capture;
using Video.Inference.Temporal;

namespace Video.Inference;

/// <summary>Counters a running pipeline updates and a progress display reads.</summary>
/// <remarks>Written by the pipeline's stages, read from any thread; values are eventually consistent.</remarks>
public sealed class PipelineStats
{
    internal long DecodeTicks;
    internal long PreprocessTicks;
    internal long InferTicks;
    internal long PostprocessTicks;
    internal long TemporalTicks;
    internal bool TemporalEnabled;
    internal long EncodeTicks;
    private long _framesOut;
    private long _framesDropped;

    /// <summary>Frames written to the sink.</summary>
    public long FramesOut => Interlocked.Read(ref _framesOut);

    /// <summary>Frames a live source produced that were dropped (the oldest waiting) because the pipeline was behind.</summary>
    public long FramesDropped => Interlocked.Read(ref _framesDropped);

    /// <summary>Frames the source is expected to produce, when known.</summary>
    public long? FramesExpected { get; internal set; }

    /// <summary>Wall time since the first frame was requested.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Frames per second over the whole run so far.</summary>
    public double Fps => Elapsed.TotalSeconds > 0 ? FramesOut / Elapsed.TotalSeconds : 0;

    /// <summary>Average milliseconds per frame spent in each stage (stages overlap, so they do not add up to wall time).</summary>
    public IReadOnlyList<(string Stage, double Milliseconds)> StageMilliseconds()
    {
        double n = Math.Max(1, FramesOut);
        double ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency / n;
        return
        [
            ("decode", ms(DecodeTicks)),
            ("preprocess", ms(PreprocessTicks)),
            ("infer", ms(InferTicks)),
            ("postprocess", ms(PostprocessTicks)),
            .. (TemporalEnabled ? [("temporal", ms(TemporalTicks))] : Array.Empty<(string, double)>()),
            ("encode", ms(EncodeTicks)),
        ];
    }

    private readonly Stopwatch _clock = new();

    internal void Start() => _clock.Start();

    internal void Stop() => _clock.Stop();

    internal void FrameOut() => Interlocked.Increment(ref _framesOut);

    internal void FrameDropped() => Interlocked.Increment(ref _framesDropped);
}

/// <summary>Pipeline tuning.</summary>
public sealed record PipelineOptions
{
    /// <summary>Capacity of each channel between stages (2–4 keeps latency low and all stages busy).</summary>
    public int ChannelCapacity { get; init; } = 3;

    /// <summary>Frames in the pool; bounds memory. Must exceed the frames that can sit in channels and stages.</summary>
    public int PoolFrames { get; init; } = 12;


    /// <summary>Inference size; null runs at the frame size (rounded to the model's multiple).</summary>
    public (int Width, int Height)? InferenceSize { get; init; }

    /// <summary>
    /// Frames inferred at once, each on its own thread, handed on in order. Two on a 2-core CPU, with the stylizer's
    /// session on one intra-op thread (<see cref="StylizerOptions.IntraOpThreads"/>), keep both cores on the model
    /// without the per-operator hand-offs between intra-op threads that the decoder and encoder interrupt.
    /// </summary>
    public int InferenceWorkers { get; init; } = 1;

    /// <summary>
    /// Frames in flight for a file pipeline on the CPU: two (each on half the cores, <see cref="IntraOpThreadsFor"/>) where
    /// there are at least two cores; <c>VIDEO_INFER_WORKERS</c> overrides it (1 runs one frame on every core). Side by side
    /// at 640×360 on 2 cores, two frames on one thread each ran the float models 1.2–1.4× faster end to end
    /// (docs/realtime.md).
    /// </summary>
    public static int CpuInferenceWorkers =>
        int.TryParse(Environment.GetEnvironmentVariable("VIDEO_INFER_WORKERS"), out int n) && n is >= 1 and <= 64 ? n : Math.Min(2, Environment.ProcessorCount);

    /// <summary>ONNX Runtime intra-op threads per frame with <paramref name="workers"/> frames in flight: the cores shared out (0, the runtime's choice, for one).</summary>
    public static int IntraOpThreadsFor(int workers) => workers <= 1 ? 0 : Math.Max(1, Environment.ProcessorCount / workers);

    /// <summary>Temporal filter run on each stylized frame before it is encoded (off by default).</summary>
    public TemporalOptions Temporal { get; init; } = TemporalOptions.Disabled;

    /// <summary>Style for models that take one (AdaIN): statistics from <see cref="Stylizer.EncodeStyle"/>, possibly mixed.</summary>
    public StyleStatistics? Style { get; init; }

    /// <summary>Content/style trade-off for AdaIN models: 0 keeps the content, 1 is full style.</summary>
    public float Alpha { get; init; } = 1f;

    /// <summary>Keep each frame's colours and take only the stylized luminance.</summary>
    public bool PreserveColor { get; init; }

    /// <summary>With an <see cref="InferenceSize"/> below the frame's, add the frame's own luma detail back to the regrown output (<see cref="StylizerPlan.RestoreDetail"/>).</summary>
    public bool RestoreDetail { get; init; }
}

/// <summary>
/// Decode → preprocess → infer → postprocess → encode, each stage on its own task, joined by bounded
/// channels. Frames come from one <see cref="FramePool"/> and tensors from the plan's slots, both backed by
/// the <see cref="FrameAllocator"/>, so a warm run allocates nothing per frame.
/// </summary>
/// <remarks>
/// Files never drop frames: a full channel makes the upstream stage wait. A live source
/// (<see cref="IFrameSource.IsLive"/>) must not wait, so when the decoded-frame channel is full its oldest
/// frame is dropped (disposed and counted in <see cref="PipelineStats.FramesDropped"/>). On failure or cancellation
/// every stage stops, frames still in channels are returned to the pool, and the sink is not completed
/// (so no output is published).
/// </remarks>
public sealed class StylizePipeline
{
    private readonly Stylizer _stylizer;
    private readonly PipelineOptions _options;
    private readonly FrameAllocator _allocator;

    /// <summary>A pipeline whose frames and tensors come from <paramref name="allocator"/> (<see cref="FrameAllocator.Default"/> when null).</summary>
    public StylizePipeline(Stylizer stylizer, PipelineOptions? options = null, FrameAllocator? allocator = null)
    {
        _stylizer = stylizer;
        _options = options ?? new PipelineOptions();
        _allocator = allocator ?? FrameAllocator.Default;
    }

    /// <summary>Stylizes every frame of <paramref name="source"/> into <paramref name="sink"/> and completes the sink.</summary>
    public async Task<PipelineStats> RunAsync(IFrameSource source, IFrameSink sink, PipelineStats? stats = null, CancellationToken cancellationToken = default)
    {
        stats ??= new PipelineStats();
        // A caller that runs several sources into one set of counters (a folder of photos) sets the total itself.
        stats.FramesExpected ??= source.Info.FrameCount;
        var info = source.Info;
        var (tw, th) = _stylizer.InferenceSize(info.Width, info.Height, _options.InferenceSize);
        // Tensors are large, so the two channels that carry them hold one item each; with one slot in the pre- and
        // postprocess stages and one per inference worker, preprocessing never waits for one.
        int workers = Math.Max(1, _options.InferenceWorkers);
        using var plan = _stylizer.CreatePlan(info.Width, info.Height, tw, th, slots: (2 * TensorChannelCapacity) + 2 + workers, _allocator);
        plan.PreserveColor = _options.PreserveColor;
        plan.RestoreDetail = _options.RestoreDetail;
        if (_stylizer.TakesStyle)
        {
            plan.SetStyle(_options.Style ?? throw new ModelException($"model '{_stylizer.Manifest.Name}' is an AdaIN model and needs a style (--style IMAGE)"), _options.Alpha);
        }

        // A live source must never wait for a frame: the pool then also covers every frame the stages, the
        // channels and the full decoded queue can hold, plus the one being decoded.
        int poolFrames = source.IsLive ? Math.Max(_options.PoolFrames, (2 * _options.ChannelCapacity) + 7) : _options.PoolFrames;
        using var pool = _allocator.CreatePool(info.Width, info.Height, PixelFormat.Rgb24, poolFrames);
        using var temporal = _options.Temporal.Mode == TemporalMode.Off ? null : new TemporalFilter(info.Width, info.Height, _options.Temporal);
        stats.TemporalEnabled = temporal is not null;

        var decoded = source.IsLive ? NewDropOldestChannel(stats) : NewChannel<Frame>();
        var prepared = NewChannel<Work>(TensorChannelCapacity, single: workers == 1);
        var inferred = NewChannel<Work>(TensorChannelCapacity, single: workers == 1);
        var finished = NewChannel<Frame>();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ct = cts.Token;

        // Channel operations take no token: a cancellable token makes every wait allocate. Cancellation
        // completes the channels instead, which wakes every waiting stage.
        using var onCancel = ct.Register(() =>
        {
            var cancelled = new OperationCanceledException(ct);
            decoded.Writer.TryComplete(cancelled);
            prepared.Writer.TryComplete(cancelled);
            inferred.Writer.TryComplete(cancelled);
            finished.Writer.TryComplete(cancelled);
        });

        stats.Start();
        Task[] stages =
        [
            Stage(cts, decoded.Writer, async () =>
            {
                long t0 = Stopwatch.GetTimestamp();
                await foreach (var frame in source.ReadAllAsync(pool, ct).ConfigureAwait(false))
                {
                    stats.DecodeTicks += Stopwatch.GetTimestamp() - t0;
                    await WriteOrDispose(decoded.Writer, frame).ConfigureAwait(false);
                    t0 = Stopwatch.GetTimestamp();
                }

                stats.DecodeTicks += Stopwatch.GetTimestamp() - t0;
            }),
            Stage(cts, prepared.Writer, async () =>
            {
                while (await decoded.Reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    while (decoded.Reader.TryRead(out var frame))
                    {
                        if (!plan.TryRentSlot(out var slot))
                        {
                            frame.Dispose();
                            throw new InvalidOperationException("no free tensor slot: the plan has fewer slots than frames the stages can hold");
                        }

                        long t0 = Stopwatch.GetTimestamp();
                        temporal?.ObserveInput(frame);
                        plan.Preprocess(frame, slot);
                        stats.PreprocessTicks += Stopwatch.GetTimestamp() - t0;
                        await WriteOrRelease(prepared.Writer, new Work(frame, slot), plan).ConfigureAwait(false);
                    }
                }
            }),
            Stage(cts, inferred.Writer, () => workers == 1 ? InferAsync(prepared.Reader, inferred.Writer, plan, stats) : InferInOrder(prepared.Reader, inferred.Writer, plan, stats, workers)),
            Stage(cts, finished.Writer, async () =>
            {
                while (await inferred.Reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    while (inferred.Reader.TryRead(out var work))
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        plan.Postprocess(work.Slot, work.Frame);
                        plan.ReturnSlot(work.Slot);
                        long t1 = Stopwatch.GetTimestamp();
                        stats.PostprocessTicks += t1 - t0;
                        if (temporal is not null)
                        {
                            // The postprocess stage sees frames in order, as the filter needs.
                            temporal.Apply(work.Frame);
                            stats.TemporalTicks += Stopwatch.GetTimestamp() - t1;
                        }

                        await WriteOrDispose(finished.Writer, work.Frame).ConfigureAwait(false);
                    }
                }
            }),
            Stage(cts, null, async () =>
            {
                while (await finished.Reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    while (finished.Reader.TryRead(out var frame))
                    {
                        using (frame)
                        {
                            long t0 = Stopwatch.GetTimestamp();
                            await sink.WriteAsync(frame, ct).ConfigureAwait(false);
                            stats.EncodeTicks += Stopwatch.GetTimestamp() - t0;
                        }

                        stats.FrameOut();
                    }
                }

                await sink.CompleteAsync(ct).ConfigureAwait(false);
            }),
        ];

        try
        {
            await TaskJoin.WhenAllAsync(stages).ConfigureAwait(false);
        }
        finally
        {
            stats.Stop();
            Drain(decoded.Reader);
            Drain(prepared.Reader, plan);
            Drain(inferred.Reader, plan);
            Drain(finished.Reader);
        }

        return stats;
    }

    private const int TensorChannelCapacity = 1;

    /// <summary>The infer stage with one frame in flight.</summary>
    private static async Task InferAsync(ChannelReader<Work> input, ChannelWriter<Work> output, StylizerPlan plan, PipelineStats stats)
    {
        while (await input.WaitToReadAsync().ConfigureAwait(false))
        {
            while (input.TryRead(out var work))
            {
                long t0 = Stopwatch.GetTimestamp();
                try
                {
                    plan.Infer(work.Slot);
                }
                catch
                {
                    Release(work, plan);
                    throw;
                }

                stats.InferTicks += Stopwatch.GetTimestamp() - t0;
                await WriteOrRelease(output, work, plan).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The infer stage with <paramref name="workers"/> frames in flight, each on its own thread (a model run blocks its
    /// thread, and thread-pool threads are few on a small CPU). A frame is handed on only after the one read before it,
    /// so the order stays the decoder's. A failure completes the stage's task with it; the others stop at their next
    /// read, when the pipeline completes the channels.
    /// </summary>
    private static Task InferInOrder(ChannelReader<Work> input, ChannelWriter<Work> output, StylizerPlan plan, PipelineStats stats, int workers)
    {
        var order = new Lock();
        Task previous = Task.CompletedTask;
        var done = new Task[workers];
        for (int i = 0; i < workers; i++)
        {
            var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() =>
            {
                try
                {
                    Loop();
                    finished.SetResult();
                }
                catch (Exception e)
                {
                    finished.SetException(e);
                }
            })
            {
                IsBackground = true,
                Name = $"infer-{i}",
            };
            thread.Start();
            done[i] = finished.Task;
        }

        return Task.WhenAll(done);

        void Loop()
        {
            while (input.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                Work work;
                Task before;
                TaskCompletionSource written;
                lock (order)
                {
                    if (!input.TryRead(out work))
                    {
                        continue;
                    }

                    before = previous;
                    written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    previous = written.Task;
                }

                try
                {
                    long t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        plan.Infer(work.Slot);
                        Interlocked.Add(ref stats.InferTicks, Stopwatch.GetTimestamp() - t0);
                        before.GetAwaiter().GetResult();
                    }
                    catch
                    {
                        Release(work, plan);
                        throw;
                    }

                    WriteOrRelease(output, work, plan).AsTask().GetAwaiter().GetResult();
                    written.SetResult();
                }
                catch (Exception e)
                {
                    written.TrySetException(e);
                    throw;
                }
            }
        }
    }

    private Channel<T> NewChannel<T>(int? capacity = null, bool single = true) => Channel.CreateBounded<T>(new BoundedChannelOptions(capacity ?? _options.ChannelCapacity)
    {
        SingleReader = single,
        SingleWriter = single,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private Channel<Frame> NewDropOldestChannel(PipelineStats stats) => Channel.CreateBounded<Frame>(
        new BoundedChannelOptions(_options.ChannelCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.DropOldest,
        },
        dropped =>
        {
            dropped.Dispose();
            stats.FrameDropped();
        });

    private static Task Stage<T>(CancellationTokenSource cts, ChannelWriter<T>? output, Func<Task> body) => TaskJoin.RunStage(cts, output, body);

    private static Task Stage(CancellationTokenSource cts, ChannelWriter<Frame>? output, Func<Task> body) => TaskJoin.RunStage(cts, output, body);

    private static ValueTask WriteOrDispose(ChannelWriter<Frame> writer, Frame frame) => FrameChannel.WriteOrDisposeAsync(writer, frame);

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask WriteOrRelease(ChannelWriter<Work> writer, Work work, StylizerPlan plan)
    {
        try
        {
            await writer.WriteAsync(work).ConfigureAwait(false);
        }
        catch
        {
            Release(work, plan);
            throw;
        }
    }

    private static void Release(Work work, StylizerPlan plan)
    {
        plan.ReturnSlot(work.Slot);
        work.Frame.Dispose();
    }

    private static void Drain(ChannelReader<Frame> reader) => FrameChannel.Drain(reader);

    private static void Drain(ChannelReader<Work> reader, StylizerPlan plan)
    {
        while (reader.TryRead(out var work))
        {
            Release(work, plan);
        }
    }

    private readonly record struct Work(Frame Frame, TensorSlot Slot);
}
