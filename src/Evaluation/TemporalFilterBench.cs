using System.Diagnostics;
using Video.Capture;
using Video.Inference.Temporal;

namespace Video.Evaluation;

/// <summary>Frame times of one temporal-filter mode in <see cref="TemporalFilterBench"/>, in milliseconds.</summary>
public sealed record TemporalBenchMode(string Label, TemporalOptions Options, double MedianMs, double MeanMs, double P10Ms, double P90Ms, long FramesBlended);

/// <summary>What <see cref="TemporalFilterBench.Run"/> measured, with the flow filter's effective settings.</summary>
public sealed record TemporalBenchReport(int Width, int Height, double Strength, int Frames, (int Width, int Height) FlowSize, int ClampRadius, IReadOnlyList<TemporalBenchMode> Modes)
{
    /// <summary>The <c>flow</c> mode's options (tolerances and clamp margin as the filter used them).</summary>
    public TemporalOptions Flow => Modes[1].Options;
}

/// <summary>
/// Times <see cref="TemporalFilter.ObserveInput"/> + <see cref="TemporalFilter.Apply"/> per frame (<c>video eval temporal-bench</c>) on
/// <see cref="TemporalBenchScene"/>, for <c>ema</c>, <c>flow</c>, <c>flow</c> without the neighbourhood clamp and <c>flow</c>
/// without the full-size check, interleaved frame by frame so every mode sees the same machine load. Allocations per frame
/// are measured by BenchmarkDotNet (<c>TemporalFilterBenchmarks</c> in benchmarks/Video.Benchmarks), not here.
/// </summary>
/// <remarks>Stateless; each run makes its own filters and frames.</remarks>
public static class TemporalFilterBench
{
    /// <summary>The modes timed side by side; "flow, no clamp" shows what the neighbourhood clamp costs under the same load.</summary>
    public static IReadOnlyList<(string Label, TemporalOptions Options)> Modes(double strength) =>
    [
        ("ema", new TemporalOptions { Mode = TemporalMode.Ema, Strength = strength }),
        ("flow", new TemporalOptions { Mode = TemporalMode.Flow, Strength = strength }),
        ("flow, no clamp", new TemporalOptions { Mode = TemporalMode.Flow, Strength = strength, ClampRadius = 0 }),
        ("flow, no full-size check", new TemporalOptions { Mode = TemporalMode.Flow, Strength = strength, FineTolerance = 0 }),
    ];

    /// <summary>Times every mode on <paramref name="frames"/> frames after 20 warm-up frames.</summary>
    public static TemporalBenchReport Run(int width, int height, int frames, double strength, CancellationToken cancellationToken, FrameAllocator? allocator = null)
    {
        var modes = Modes(strength);
        var random = new Random(7);
        allocator ??= FrameAllocator.Default;
        var inputs = TemporalBenchScene.Create(allocator, width, height, random);
        var filters = modes.Select(m => new TemporalFilter(width, height, m.Options)).ToArray();
        using var work = allocator.AllocateFrame(width, height);
        var times = modes.Select(_ => new double[frames]).ToArray();
        var blended = new long[modes.Count];
        try
        {
            for (int i = -20; i < frames; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var input = inputs[((i % inputs.Length) + inputs.Length) % inputs.Length];
                for (int k = 0; k < modes.Count; k++)
                {
                    // Rotate the order so no mode always runs on a warmer cache.
                    int m = ((((i % modes.Count) + modes.Count) % modes.Count) + k) % modes.Count;
                    input.Index = i + 20;
                    TemporalBenchScene.Flicker(input, work, random);
                    long t0 = Stopwatch.GetTimestamp();
                    filters[m].ObserveInput(input);
                    filters[m].Apply(work);
                    long t1 = Stopwatch.GetTimestamp();
                    if (i >= 0)
                    {
                        times[m][i] = (t1 - t0) * 1000.0 / Stopwatch.Frequency;
                        blended[m] += filters[m].LastOutcome == TemporalOutcome.Blended ? 1 : 0;
                    }
                }
            }

            var results = new List<TemporalBenchMode>();
            for (int m = 0; m < modes.Count; m++)
            {
                var sorted = times[m].Order().ToArray();
                results.Add(new TemporalBenchMode(modes[m].Label, modes[m].Options, Percentile.OfSorted(sorted, 0.5), sorted.Average(), Percentile.OfSorted(sorted, 0.1), Percentile.OfSorted(sorted, 0.9), blended[m]));
            }

            return new TemporalBenchReport(width, height, strength, frames, filters[1].FlowSize, filters[1].ClampRadius, results);
        }
        finally
        {
            foreach (var f in filters)
            {
                f.Dispose();
            }

            foreach (var f in inputs)
            {
                f.Dispose();
            }
        }
    }
}

/// <summary>
/// The temporal filter's bench scene: a smoothed random texture that pans back and forth (so the flow is not trivial and
/// the sequence loops without a jump), and a "stylized" copy of each frame with fresh per-frame flicker.
/// </summary>
/// <remarks>Frames from <see cref="Create"/> come from the allocator passed in, unpooled, and are owned by the caller. Not thread safe (the flicker takes a <see cref="Random"/>).</remarks>
public static class TemporalBenchScene
{
    /// <summary>Distinct frames of one back-and-forth pan.</summary>
    public const int Distinct = 48;

    /// <summary>The <see cref="Distinct"/> input frames, the texture drawn from <paramref name="random"/>.</summary>
    public static Frame[] Create(FrameAllocator allocator, int width, int height, Random random)
    {
        var texture = new byte[(height + 64) * (width + 64) * 3];
        random.NextBytes(texture);
        int texStride = (width + 64) * 3;

        // Smooth the noise a little so the flow has structure at several scales.
        for (int pass = 0; pass < 2; pass++)
        {
            for (int i = 3; i < texture.Length - 3; i++)
            {
                texture[i] = (byte)((texture[i - 3] + (2 * texture[i]) + texture[i + 3]) >> 2);
            }
        }

        var inputs = new Frame[Distinct];
        for (int t = 0; t < Distinct; t++)
        {
            // Ping-pong pan, so the sequence loops without a jump.
            int phase = t < Distinct / 2 ? t : Distinct - t;
            int ox = phase, oy = phase / 2;
            var f = allocator.AllocateFrame(width, height);
            for (int y = 0; y < height; y++)
            {
                texture.AsSpan(((y + oy) * texStride) + (ox * 3), width * 3).CopyTo(f.Row(y));
            }

            inputs[t] = f;
        }

        return inputs;
    }

    /// <summary>Copies <paramref name="input"/> (index included) into <paramref name="stylized"/> and brightens every 97th byte by a random 0–23 levels.</summary>
    public static void Flicker(Frame input, Frame stylized, Random random)
    {
        stylized.Index = input.Index;
        input.Pixels.CopyTo(stylized.Pixels);
        byte flicker = (byte)random.Next(0, 24);
        var px = stylized.Pixels;
        for (int j = 0; j < px.Length; j += 97)
        {
            px[j] = (byte)Math.Min(255, px[j] + flicker);
        }
    }
}
