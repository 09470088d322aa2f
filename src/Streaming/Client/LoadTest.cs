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
}

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
        var frames = Enumerable.Range(0, 16).Select(i => Synthetic(options.Width, options.Height, i)).ToArray();
        var watch = Stopwatch.StartNew();
        var runs = Enumerable.Range(0, options.Streams).Select(_ => Task.Run(() => RunStreamAsync(client, options, frames, watch, cancellationToken), cancellationToken)).ToArray();
        StreamFigures[] figures;
        try
        {
            figures = await Task.WhenAll(runs).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw new VideoException($"server {client.Address}: {e.StatusCode}: {StreamRoundTrip.Detail(e)}");
        }

        var elapsed = watch.Elapsed;
        var latencies = figures.SelectMany(f => f.Latencies).Order().ToArray();
        long received = figures.Sum(f => f.Received);
        return new LoadTestResult(
            options.Streams,
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
        };
    }

    private static async Task<StreamFigures> RunStreamAsync(StylizeClient client, LoadTestOptions options, ByteString[] frames, Stopwatch clock, CancellationToken cancellationToken)
    {
        var figures = new StreamFigures();
        var sentAt = new long[Ring];
        long warmupTicks = (long)(options.Warmup.TotalSeconds * Stopwatch.Frequency);
        var warmupEnds = new[] { long.MaxValue }; // set when the first frame goes out
        using var stream = await client.OpenStreamAsync(new SessionConfig { Model = options.Model, Policy = options.Policy, OutputEncoding = Protos.V1.Encoding.Rgb24, QueueCapacity = (uint)options.QueueCapacity }, cancellationToken).ConfigureAwait(false);

        async Task SendAsync()
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1 / options.Fps));
            ulong sequence = 0;
            long durationTicks = (long)(options.Duration.TotalSeconds * Stopwatch.Frequency);
            long stopAt = long.MaxValue; // the stream sends for Duration from its own first frame
            while (clock.ElapsedTicks < stopAt && await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var image = new Protos.V1.Image { Encoding = Protos.V1.Encoding.Rgb24, Width = (uint)options.Width, Height = (uint)options.Height, Data = frames[sequence % (ulong)frames.Length] };
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
    }
}
