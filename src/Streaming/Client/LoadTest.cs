using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Video.Capture;
using Video.Evaluation;
using Video.Streaming.Protos.V1;

namespace Video.Streaming.Client;

/// <summary>Load test settings.</summary>
internal sealed record LoadTestOptions
{
    public int Streams { get; init; } = 4;

    /// <summary>How long each stream sends, from its own first frame (opening the stream is not counted).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Frames per second each stream sends (a live source's pace).</summary>
    public double Fps { get; init; } = 15;

    public int Width { get; init; } = 320;

    public int Height { get; init; } = 180;

    public Policy Policy { get; init; } = Policy.Latest;

    public string Model { get; init; } = string.Empty;

    /// <summary>The <c>queue_capacity</c> asked for under <c>POLICY_LATEST</c>; 0 = the server's default.</summary>
    public int QueueCapacity { get; init; }

    /// <summary>Frames a stream sends during the first <see cref="Warmup"/> after its own first frame count as sent,
    /// received and dropped, but their latency is left out of the percentiles (the server builds its per-size plans
    /// on a stream's first frame). Counted from the first frame, not from the start: opening a stream (loading the
    /// model) can take longer than the warm-up on a busy machine.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Cases run side by side instead of <see cref="Model"/> at <see cref="Width"/>×<see cref="Height"/> and
    /// <see cref="Fps"/>: stream i starts at case i·C/N (C cases, N streams), and every <see cref="SwitchEvery"/> it
    /// closes its stream and opens one for the next case, until <see cref="Duration"/> has passed since it started (the
    /// last stream sends for what is left; a stream still draining its replies then finishes first). Empty: every stream runs
    /// the one case for <see cref="Duration"/>.
    /// </summary>
    public IReadOnlyList<StreamCase> Mix { get; init; } = [];

    /// <summary>How long a stream of a <see cref="Mix"/> runs one case before it moves on to the next.</summary>
    public TimeSpan SwitchEvery { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A style image, registered once for each model that needs a style (AdaIN); their streams use it.</summary>
    public string? StyleImage { get; init; }
}

/// <summary>What one stream of a load test sends: frames of a size, at a rate, to a model (empty: the server's default).</summary>
internal readonly record struct StreamCase(string Model, int Width, int Height, double Fps);

/// <summary>Load test figures: throughput, client-measured latency percentiles and drops.</summary>
internal sealed record LoadTestResult(
    int Streams,
    TimeSpan Elapsed,
    long FramesSent,
    long FramesReceived,
    long FramesDropped,
    double Fps,
    double P50Ms,
    double P95Ms,
    double P99Ms,
    double MeanInferenceMs,
    double MeanQueueMs,
    string Model,
    string Device)
{
    /// <summary>Mean number of frames per model call on the server (1 without batching; 0 from servers that do not say).</summary>
    public double MeanBatch { get; init; }

    /// <summary>Latency samples behind the percentiles (frames received that were sent after the warm-up).</summary>
    public int Samples { get; init; }

    public Policy Policy { get; init; }

    /// <summary>Mean server time per frame, arrival to response handed to the writer; client latency minus this is transport and the client's own work.</summary>
    public double MeanServerTotalMs { get; init; }

    /// <summary>The frame size (0 in the summary of a mix).</summary>
    public int Width { get; init; }

    public int Height { get; init; }

    /// <summary>Streams opened in all (in a mix, each stream opens one per case it runs).</summary>
    public int StreamsOpened { get; init; }

    /// <summary>When the first of these streams was opened, from the start of the run (a soak's warm-up ends when every case has run once).</summary>
    public TimeSpan FirstOpened { get; init; }

    /// <summary>Per case, in the mix's order, when <see cref="LoadTestOptions.Mix"/> was given; frames/s there is the case's share of the total.</summary>
    public IReadOnlyList<LoadTestResult> Cases { get; init; } = [];

    public double DropPercent => FramesSent == 0 ? 0 : 100.0 * FramesDropped / FramesSent;

    public override string ToString() =>
        $"{Streams} streams x {Elapsed.TotalSeconds:0.0} s, model {Model} on {Device}: sent {FramesSent}, received {FramesReceived}, dropped {FramesDropped} ({DropPercent:0.0} %); "
        + $"{Fps:0.0} frames/s; latency p50 {P50Ms:0.0} ms, p95 {P95Ms:0.0} ms, p99 {P99Ms:0.0} ms (server: inference {MeanInferenceMs:0.0} ms, queue {MeanQueueMs:0.0} ms, total {MeanServerTotalMs:0.0} ms, batch {MeanBatch:0.00} mean)";
}

/// <summary>
/// Opens N streams that each send synthetic RGB24 frames at a fixed rate and measures, per frame, the time
/// from send to the stylized response (end to end, on the client's clock).
/// </summary>
internal static class LoadTest
{
    private const int Ring = 1 << 14;

