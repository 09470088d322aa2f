using Google.Protobuf;
using TorchSharp;
using Video.Inference.Benchmarks;
using Video.Training.Data;
using Video.Training.Export;
using Video.Training.Methods;
using Video.Training.Models;

namespace Video.Training.Tests;

/// <summary>
/// Tests that change libtorch's process-wide state (<c>torch.set_num_threads</c>, the seed, so also the seeded
/// training runs) run alone: resizing the intra-op pool while another test's ops run on it is not safe (a parallel run
/// once gave another test's ResNet-18 stage a value of 1e20 and a training test a loss of 4.6e15).
/// </summary>
[CollectionDefinition(nameof(TorchGlobalState), DisableParallelization = true)]
public sealed class TorchGlobalState
{
}

/// <summary>
/// <c>video-train eager-bench</c>: the TorchSharp module rebuilt from an ONNX file's initializers computes what ONNX Runtime
/// computes on that file (shipped models and other specs), a graph that differs is caught, and non-trainer graphs are n/a.
/// </summary>
[Collection(nameof(TorchGlobalState))]
public sealed class EagerBenchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("video-train-eager-").FullName;

    [SkippableTheory]
    [InlineData("great-wave", "fast")]
    [InlineData("cartoon-anime", "fast")] // bilinear upsample, reflection padding: rebuilt as such (it was a mismatch)
    [InlineData("adain", "adain")]
    public void Measure_ShippedModel_MatchesOnnxRuntimeAndTimesEveryFrame(string name, string architecture)
    {
        var r = EagerBenchMethod.Measure(TestData.ShippedModel(name), null, 64, 48, 3, 2);
        Assert.Equal("ok", r.Status);
        Assert.Equal(architecture, r.Architecture);
        Assert.InRange(r.MaxAbsDiff, 0, EagerBenchMethod.Tolerance);
        Assert.Equal(3, r.Frames);
        Assert.True(r.MedianMs > 0 && r.P90Ms >= r.MedianMs, $"median {r.MedianMs}, p90 {r.P90Ms}");
        Assert.Equal(1000 / r.MeanMs, r.Fps, 6);

        // ONNX Runtime timed in turn in the same process; the figures reach video bench through the JSON line.
        Assert.True(r.OrtMedianMs > 0 && r.OrtMeanMs > 0, $"ONNX Runtime median {r.OrtMedianMs}, mean {r.OrtMeanMs}");
        Assert.Equal(r.MedianMs / r.OrtMedianMs, r.PairedRatio, 9);
        Assert.Equal(r, EagerBenchMethod.FromJson(EagerBenchMethod.ToJson(r)));
    }

    [SkippableFact]
    public void Measure_AdaInWithStyleImage_MatchesOnnxRuntime()
    {
        var style = Path.Combine(_dir, "style.png");
        using (var t = torch.rand(3, 40, 56))
        {
            ImageTensors.Save(t, style);
        }

        var r = EagerBenchMethod.Measure(TestData.ShippedModel("adain"), style, 64, 48, 1, 2);
        Assert.Equal("ok", r.Status);
        Assert.InRange(r.MaxAbsDiff, 0, EagerBenchMethod.Tolerance);
    }

    [SkippableFact]
    public void Measure_ProceduralToon_NotApplicable()
    {
        var r = EagerBenchMethod.Measure(TestData.ShippedModel("toon"), null, 64, 48, 3, 2);
        Assert.Equal("n/a", r.Status);
        Assert.Equal("not a trainer architecture", r.Reason);
        Assert.True(double.IsNaN(r.Fps));
    }

    [Fact]
    public void Measure_JohnsonSpec_RebuiltFromInitializers()
    {
        // Instance norm, 9×9 end convs, 5 residual blocks, full resolution: the spec is read back from the graph, not assumed.
        torch.manual_seed(5);
        using var model = new FastStylizer(StylizerSpec.Johnson);
        model.eval();
        var path = Path.Combine(_dir, "johnson.onnx");
        OnnxExporter.ExportFast(model, path);
        var r = EagerBenchMethod.Measure(path, null, 32, 24, 1, 2);
        Assert.Equal("ok", r.Status);
        Assert.InRange(r.MaxAbsDiff, 0, EagerBenchMethod.Tolerance);
    }

    [Fact]
    public void Monochrome_BaseIsGreyAndTheExportedGraphIsRebuiltAsMonochrome()
    {
        torch.manual_seed(8);
        using var model = new FastStylizer(StylizerSpec.CheapReflect with { Monochrome = true });
        model.SetStyleColour(torch.full(1, 3, 8, 8, 0.5f) + (torch.rand(1, 1, 8, 8) * 0.4f));
        model.eval();
        var x = torch.rand(1, 3, 32, 48);
        using (torch.no_grad())
        {
            var b = model.ResidualBase(x);
            Assert.InRange((b - b.mean([1], keepdim: true)).abs().max().item<float>(), 0f, 1e-5f);
        }

        var path = Path.Combine(_dir, "mono.onnx");
        OnnxExporter.ExportFast(model, path);
        var graph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph;
        using var rebuilt = EagerBenchMethod.BuildFast(graph, graph.Initializer.ToDictionary(t => t.Name, t => t));
        Assert.True(rebuilt.Spec.Monochrome);
        var r = EagerBenchMethod.Measure(path, null, 64, 48, 1, 2);
        Assert.Equal("ok", r.Status);
        Assert.InRange(r.MaxAbsDiff, 0, EagerBenchMethod.Tolerance);
    }

    [Fact]
    public void Measure_PadOnceSpec_RebuiltWithItsInputPad()
    {
        // One reflection Pad at the input and a Slice at the end: read back as InputPad, not as a pad before every conv.
        torch.manual_seed(7);
        using var model = new FastStylizer(StylizerSpec.CheapPadOnce);
        model.eval();
        var path = Path.Combine(_dir, "pad-once.onnx");
        OnnxExporter.ExportFast(model, path);
        var graph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph;
        Assert.Single(graph.Node, n => n.OpType == "Pad");
        using var rebuilt = EagerBenchMethod.BuildFast(graph, graph.Initializer.ToDictionary(t => t.Name, t => t));
        Assert.Equal(StylizerSpec.InputPadPixels, rebuilt.Spec.InputPad);
        Assert.False(rebuilt.Spec.ReflectPad);
        var r = EagerBenchMethod.Measure(path, null, 64, 48, 1, 2);
        Assert.Equal("ok", r.Status);
        Assert.InRange(r.MaxAbsDiff, 0, EagerBenchMethod.Tolerance);
    }

    [Fact]
    public void Measure_SeparableSpec_RebuiltWithItsDepthwiseStages()
    {
        // Grouped convs in the graph: rebuilt as the separable design (8 convs around the residual blocks), not rejected.
        torch.manual_seed(9);
        using var model = new FastStylizer(StylizerSpec.CheapSeparable(2) with { Dilated = true });
        model.eval();
        var path = Path.Combine(_dir, "separable.onnx");
        OnnxExporter.ExportFast(model, path);
        var graph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph;
        Assert.Equal(2, graph.Node.Count(n => n.OpType == "Conv" && n.Attribute.Any(a => a.Name == "group" && a.I > 1)));
        using var rebuilt = EagerBenchMethod.BuildFast(graph, graph.Initializer.ToDictionary(t => t.Name, t => t));
        Assert.Equal(2, rebuilt.Spec.SeparableStages);
        Assert.Equal(StylizerSpec.InputPadPixels, rebuilt.Spec.InputPad);
        Assert.Equal(2, rebuilt.Spec.ResidualBlocks);
        var r = EagerBenchMethod.Measure(path, null, 64, 48, 1, 2);
        Assert.Equal("ok", r.Status);
        Assert.InRange(r.MaxAbsDiff, 0, EagerBenchMethod.Tolerance);
    }

    [Fact]
    public void Measure_GraphDiffersFromModule_ReportsMismatch()
    {
        torch.manual_seed(6);
        using var model = new FastStylizer(StylizerSpec.Cheap);
        model.eval();
        var path = Path.Combine(_dir, "tampered.onnx");
        OnnxExporter.ExportFast(model, path);
        var onnx = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        onnx.Graph.Node.First(n => n.OpType == "Relu").OpType = "Sigmoid";
        File.WriteAllBytes(path, onnx.ToByteArray());

        var r = EagerBenchMethod.Measure(path, null, 32, 24, 1, 2);
        Assert.Equal("mismatch", r.Status);
        Assert.True(r.MaxAbsDiff > EagerBenchMethod.Tolerance, $"diff {r.MaxAbsDiff}");
        Assert.Equal(0, r.Frames);
    }

    [Fact]
    public void Measure_MissingFile_ThrowsOneLineError()
    {
        var e = Assert.Throws<TrainingDataException>(() => EagerBenchMethod.Measure(Path.Combine(_dir, "none.onnx"), null, 64, 48, 1, 2));
        Assert.StartsWith("model not found: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_NotApplicableResult_RoundTripsWithNaN()
    {
        var r = new EagerBenchResult("toon", "toon", "n/a", "not a trainer architecture", 64, 48, 0, 2, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        var json = EagerBenchMethod.ToJson(r);
        Assert.Contains("\"status\":\"n/a\"", json, StringComparison.Ordinal);
        Assert.Equal(r, EagerBenchMethod.FromJson(json));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
