using System.Diagnostics;
using System.Threading.Channels;
using Video.Capture;
using Video.Capture.Live;
using Video.Evaluation;
using Video.Inference;
using Video.Inference.Temporal;

namespace Video.Streaming.Live;

/// <summary>Figures a running <see cref="LiveSession"/> reports (a snapshot).</summary>
/// <param name="Settings">The settings the frames are stylized with now.</param>
/// <param name="Elapsed">Time since the session started.</param>
/// <param name="FramesIn">Frames the source delivered (dropped ones included).</param>
/// <param name="FramesOut">Frames written to the output.</param>
/// <param name="Dropped">Frames dropped (the oldest waiting) because the model was behind the source.</param>
/// <param name="Reconnects">Times a lost network input was opened again.</param>
/// <param name="ModelMilliseconds">Recent average time of one model call (preprocess, model, postprocess).</param>
/// <param name="Latency">Capture-to-output-write latency in milliseconds, p50/p95/p99 over the recent frames.</param>
internal sealed record LiveStatus(
    LiveSettings Settings,
    TimeSpan Elapsed,
    long FramesIn,
    long FramesOut,
    long Dropped,
    int Reconnects,
    double ModelMilliseconds,
    LatencyFigures Latency);

/// <summary>Latency percentiles in milliseconds (NaN before the first frame).</summary>
internal readonly record struct LatencyFigures(double P50, double P95, double P99, int Samples)
{
    public static LatencyFigures Of(ReadOnlySpan<double> samples)
    {
        var sorted = samples.ToArray();
        Array.Sort(sorted);
        return new LatencyFigures(Percentile.OfSorted(sorted, 0.50), Percentile.OfSorted(sorted, 0.95), Percentile.OfSorted(sorted, 0.99), sorted.Length);
    }

    public override string ToString() => Samples == 0 ? "latency -" : $"latency p50 {P50:0} p95 {P95:0} p99 {P99:0} ms";
}

/// <summary>
/// The live loop of <c>video live</c>: source → newest frame → stylize (model, then the temporal filter) → output,
/// with the settings (model, style, strength, temporal filter) switchable while it runs.
/// </summary>
/// <remarks>
/// <para>
/// Three tasks joined by one-frame queues. A live source's queue drops its oldest frame when the model is behind (the
/// output then repeats its last frame, so it keeps the input's rate); a file source read for a test waits instead.
/// Each frame's capture stamp (<see cref="Frame.CaptureTimestamp"/>) is compared with the clock once the output has
/// taken the stylized frame: that is the latency reported.
/// </para>
/// <para>
/// A switch (<see cref="SwitchAsync"/>) loads and warms the new model, its plan and style on another thread while frames
/// keep flowing through the old one, then hands them to the stylizing task, which takes them up before its next frame:
/// no frame is lost to a switch, and the frame in flight finishes with the old settings. Loaded models stay loaded
/// for the session, so switching back is immediate.
/// </para>
/// </remarks>
internal sealed class LiveSession : IAsyncDisposable
{
    private const int RecentSamples = 300;
    private readonly ModelCatalog _catalog;
    private readonly StylizerOptions _stylizerOptions;
    private readonly FrameAllocator _allocator;
    private readonly int _width;
    private readonly int _height;
    private readonly Dictionary<string, Stylizer> _stylizers = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, StylizerPlan> _plans = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<(string Model, string Style), StyleStatistics> _styles = [];
    private readonly SemaphoreSlim _switching = new(1, 1);
    private readonly Lock _figures = new();
    private readonly double[] _recentLatency = new double[RecentSamples];
    private readonly List<double> _allLatency = [];
    private readonly Stopwatch _clock = new();
    private Active? _active;
    private Active? _next;
    private IFrameSource? _source;
    private bool _running;
    private long _framesIn;
    private long _framesOut;
    private long _dropped;
    private double _modelMs;

    /// <summary>A session for frames of <paramref name="width"/>×<paramref name="height"/>, with models from <paramref name="catalog"/>.</summary>
    public LiveSession(ModelCatalog catalog, StylizerOptions stylizerOptions, int width, int height, FrameAllocator? allocator = null)
    {
        _catalog = catalog;
        _stylizerOptions = stylizerOptions;
        _width = width;
        _height = height;
        _allocator = allocator ?? FrameAllocator.Default;
    }

    /// <summary>
    /// The settings last switched to (in effect from the next frame), so that a change made on top of them (a key, the
    /// control endpoint) keeps a switch that is still being taken up.
    /// </summary>
    public LiveSettings Settings => (Volatile.Read(ref _next) ?? Volatile.Read(ref _active))?.Settings ?? throw new InvalidOperationException("the session has no settings yet");

    /// <summary>The models the session can switch to, in catalogue order.</summary>
    public IReadOnlyList<ModelManifest> Models => _catalog.Models;

