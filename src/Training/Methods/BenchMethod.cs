using System.Globalization;
using TorchSharp;
using Video.Training.Data;
using Video.Training.Export;
using Video.Training.Models;

namespace Video.Training.Methods;

/// <summary>
/// Inference-only speed of the architectures in ONNX Runtime (CPU provider) at a given frame size: the shipped cheap
/// fast design, the AdaIN design and the classic Johnson design, each exported with random weights, or the given
/// ONNX files. The candidates run interleaved (rounds of <see cref="RoundRuns"/> runs each, in turn), so load from
/// elsewhere on this shared machine falls on all of them alike and their ratios hold even when the absolute figures move.
/// </summary>
internal static class BenchMethod
{
    /// <summary>Runs per candidate per round.</summary>
    public const int RoundRuns = 5;

    public static int Run(int width, int height, int runs, IReadOnlyList<string> modelPaths, int threads)
    {
        var rows = Measure(width, height, runs, modelPaths, threads);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ONNX Runtime CPU, {threads} threads, 1x3x{height}x{width}, median of {runs} runs each, interleaved in rounds of {RoundRuns}:"));
        foreach (var (name, ms) in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name,-50} {ms,8:0.0} ms  {1000 / ms,6:0.0} fps  {ms / rows[0].Ms,6:0.00}x the first"));
        }

        int cheap = rows.FindIndex(r => r.Name.Contains("shipped", StringComparison.Ordinal));
        int johnson = rows.FindIndex(r => r.Name.StartsWith("johnson", StringComparison.Ordinal));
        if (cheap >= 0 && johnson >= 0)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  speed ratio fast/johnson: {rows[johnson].Ms / rows[cheap].Ms:0.0}x"));
        }

        return 0;
    }

    /// <summary>
    /// Median ms per frame of each candidate: the given ONNX files (single-input or AdaIN; named by their path), or with none the
    /// built-in designs exported with random weights. A missing or unloadable file is a <see cref="TrainingDataException"/>.
    /// </summary>
    public static List<(string Name, double Ms)> Measure(int width, int height, int runs, IReadOnlyList<string> modelPaths, int threads)
    {
        var dir = Path.Combine(Path.GetTempPath(), "video-train-bench");
        Directory.CreateDirectory(dir);
        var frame = RandomFrame(width, height);
        var candidates = new List<(string Name, string Path)>();
        if (modelPaths.Count > 0)
        {
            foreach (var path in modelPaths)
            {
                if (!File.Exists(path))
                {
                    throw new TrainingDataException($"model not found: {path}");
                }

                candidates.Add((path, path));
            }
        }
        else
        {
            torch.manual_seed(1);
            foreach (var (name, file, spec) in new[]
            {
                ("fast, reflection Pad before every conv (the teachers)", "fast-reflect", StylizerSpec.CheapReflect),
                ("fast, reflection Pad, dilated residual convs (--dilated)", "fast-reflect-dilated", StylizerSpec.CheapReflect with { Dilated = true }),
                ("fast, pad once at the input (--pad-once)", "fast-pad-once", StylizerSpec.CheapPadOnce),
                ("fast, pad once, last upsampling stage separable (--separable-up 1)", "fast-separable-1", StylizerSpec.CheapSeparable(1) with { Dilated = true }),
                ("fast, pad once, both upsampling stages separable (--separable-up 2)", "fast-separable-2", StylizerSpec.CheapSeparable(2) with { Dilated = true }),
                ("fast, zero padding only", "fast-zero", StylizerSpec.Cheap),
                ("johnson (classic)", "johnson", StylizerSpec.Johnson),
            })
            {
                using var m = new FastStylizer(spec);
                var path = Path.Combine(dir, file + ".onnx");
                OnnxExporter.ExportFast(m, path);
                candidates.Add((name, path));
            }

            using var encoder = Losses.ResNet18LossNetwork.Load(blocks: AdaInStylizer.EncoderBlocks);
            using var adain = new AdaInStylizer(encoder);
            var main = Path.Combine(dir, "adain.onnx");
            OnnxExporter.ExportAdaIn(adain, main, Path.Combine(dir, "adain.style.onnx"));
            candidates.Add(("adain (per frame; style stats precomputed)", main));
        }

        var medians = Interleaved(candidates.Select(c => c.Path).ToList(), frame, runs, threads);
        return candidates.Select((c, i) => (c.Name, medians[i])).ToList();
    }

    /// <summary>Median ms per candidate; one warm-up round, then rounds until each has <paramref name="runs"/> timed runs.</summary>
    private static double[] Interleaved(IReadOnlyList<string> paths, (float[] Data, long[] Shape) frame, int runs, int threads)
    {
        var models = new List<OrtModel>();
        var bound = new List<OrtModel.TimedRuns>();
        try
        {
            foreach (var path in paths)
            {
                var m = new OrtModel(path, threads);
                models.Add(m);
                bound.Add(m.Bind(InputsFor(m, path, frame)));
            }

            var times = paths.Select(_ => new List<double>()).ToList();
            for (int done = -RoundRuns; done < runs; done += RoundRuns)
            {
                for (int c = 0; c < bound.Count; c++)
                {
                    for (int i = 0; i < Math.Min(RoundRuns, runs - Math.Max(done, 0)); i++)
                    {
                        double ms = bound[c].RunMs();
                        if (done >= 0)
                        {
                            times[c].Add(ms);
                        }
                    }
                }
            }

            return times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
        }
        finally
        {
            bound.ForEach(b => b.Dispose());
            models.ForEach(m => m.Dispose());
        }
    }

    /// <summary>The frame for a single-input model; neutral statistics for one with the AdaIN inputs.</summary>
    private static Dictionary<string, (float[], long[])> InputsFor(OrtModel m, string path, (float[] Data, long[] Shape) frame)
    {
        if (m.InputNames.Count == 1)
        {
            return new Dictionary<string, (float[], long[])> { [m.InputNames[0]] = frame };
        }

        var adain = AdaInInputs(frame);
        return m.InputNames.All(adain.ContainsKey)
            ? adain
            : throw new TrainingDataException($"{path} has inputs {string.Join(", ", m.InputNames)}; bench takes single-input models and the AdaIN model");
    }

    private static (float[] Data, long[] Shape) RandomFrame(int width, int height)
    {
        var rng = new Random(7);
        var data = new float[3 * width * height];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)rng.NextDouble();
        }

        return (data, [1, 3, height, width]);
    }

    private static Dictionary<string, (float[], long[])> AdaInInputs((float[] Data, long[] Shape) frame)
    {
        int c = AdaInStylizer.FeatureChannels;
        return new Dictionary<string, (float[], long[])>
        {
            ["input"] = frame,
            ["style_mean"] = (new float[c], [1, c, 1, 1]),
            ["style_std"] = (Enumerable.Repeat(1f, c).ToArray(), [1, c, 1, 1]),
            ["style_rgb_mean"] = (new float[3], [1, 3, 1, 1]),
            ["style_rgb_std"] = ([1f, 1f, 1f], [1, 3, 1, 1]),
            ["alpha"] = ([1f], [1]),
        };
    }
}
