using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Google.Protobuf;
using Onnx;
using TorchSharp;
using Video.Evaluation;
using Video.Inference.Benchmarks;
using Video.Training.Data;
using Video.Training.Export;
using Video.Training.Losses;
using Video.Training.Models;
using static TorchSharp.torch;

namespace Video.Training.Methods;

/// <summary>
/// The PyTorch-style baseline for <c>video bench</c>: rebuilds a shipped model's architecture as a TorchSharp module, loads
/// the weights from the ONNX file's own initializers (named by <see cref="OnnxExporter"/>: <c>g{i}.weight</c> for the
/// fast generator's layers in <see cref="FastStylizer.Layers"/> order, <c>enc{l}</c>/<c>d{i}</c> for the AdaIN encoder and
/// decoder), checks on one frame that it computes what ONNX Runtime computes on that file, then runs frames one by one in
/// eager mode (inference mode, no graph capture, <c>threads</c> intra-op threads) and reports per-frame times, with
/// ONNX Runtime's runs of the same file on the same frame timed in turn (one eager frame, one ONNX Runtime run).
/// </summary>
/// <remarks>
/// The timed call is the full-frame forward pass (<see cref="FastStylizer.FullFrame"/>, <see cref="AdaInStylizer.FullFrame"/>)
/// on a 1×3×H×W float tensor already in memory, the same work as the host's "inference only" case. AdaIN style statistics
/// are computed once before timing, as the host does. Not thread safe (sets TorchSharp's global thread count).
/// </remarks>
internal static class EagerBenchMethod
{
    public const double Tolerance = 1e-3;
    public const int WarmupFrames = 2;

    /// <summary>The <c>eager-bench</c> subcommand of <c>video-train</c>.</summary>
    public static System.CommandLine.Command Command()
    {
        var model = new System.CommandLine.Option<string>("--model") { Description = "ONNX file of a shipped model (models/NAME.onnx)", Required = true };
        var style = new System.CommandLine.Option<string?>("--style") { Description = "style image for AdaIN models (default: a fixed synthetic pattern)" };
        var width = new System.CommandLine.Option<int>("--width") { DefaultValueFactory = _ => 640 };
        var height = new System.CommandLine.Option<int>("--height") { DefaultValueFactory = _ => 360 };
        var frames = new System.CommandLine.Option<int>("--frames") { DefaultValueFactory = _ => 30 };
        var threads = new System.CommandLine.Option<int>("--threads") { DefaultValueFactory = _ => 2 };
        var json = new System.CommandLine.Option<bool>("--json") { Description = "print the result as one JSON object" };
        var cmd = new System.CommandLine.Command("eager-bench", "time a shipped model's weights in TorchSharp eager, frame by frame (the PyTorch-style baseline of video bench), after checking it against ONNX Runtime")
        {
            model, style, width, height, frames, threads, json,
        };
        cmd.SetAction(r =>
        {
            if (r.GetValue(style) is { } s)
            {
                TrainerCli.RequireFile(s, "style image");
            }

            return Run(r.GetValue(model)!, r.GetValue(style), r.GetValue(width), r.GetValue(height), r.GetValue(frames), r.GetValue(threads), r.GetValue(json));
        });
        return cmd;
    }

