using System.Globalization;
using TorchSharp;
using Video.Training.Export;
using Video.Training.Models;

namespace Video.Training.Methods;

/// <summary>
/// Inference-only speed of the architectures in ONNX Runtime (CPU provider) at a given frame size: the shipped cheap
/// fast design, the AdaIN design and the classic Johnson design, each exported with random weights.
/// </summary>
public static class BenchMethod
{
    public static int Run(int width, int height, int runs, string? modelPath, int threads)
    {
        var dir = Path.Combine(Path.GetTempPath(), "video-train-bench");
        Directory.CreateDirectory(dir);
        var results = new List<(string Name, double Ms)>();
        var frame = RandomFrame(width, height);
        if (modelPath is not null)
        {
            results.Add((Path.GetFileName(modelPath), Time(modelPath, frame, runs, threads)));
        }
        else
        {
            torch.manual_seed(1);
            foreach (var (name, file, spec) in new[]
            {
                ("fast, reflection Pad before every conv (shipped)", "fast-reflect", StylizerSpec.CheapReflect),
                ("fast, pad once at the input (--pad-once)", "fast-pad-once", StylizerSpec.CheapPadOnce),
                ("fast, zero padding only", "fast-zero", StylizerSpec.Cheap),
                ("johnson (classic)", "johnson", StylizerSpec.Johnson),
            })
            {
                using var m = new FastStylizer(spec);
                var path = Path.Combine(dir, file + ".onnx");
                OnnxExporter.ExportFast(m, path);
                results.Add((name, Time(path, frame, runs, threads)));
            }

            using var adain = new AdaInStylizer(new Losses.RandomLossNetwork());
            var main = Path.Combine(dir, "adain.onnx");
            var enc = Path.Combine(dir, "adain.style.onnx");
            OnnxExporter.ExportAdaIn(adain, main, enc);
            results.Add(("adain (per frame; style stats precomputed)", TimeAdaIn(main, frame, runs, threads)));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ONNX Runtime CPU, {threads} threads, 1x3x{height}x{width}, median of {runs} runs:"));
        foreach (var (name, ms) in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-50} {ms,8:0.0} ms  {1000 / ms,6:0.0} fps"));
        }

        var cheap = results.FirstOrDefault(r => r.Name.Contains("shipped", StringComparison.Ordinal));
        var johnson = results.FirstOrDefault(r => r.Name.StartsWith("johnson", StringComparison.Ordinal));
        if (cheap.Name is not null && johnson.Name is not null)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  speed ratio fast/johnson: {johnson.Ms / cheap.Ms:0.0}x"));
        }

        return 0;
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

    private static double Time(string path, (float[] Data, long[] Shape) frame, int runs, int threads)
    {
        using var m = new OrtModel(path, threads);
        return m.BenchmarkMs(new Dictionary<string, (float[], long[])> { [m.InputNames[0]] = frame }, 3, runs);
    }

    private static double TimeAdaIn(string path, (float[] Data, long[] Shape) frame, int runs, int threads)
    {
        using var m = new OrtModel(path, threads);
        int c = AdaInStylizer.FeatureChannels;
        var mean = new float[c];
        var std = Enumerable.Repeat(1f, c).ToArray();
        return m.BenchmarkMs(
            new Dictionary<string, (float[], long[])>
            {
                ["input"] = frame,
                ["style_mean"] = (mean, [1, c, 1, 1]),
                ["style_std"] = (std, [1, c, 1, 1]),
                ["style_rgb_mean"] = (new float[3], [1, 3, 1, 1]),
                ["style_rgb_std"] = ([1f, 1f, 1f], [1, 3, 1, 1]),
                ["alpha"] = ([1f], [1]),
            },
            3,
            runs);
    }
}