    /// <summary>
    /// Loads what <paramref name="settings"/> need and makes them current: before <see cref="RunAsync"/> at once, while it
    /// runs from the next frame the stylizing task takes (the one in flight finishes with the old settings).
    /// </summary>
    /// <exception cref="VideoException">An unknown model, a missing style image, a value out of range.</exception>
    public async Task<LiveSettings> SwitchAsync(LiveSettings settings, CancellationToken cancellationToken = default)
    {
        settings.Validate();
        await _switching.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var prepared = await Task.Run(() => Prepare(settings), cancellationToken).ConfigureAwait(false);
            if (!Volatile.Read(ref _running))
            {
                Retire(Interlocked.Exchange(ref _active, prepared));
                return settings;
            }

            // Taken up by the stylizing task before its next frame, or by RunAsync as it ends; if the session ended
            // between the check above and the hand-over, it is taken up here.
            Retire(Interlocked.Exchange(ref _next, prepared));
            if (!Volatile.Read(ref _running) && Interlocked.CompareExchange(ref _next, null, prepared) == prepared)
            {
                Retire(Interlocked.Exchange(ref _active, prepared));
            }

            return settings;
        }
        finally
        {
            _switching.Release();
        }
    }

    /// <summary>
    /// Stylizes <paramref name="source"/> into <paramref name="sink"/> until the source ends or <paramref name="stop"/>
    /// fires; either way the frames in flight are written and the sink is completed (a recording is published).
    /// <paramref name="cancellationToken"/> aborts instead, and the sink is not completed.
    /// </summary>
    public async Task RunAsync(IFrameSource source, IFrameSink sink, CancellationToken stop, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _active) is null)
        {
            throw new InvalidOperationException("SwitchAsync must set the first settings before RunAsync");
        }

        if (source.Info.Width != _width || source.Info.Height != _height)
        {
            throw new ArgumentException($"source is {source.Info.Width}x{source.Info.Height}, the session {_width}x{_height}", nameof(source));
        }

        _source = source;
        // Every frame that can be queued or in a stage at once (1 + 1 + 1 + 1 + 2 queued), plus one the source reads ahead.
        using var pool = _allocator.CreatePool(_width, _height, PixelFormat.Rgb24, 8);
        var input = NewQueue(source.IsLive);
        var output = NewQueue(source.IsLive);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ct = cts.Token;
        using var onCancel = ct.Register(() =>
        {
            var cancelled = new OperationCanceledException(ct);
            input.Writer.TryComplete(cancelled);
            output.Writer.TryComplete(cancelled);
        });

        Volatile.Write(ref _running, true);
        _clock.Start();
        Task[] tasks =
        [
            TaskJoin.RunStage(cts, input.Writer, () => ReadAsync(source, pool, input.Writer, stop, ct)),
            TaskJoin.RunStage(cts, output.Writer, () => StylizeAsync(input.Reader, output.Writer)),
            TaskJoin.RunStage<Frame>(cts, null, () => WriteAsync(output.Reader, sink, ct)),
        ];

        try
        {
            await TaskJoin.WhenAllAsync(tasks).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _running, false);
            _clock.Stop();
            FrameChannel.Drain(input.Reader);
            FrameChannel.Drain(output.Reader);
            // A switch that arrived as the session ended is taken up here, so Settings tells what was asked for last.
            if (Interlocked.Exchange(ref _next, null) is { } pending)
            {
                Retire(Interlocked.Exchange(ref _active, pending));
            }
        }
    }

    /// <summary>The figures so far, with latency percentiles over the last few hundred frames.</summary>
    public LiveStatus Status()
    {
        LatencyFigures latency;
        lock (_figures)
        {
            int n = (int)Math.Min(_framesOut, RecentSamples);
            latency = n == 0 ? default : LatencyFigures.Of(_recentLatency.AsSpan(0, n));
        }

        return new LiveStatus(
            Settings,
            _clock.Elapsed,
            Interlocked.Read(ref _framesIn),
            Interlocked.Read(ref _framesOut),
            Interlocked.Read(ref _dropped),
            (_source as LiveSource)?.Reconnects ?? 0,
            Volatile.Read(ref _modelMs),
            latency);
    }

    /// <summary>Latency percentiles over every frame of the run.</summary>
    public LatencyFigures TotalLatency()
    {
        lock (_figures)
        {
            return LatencyFigures.Of(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_allLatency));
        }
    }

    public ValueTask DisposeAsync()
    {
        Retire(Interlocked.Exchange(ref _next, null));
        Retire(Interlocked.Exchange(ref _active, null));
        foreach (var plan in _plans.Values)
        {
            plan.Dispose();
        }

        foreach (var stylizer in _stylizers.Values)
        {
            stylizer.Dispose();
        }

        _plans.Clear();
        _stylizers.Clear();
        _switching.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task ReadAsync(IFrameSource source, FramePool pool, ChannelWriter<Frame> input, CancellationToken stop, CancellationToken ct)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(stop, ct);
        try
        {
            await foreach (var frame in source.ReadAllAsync(pool, both.Token).ConfigureAwait(false))
            {
                Interlocked.Increment(ref _framesIn);
                await FrameChannel.WriteOrDisposeAsync(input, frame).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // A requested stop ends the source like its end would: what is in flight still goes out.
        }
    }

    private async Task StylizeAsync(ChannelReader<Frame> input, ChannelWriter<Frame> output)
    {
        var active = Volatile.Read(ref _active)!;
        active.Apply();
        while (await input.WaitToReadAsync().ConfigureAwait(false))
        {
            while (input.TryRead(out var frame))
            {
                if (Interlocked.Exchange(ref _next, null) is { } next)
                {
                    next.Apply();
                    Retire(Interlocked.Exchange(ref _active, next));
                    active = next;
                }

                try
                {
                    long t0 = Stopwatch.GetTimestamp();
                    active.Filter?.ObserveInput(frame);
                    await active.Plan.StylizeAsync(frame).ConfigureAwait(false);
                    double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    Volatile.Write(ref _modelMs, _modelMs == 0 ? ms : (0.9 * _modelMs) + (0.1 * ms));
                    active.Filter?.Apply(frame);
                }
                catch
                {
                    frame.Dispose();
                    throw;
                }

                await FrameChannel.WriteOrDisposeAsync(output, frame).ConfigureAwait(false);
            }
        }
    }

    private async Task WriteAsync(ChannelReader<Frame> output, IFrameSink sink, CancellationToken ct)
    {
        while (await output.WaitToReadAsync().ConfigureAwait(false))
        {
            while (output.TryRead(out var frame))
            {
                using (frame)
                {
                    await sink.WriteAsync(frame, ct).ConfigureAwait(false);
                    if (frame.CaptureTimestamp != 0)
                    {
                        Record(Stopwatch.GetElapsedTime(frame.CaptureTimestamp).TotalMilliseconds);
                    }
                }

                Interlocked.Increment(ref _framesOut);
            }
        }

        await sink.CompleteAsync(ct).ConfigureAwait(false);
    }

    private void Record(double latencyMs)
    {
        lock (_figures)
        {
            _recentLatency[(int)(_framesOut % RecentSamples)] = latencyMs;
            _allLatency.Add(latencyMs);
        }
    }

    /// <summary>Loads (or takes from the session's caches) the model, plan and style for <paramref name="settings"/>.</summary>
    private Active Prepare(LiveSettings settings)
    {
        var manifest = _catalog.Find(settings.Model);
        if (!_stylizers.TryGetValue(manifest.Name, out var stylizer))
        {
            stylizer = Stylizer.Load(manifest, _stylizerOptions);
            _stylizers[manifest.Name] = stylizer;
        }

        StyleStatistics? style = null;
        if (stylizer.TakesStyle)
        {
            string path = settings.Style ?? throw new VideoException($"model '{manifest.Name}' is an AdaIN model and needs a style image");
            if (!_styles.TryGetValue((manifest.Name, path), out style))
            {
                using var image = FrameMats.LoadRgb(path, _allocator);
                style = stylizer.EncodeStyle(image);
                _styles[(manifest.Name, path)] = style;
            }
        }

        if (!_plans.TryGetValue(manifest.Name, out var plan))
        {
            var (tw, th) = stylizer.InferenceSize(_width, _height);
            plan = stylizer.CreatePlan(_width, _height, tw, th, slots: 1, _allocator);
            if (style is not null)
            {
                plan.SetStyle(style, settings.Alpha);
            }

            // The first run allocates ONNX Runtime's buffers; doing it here keeps that out of the live frames.
            using var warm = _allocator.AllocateFrame(_width, _height);
            plan.StylizeInPlace(warm);
            _plans[manifest.Name] = plan;
        }

        // Each switch starts a fresh filter: the previous output may belong to another look.
        var filter = settings.Temporal.Mode == TemporalMode.Off ? null : new TemporalFilter(_width, _height, settings.Temporal);
        return new Active(settings, plan, style, filter);
    }

    /// <summary>Disposes what a replaced <see cref="Active"/> owned alone (its temporal filter; plans are the session's).</summary>
    private static void Retire(Active? old) => old?.Filter?.Dispose();

    /// <summary>A one-frame queue; a live one drops (disposes and counts) its oldest frame rather than wait.</summary>
    private Channel<Frame> NewQueue(bool live) => Channel.CreateBounded<Frame>(
        new BoundedChannelOptions(1)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = live ? BoundedChannelFullMode.DropOldest : BoundedChannelFullMode.Wait,
        },
        dropped =>
        {
            dropped.Dispose();
            Interlocked.Increment(ref _dropped);
        });

    /// <summary>One set of settings made ready: the plan (shared per model), style statistics and temporal filter.</summary>
    private sealed record Active(LiveSettings Settings, StylizerPlan Plan, StyleStatistics? Style, TemporalFilter? Filter)
    {
        /// <summary>Applies the per-plan settings; run by the stylizing task only, between frames.</summary>
        public void Apply()
        {
            Plan.PreserveColor = Settings.PreserveColor;
            if (Style is not null)
            {
                Plan.SetStyle(Style, Settings.Alpha);
            }
        }
    }
}