    public static int Run(string modelPath, string? stylePath, int width, int height, int frames, int threads, bool json)
    {
        var r = Measure(modelPath, stylePath, width, height, frames, threads);
        if (json)
        {
            Console.WriteLine(ToJson(r));
        }
        else if (r.Status == "ok")
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Model} ({r.Architecture}) TorchSharp eager, {r.Threads} threads, 1x3x{r.Height}x{r.Width}, {r.Frames} frames: median {r.MedianMs:0.0} ms, mean {r.MeanMs:0.0} ms, p90 {r.P90Ms:0.0} ms, {r.Fps:0.0} fps; ONNX Runtime in turn: median {r.OrtMedianMs:0.0} ms ({r.PairedRatio:0.00}x); max abs diff vs ONNX Runtime {r.MaxAbsDiff:0.0e0}"));
        }
        else
        {
            Console.WriteLine($"{r.Model}: {r.Status} ({r.Reason})");
        }

        return r.Status == "mismatch" ? 1 : 0;
    }

    public static string ToJson(EagerBenchResult r) => JsonSerializer.Serialize(r, JsonOptions);

    public static EagerBenchResult FromJson(string json) =>
        JsonSerializer.Deserialize<EagerBenchResult>(json, JsonOptions) ?? throw new JsonException("empty result");

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Rebuilds, checks and times <paramref name="modelPath"/>; throws <see cref="TrainingDataException"/> on bad input.</summary>
    public static EagerBenchResult Measure(string modelPath, string? stylePath, int width, int height, int frames, int threads)
    {
        if (frames is < 1 or > 10_000)
        {
            throw new TrainingDataException($"--frames {frames} is outside 1..10000");
        }

        if (width < 8 || height < 8 || width > 8192 || height > 8192)
        {
            throw new TrainingDataException($"--width {width} --height {height}: both must be in 8..8192");
        }

        if (threads < 1)
        {
            throw new TrainingDataException($"--threads {threads} must be at least 1");
        }

        var graph = ReadGraph(modelPath);
        string name = Path.GetFileNameWithoutExtension(modelPath);
        var weights = graph.Initializer.ToDictionary(t => t.Name, t => t, StringComparer.Ordinal);
        EagerBenchResult NotApplicable(string arch) => new(name, arch, "n/a", "not a trainer architecture", width, height, 0, threads, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);

        bool fast = graph.Name == "fast_stylizer" && weights.ContainsKey("g0.weight");
        bool adain = graph.Name == "adain_stylizer" && weights.ContainsKey("enc0.weight") && weights.ContainsKey("d0.weight");
        if (!fast && !adain)
        {
            return NotApplicable(string.IsNullOrEmpty(graph.Name) ? "unknown" : graph.Name);
        }

        if (width % 8 != 0 || height % 8 != 0)
        {
            throw new TrainingDataException($"--width {width} --height {height}: {name} needs multiples of 8");
        }

        torch.set_num_threads(threads);
        torch.manual_seed(7);
        using var frame = torch.rand(1, 3, height, width);
        if (fast)
        {
            using var model = BuildFast(graph, weights);
            using var ort = new OrtModel(modelPath, threads);
            return Time(name, "fast", frames, threads, width, height, ort, new Dictionary<string, Tensor> { ["input"] = frame }, () => model.FullFrame(frame));
        }

        {
            using var model = BuildAdaIn(weights);
            using var style = LoadStyle(stylePath);
            AdaInStyle stats;
            using (torch.inference_mode())
            using (torch.NewDisposeScope())
            {
                var s = model.StyleEncoderStatistics(style.unsqueeze(0));
                stats = new AdaInStyle(s.Mean.DetachFromDisposeScope(), s.Std.DetachFromDisposeScope(), s.RgbMean.DetachFromDisposeScope(), s.RgbStd.DetachFromDisposeScope());
            }

            using var alpha = torch.ones(1);
            using var ort = new OrtModel(modelPath, threads);
            var inputs = new Dictionary<string, Tensor>
            {
                ["input"] = frame,
                [OnnxExporter.StyleMean] = stats.Mean,
                [OnnxExporter.StyleStd] = stats.Std,
                [OnnxExporter.StyleRgbMean] = stats.RgbMean,
                [OnnxExporter.StyleRgbStd] = stats.RgbStd,
                [OnnxExporter.AlphaInput] = alpha,
            };
            try
            {
                return Time(name, "adain", frames, threads, width, height, ort, inputs, () => model.FullFrame(frame, stats, alpha));
            }
            finally
            {
                stats.Mean.Dispose();
                stats.Std.Dispose();
                stats.RgbMean.Dispose();
                stats.RgbStd.Dispose();
            }
        }
    }

    private static EagerBenchResult Time(string name, string arch, int frames, int threads, int width, int height, OrtModel ort, IReadOnlyDictionary<string, Tensor> ortInputs, Func<Tensor> forward)
    {
        double diff;
        using (torch.inference_mode())
        using (var scope = torch.NewDisposeScope())
        {
            var reference = ort.Run(ortInputs)[0];
            diff = (forward() - reference).abs().max().item<float>();
        }

        if (!(diff <= Tolerance))
        {
            return new EagerBenchResult(name, arch, "mismatch", string.Create(CultureInfo.InvariantCulture, $"TorchSharp and ONNX Runtime differ by {diff:0.0e0} > {Tolerance:0e0}"),
                width, height, 0, threads, double.NaN, double.NaN, double.NaN, double.NaN, diff);
        }

        // ONNX Runtime on the same file and frame, timed in turn with the eager frames (one of each, the order swapped every
        // frame): on a shared machine a ratio of runs minutes apart measures the load as much as the two runtimes.
        using var bound = ort.Bind(ortInputs.ToDictionary(kv => kv.Key, kv => (kv.Value.detach().contiguous().to(ScalarType.Float32).data<float>().ToArray(), kv.Value.shape)));
        double[] ms, ortMs;
        using (torch.inference_mode())
        {
            (ortMs, ms) = InTurn.Time(bound.RunMs, () => EagerFrameMs(forward), frames, WarmupFrames);
        }

        double mean = ms.Average(), ortMean = ortMs.Average();
        Array.Sort(ms);
        Array.Sort(ortMs);
        return new EagerBenchResult(name, arch, "ok", null, width, height, frames, threads,
            Percentile.OfSorted(ms, 0.5), mean, Percentile.OfSorted(ms, 0.9), 1000.0 / mean, diff, Percentile.OfSorted(ortMs, 0.5), ortMean);
    }

    private static double EagerFrameMs(Func<Tensor> forward)
    {
        using var scope = torch.NewDisposeScope();
        long t0 = Stopwatch.GetTimestamp();
        var y = forward();

        // CPU tensors are computed when the op returns; reading one value makes sure nothing is deferred.
        _ = y[0, 0, 0, 0].item<float>();
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }

    private static GraphProto ReadGraph(string path)
    {
        if (!File.Exists(path))
        {
            throw new TrainingDataException($"model not found: {path}");
        }

        try
        {
            using var stream = File.OpenRead(path);
            return ModelProto.Parser.ParseFrom(stream).Graph ?? throw new TrainingDataException($"{path} has no graph");
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TrainingDataException($"{path} is not an ONNX model: {e.Message}");
        }
    }

    /// <summary>
    /// How the exporter brought the half-resolution output back to full size: a linear <c>Resize</c> straight from the
    /// generator's <c>Sigmoid</c> to the output is <see cref="GeneratorUpsample.Bilinear"/>; box filters (<c>AveragePool</c>
    /// with stride 1) are the guided filter's; anything else is the detail upsample.
    /// </summary>
    internal static GeneratorUpsample UpsampleOf(GraphProto graph)
    {
        var producers = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n, StringComparer.Ordinal);
        var last = graph.Node.FirstOrDefault(n => n.Output.Contains("output"));
        if (last?.OpType == "Identity" && producers.TryGetValue(last.Input[0], out var resize) && resize.OpType == "Resize"
            && resize.Attribute.Any(a => a.Name == "mode" && a.S.ToStringUtf8() == "linear")
            && producers.TryGetValue(resize.Input[0], out var before) && before.OpType == "Sigmoid")
        {
            return GeneratorUpsample.Bilinear;
        }

        bool boxes = graph.Node.Any(n => n.OpType == "AveragePool" && n.Attribute.Any(a => a.Name == "strides" && a.Ints.All(v => v == 1)));
        return boxes ? GeneratorUpsample.Guided : GeneratorUpsample.Detail;
    }

    /// <summary>Reconstructs the <see cref="StylizerSpec"/> the exporter wrote and loads its weights.</summary>
    internal static FastStylizer BuildFast(GraphProto graph, IReadOnlyDictionary<string, TensorProto> w)
    {
        int layers = 0;
        while (w.ContainsKey($"g{layers}.weight"))
        {
            layers++;
        }

        // Each depthwise-separable upsampling stage is a grouped conv and a 1×1 conv: one conv more around the residual blocks.
        int separable = graph.Node.Count(n => n.OpType == "Conv" && n.Attribute.Any(a => a.Name == "group" && a.I > 1));
        int fixedConvs = 6 + separable;
        if (layers < fixedConvs || (layers - fixedConvs) % 2 != 0)
        {
            throw new TrainingDataException($"fast_stylizer graph has {layers} generator convs; expected {fixedConvs} + 2 per residual block");
        }

        // Pad before every conv (ReflectPad), or once at the input (InputPad, then the output is cropped by a Slice).
        var reflectPads = graph.Node.Where(n => n.OpType == "Pad" && n.Attribute.Any(a => a.Name == "mode" && a.S.ToStringUtf8() == "reflect")).ToList();
        var spec = new StylizerSpec(
            Channels: [(int)w["g0.weight"].Dims[0], (int)w["g1.weight"].Dims[0], (int)w["g2.weight"].Dims[0]],
            ResidualBlocks: (layers - fixedConvs) / 2,
            EndKernel: (int)w["g0.weight"].Dims[2],
            InstanceNorm: w.ContainsKey("g0.in_scale"),
            HalfResolution: graph.Node.Any(n => n.OpType == "AveragePool" && n.Input[0] == "input"),
            ResidualInput: graph.Node.Any(n => n.OpType == "Log"),
            ColourTransfer: w.Keys.Any(k => k.StartsWith("style_rgb_mean", StringComparison.Ordinal)),
            ReflectPad: reflectPads.Count > 1,
            InputPad: reflectPads.Count == 1 ? InputPadOf(reflectPads[0], w) : 0,
            Dilated: graph.Node.Any(n => n.OpType == "Conv" && n.Attribute.Any(a => a.Name == "dilations" && a.Ints.Any(d => d > 1))),
            Monochrome: w.Keys.Any(k => k.StartsWith(OnnxExporter.MonochromeLumaPrefix, StringComparison.Ordinal)),
            Upsample: UpsampleOf(graph),
            SeparableStages: separable);
        var model = new FastStylizer(spec);
        using (torch.no_grad())
        {
            int i = 0;
            foreach (var (_, conv, norm) in model.Layers())
            {
                string p = $"g{i++}";
                Load(conv.weight!, w, p + ".weight");
                if (conv.bias is not null)
                {
                    Load(conv.bias, w, p + ".bias");
                }

                if (norm is not null)
                {
                    Load(norm.weight!, w, p + ".in_scale");
                    Load(norm.bias!, w, p + ".in_bias");
                }
            }

            if (spec.ColourTransfer)
            {
                Load(model.StyleRgbMean, w, w.Keys.Single(k => k.StartsWith("style_rgb_mean", StringComparison.Ordinal)));
                Load(model.StyleRgbStd, w, w.Keys.Single(k => k.StartsWith("style_rgb_std", StringComparison.Ordinal)));
            }
        }

        model.eval();
        return model;
    }

    /// <summary>
    /// The AdaIN stylizer with the encoder (<c>enc{j}</c>, one per conv of the trunk, batch norm folded) and decoder
    /// (<c>d{i}</c>) weights of the file. The trunk's structure (pads, strides, shortcuts) comes from the ResNet-18 package.
    /// </summary>
    internal static AdaInStylizer BuildAdaIn(IReadOnlyDictionary<string, TensorProto> w)
    {
        var encoder = ResNet18LossNetwork.Load(blocks: AdaInStylizer.EncoderBlocks);
        var model = new AdaInStylizer(encoder);
        using (torch.no_grad())
        {
            int j = 0;
            foreach (var op in encoder.TrunkOps().Where(o => o.Kind == ResNet18LossNetwork.OpKind.Conv))
            {
                Load(op.Weight!, w, $"enc{j}.weight");
                Load(op.Bias!, w, $"enc{j++}.bias");
            }

            int i = 0;
            foreach (var (_, conv, _) in model.DecoderLayers())
            {
                string p = $"d{i++}";
                Load(conv.weight!, w, p + ".weight");
                Load(conv.bias!, w, p + ".bias");
            }
        }

        model.eval();
        return model;
    }

    /// <summary>The top border of a 4-D reflection <c>Pad</c> node (its pads initializer is [0, 0, top, left, 0, 0, bottom, right]).</summary>
    private static int InputPadOf(NodeProto pad, IReadOnlyDictionary<string, TensorProto> w)
    {
        if (pad.Input.Count < 2 || !w.TryGetValue(pad.Input[1], out var t))
        {
            throw new TrainingDataException("the reflection Pad of the fast_stylizer graph has no constant pads");
        }

        long[] pads = t.RawData.Length > 0 ? MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray() : [.. t.Int64Data];
        return pads.Length == 8 ? (int)pads[2] : throw new TrainingDataException($"the reflection Pad of the fast_stylizer graph has {pads.Length} pads; expected 8");
    }

    private static void Load(Tensor target, IReadOnlyDictionary<string, TensorProto> w, string name)
    {
        if (!w.TryGetValue(name, out var t))
        {
            throw new TrainingDataException($"initializer '{name}' is missing from the ONNX graph");
        }

        float[] data = t.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : [.. t.FloatData];
        if (data.Length != target.numel())
        {
            throw new TrainingDataException($"initializer '{name}' has {data.Length} values; the module expects {target.numel()} ({string.Join('x', target.shape)})");
        }

        using var src = torch.tensor(data, target.shape);
        target.copy_(src);
    }

    /// <summary>The style image as the host feeds it (long side 512 at most, sides a multiple of 8), or a fixed synthetic pattern.</summary>
    private static Tensor LoadStyle(string? path)
    {
        if (path is null)
        {
            var y = torch.linspace(0, 1, 256).reshape(1, 256, 1);
            var x = torch.linspace(0, 1, 256).reshape(1, 1, 256);
            var phase = torch.tensor(new float[] { 0f, 2f, 4f }).reshape(3, 1, 1);
            return ((torch.sin((x * 17) + (y * 5) + phase) * 0.4) + 0.5).to(ScalarType.Float32);
        }

        var img = ImageTensors.Load(path);
        long h = img.shape[1], wd = img.shape[2];
        double scale = Math.Min(1.0, 512.0 / Math.Max(h, wd));
        long nh = Math.Max(8, (long)Math.Round(h * scale / 8) * 8), nw = Math.Max(8, (long)Math.Round(wd * scale / 8) * 8);
        if (nh == h && nw == wd)
        {
            return img;
        }

        using (img)
        {
            return nn.functional.interpolate(img.unsqueeze(0), [nh, nw], mode: InterpolationMode.Bilinear, align_corners: false).squeeze(0);
        }
    }
}