    public static async Task<LoadTestResult> RunAsync(StylizeClient client, LoadTestOptions options, CancellationToken cancellationToken)
    {
        var cases = options.Mix.Count > 0 ? options.Mix : [new StreamCase(options.Model, options.Width, options.Height, options.Fps)];
        var frames = cases.Select(c => (c.Width, c.Height)).Distinct().ToDictionary(s => s, s => SyntheticFrames(s.Width, s.Height));
        var watch = Stopwatch.StartNew();
        List<StreamFigures> figures;
        try
        {
            var styles = await RegisterStylesAsync(client, cases, options.StyleImage, cancellationToken).ConfigureAwait(false);
            var slots = Enumerable.Range(0, options.Streams).Select(i => Task.Run(() => RunSlotAsync(client, options, cases, i, frames, styles, watch, cancellationToken), cancellationToken)).ToArray();
            figures = [.. (await Task.WhenAll(slots).ConfigureAwait(false)).SelectMany(f => f)];
        }
        catch (RpcException e)
        {
            throw new VideoException($"server {client.Address}: {e.StatusCode}: {StreamRoundTrip.Detail(e)}");
        }

        var elapsed = watch.Elapsed;
        var result = Summarize(options.Streams, elapsed, options, figures) with { Width = options.Mix.Count > 0 ? 0 : options.Width, Height = options.Mix.Count > 0 ? 0 : options.Height };
        if (options.Mix.Count == 0)
        {
            return result;
        }

        var perCase = cases.Select(c => figures.Where(f => f.Case == c).ToList())
            .Where(g => g.Count > 0)
            .Select(g => Summarize(g.Count, elapsed, options, g) with { Width = g[0].Case.Width, Height = g[0].Case.Height, Model = g[0].Model.Length > 0 ? g[0].Model : g[0].Case.Model })
            .ToList();
        return result with { Model = $"mix of {perCase.Count} cases", Cases = perCase };
    }

    private static LoadTestResult Summarize(int streams, TimeSpan elapsed, LoadTestOptions options, IReadOnlyList<StreamFigures> figures)
    {
        var latencies = figures.SelectMany(f => f.Latencies).Order().ToArray();
        long received = figures.Sum(f => f.Received);
        return new LoadTestResult(
            streams,
            elapsed,
            figures.Sum(f => f.Sent),
            received,
            figures.Sum(f => f.Dropped),
            received / options.Duration.TotalSeconds,
            Percentile.OfSorted(latencies, 0.50),
            Percentile.OfSorted(latencies, 0.95),
            Percentile.OfSorted(latencies, 0.99),
            received == 0 ? double.NaN : figures.Sum(f => f.InferenceMs) / received,
            received == 0 ? double.NaN : figures.Sum(f => f.QueueMs) / received,
            figures.FirstOrDefault()?.Model ?? string.Empty,
            figures.FirstOrDefault()?.Device ?? string.Empty)
        {
            MeanBatch = received == 0 ? double.NaN : figures.Sum(f => f.BatchSum) / (double)received,
            Samples = latencies.Length,
            Policy = options.Policy,
            MeanServerTotalMs = received == 0 ? double.NaN : figures.Sum(f => f.TotalMs) / received,
            StreamsOpened = figures.Count,
            FirstOpened = figures.Count == 0 ? TimeSpan.Zero : figures.Min(f => f.Opened),
        };
    }

    /// <summary>Registers <paramref name="styleImage"/> for each model of <paramref name="cases"/> that needs a style; model → style id.</summary>
    private static async Task<Dictionary<string, string>> RegisterStylesAsync(StylizeClient client, IReadOnlyList<StreamCase> cases, string? styleImage, CancellationToken ct)
    {
        var ids = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (styleImage is null)
        {
            return ids;
        }

        var listed = await client.ListModelsAsync(ct).ConfigureAwait(false);
        foreach (var model in cases.Select(c => c.Model.Length > 0 ? c.Model : listed.DefaultModel).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (listed.Models.FirstOrDefault(m => string.Equals(m.Name, model, StringComparison.OrdinalIgnoreCase)) is { NeedsStyle: true } info)
            {
                ids[model] = (await client.RegisterStyleAsync(styleImage, info.Name, ct).ConfigureAwait(false)).StyleId;
            }
        }

        return ids;
    }

    /// <summary>One stream slot: its one case for the whole duration, or, in a mix, a new stream per case every <see cref="LoadTestOptions.SwitchEvery"/>.</summary>
    private static async Task<List<StreamFigures>> RunSlotAsync(StylizeClient client, LoadTestOptions options, IReadOnlyList<StreamCase> cases, int slot, Dictionary<(int, int), ByteString[]> frames, Dictionary<string, string> styles, Stopwatch clock, CancellationToken ct)
    {
        var done = new List<StreamFigures>();
        if (options.Mix.Count == 0)
        {
            done.Add(await RunStreamAsync(client, options, cases[0], options.Duration, frames[(cases[0].Width, cases[0].Height)], styles, clock, ct).ConfigureAwait(false));
            return done;
        }

        var slotClock = Stopwatch.StartNew();
        for (int next = slot * cases.Count / options.Streams; slotClock.Elapsed < options.Duration; next++)
        {
            var c = cases[next % cases.Count];
            var remaining = options.Duration - slotClock.Elapsed;
            var length = remaining < options.SwitchEvery ? remaining : options.SwitchEvery;
            done.Add(await RunStreamAsync(client, options, c, length, frames[(c.Width, c.Height)], styles, clock, ct).ConfigureAwait(false));
        }

        return done;
    }

    private static async Task<StreamFigures> RunStreamAsync(StylizeClient client, LoadTestOptions options, StreamCase c, TimeSpan duration, ByteString[] frames, Dictionary<string, string> styles, Stopwatch clock, CancellationToken cancellationToken)
    {
        var figures = new StreamFigures { Case = c, Opened = clock.Elapsed };
        var sentAt = new long[Ring];
        long warmupTicks = (long)(options.Warmup.TotalSeconds * Stopwatch.Frequency);
        var warmupEnds = new[] { long.MaxValue }; // set when the first frame goes out
        var config = new SessionConfig { Model = c.Model, Policy = options.Policy, OutputEncoding = Protos.V1.Encoding.Rgb24, QueueCapacity = (uint)options.QueueCapacity };
        if (styles.TryGetValue(c.Model, out string? styleId))
        {
            config.StyleId = styleId;
        }

        using var stream = await client.OpenStreamAsync(config, cancellationToken).ConfigureAwait(false);

        async Task SendAsync()
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1 / c.Fps));
            ulong sequence = 0;
            long durationTicks = (long)(duration.TotalSeconds * Stopwatch.Frequency);
            long stopAt = long.MaxValue; // the stream sends for its duration from its own first frame
            while (clock.ElapsedTicks < stopAt && await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var image = new Protos.V1.Image { Encoding = Protos.V1.Encoding.Rgb24, Width = (uint)c.Width, Height = (uint)c.Height, Data = frames[sequence % (ulong)frames.Length] };
                long now = clock.ElapsedTicks;
                if (sequence == 0)
                {
                    stopAt = now + durationTicks;
                    Volatile.Write(ref warmupEnds[0], now + warmupTicks);
                }

                Volatile.Write(ref sentAt[sequence % Ring], now);
                await stream.SendImageAsync(image, (long)sequence, sequence, cancellationToken).ConfigureAwait(false);
                sequence++;
                figures.Sent++;
            }

            await stream.CompleteAsync().ConfigureAwait(false);
        }

        async Task ReceiveAsync()
        {
            await foreach (var response in stream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (response.KindCase == StreamResponse.KindOneofCase.ConfigApplied)
                {
                    figures.Model = response.ConfigApplied.Model;
                    figures.Device = response.ConfigApplied.Device;
                    continue;
                }

                var f = response.Frame;
                long now = clock.ElapsedTicks;
                long sent = Volatile.Read(ref sentAt[f.Sequence % Ring]);
                if (sent >= Volatile.Read(ref warmupEnds[0]))
                {
                    figures.Latencies.Add((now - sent) * 1000.0 / Stopwatch.Frequency);
                }

                figures.Received++;
                figures.BatchSum += f.Timings.BatchSize;
                figures.Dropped = (long)f.DroppedTotal;
                figures.InferenceMs += f.Timings.InferenceMs;
                figures.QueueMs += f.Timings.QueueMs;
                figures.TotalMs += f.Timings.TotalMs;
            }
        }

        await Task.WhenAll(Task.Run(SendAsync, cancellationToken), Task.Run(ReceiveAsync, cancellationToken)).ConfigureAwait(false);
        if (long.TryParse(stream.GetTrailers().GetValue("x-frames-dropped"), out long dropped))
        {
            figures.Dropped = dropped;
        }

        return figures;
    }

    /// <summary>Synthetic frames of one size: 16 at most, fewer for large sizes (about 64 MiB in all).</summary>
    private static ByteString[] SyntheticFrames(int width, int height)
    {
        int count = (int)Math.Clamp((64L << 20) / ((long)width * height * 3), 2, 16);
        return [.. Enumerable.Range(0, count).Select(i => Synthetic(width, height, i))];
    }

    private static ByteString Synthetic(int width, int height, int phase)
    {
        var data = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = ((y * width) + x) * 3;
                data[i] = (byte)((x * 255 / width) + (phase * 16));
                data[i + 1] = (byte)(y * 255 / height);
                data[i + 2] = (byte)(((x + y) / 8 % 2 == 0 ? 200 : 40) + phase);
            }
        }

        return UnsafeByteOperations.UnsafeWrap(data);
    }

    private sealed class StreamFigures
    {
        public List<double> Latencies { get; } = [];

        public long Sent { get; set; }

        public long Received { get; set; }

        public long Dropped { get; set; }

        public double InferenceMs { get; set; }

        public double QueueMs { get; set; }

        public long BatchSum { get; set; }

        public double TotalMs { get; set; }

        public string Model { get; set; } = string.Empty;

        public string Device { get; set; } = string.Empty;

        public StreamCase Case { get; init; }

        public TimeSpan Opened { get; init; }
    }
}
