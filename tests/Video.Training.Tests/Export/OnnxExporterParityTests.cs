using TorchSharp;
using Video.Training.Data;
using Video.Training.Export;
using Video.Training.Losses;
using Video.Training.Models;
using static TorchSharp.torch;

namespace Video.Training.Tests.Export;

/// <summary>TorchSharp forward pass vs the exported graph in ONNX Runtime, for every shipped architecture.</summary>
public sealed class OnnxExporterParityTests : IDisposable
{
    private const float Tolerance = 1e-4f;
    private readonly string _dir = Directory.CreateTempSubdirectory("video-train-export-").FullName;

    public static TheoryData<string> Specs => new() { "cheap", "cheap-reflect", "cheap-reflect-dilated", "cheap-reflect-dilated-mono", "cheap-pad-once", "cheap-separable-1", "cheap-separable-2", "cartoon", "cartoon-guided", "johnson" };

    private static StylizerSpec SpecOf(string name) => name switch
    {
        "cheap" => StylizerSpec.Cheap,
        "cheap-reflect" => StylizerSpec.CheapReflect,
        "cheap-reflect-dilated" => StylizerSpec.CheapReflect with { Dilated = true },
        "cheap-reflect-dilated-mono" => StylizerSpec.CheapReflect with { Dilated = true, Monochrome = true },
        "cheap-pad-once" => StylizerSpec.CheapPadOnce,
        "cheap-separable-1" => StylizerSpec.CheapSeparable(1) with { Dilated = true },
        "cheap-separable-2" => StylizerSpec.CheapSeparable(2) with { Dilated = true },
        "cartoon" => StylizerSpec.Cartoon,
        "cartoon-guided" => StylizerSpec.Cartoon with { Upsample = GeneratorUpsample.Guided },
        _ => StylizerSpec.Johnson,
    };

    /// <summary>Random weights with non-trivial biases and norms, so that every layer matters.</summary>
    private static FastStylizer RandomFast(string spec)
    {
        torch.manual_seed(21);
        var m = new FastStylizer(SpecOf(spec));
        using (torch.no_grad())
        {
            foreach (var (name, p) in m.named_parameters())
            {
                if (name.EndsWith("bias", StringComparison.Ordinal))
                {
                    p.copy_(torch.randn(p.shape) * 0.1);
                }
                else if (p.dim() == 1)
                {
                    p.copy_(1 + (torch.randn(p.shape) * 0.1));
                }
            }
        }

        m.eval();
        return m;
    }

    private static float MaxDiff(Tensor a, Tensor b)
    {
        Assert.Equal(a.shape, b.shape);
        return (a - b).abs().max().item<float>();
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void ExportFast_RandomInput_MatchesTorchSharp(string spec)
    {
        using var model = RandomFast(spec);
        var path = Path.Combine(_dir, spec + ".onnx");
        OnnxExporter.ExportFast(model, path);
        using var ort = new OrtModel(path);
        torch.manual_seed(2);
        var x = torch.rand(1, 3, 72, 120);
        using (torch.no_grad())
        {
            Assert.InRange(MaxDiff(model.FullFrame(x), ort.Run("input", x)), 0, Tolerance);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Specs))]
    public void ExportFast_RealPhoto_MatchesTorchSharp(string spec)
    {
        var photo = TestData.RequireShared("content/gcompris_erase_kitten.jpg");
        using var model = RandomFast(spec);
        var path = Path.Combine(_dir, spec + "_photo.onnx");
        OnnxExporter.ExportFast(model, path);
        using var ort = new OrtModel(path);
        using var mat = SampleSheet.ContentCell(photo);
        var x = ImageTensors.FromBgr(mat).unsqueeze(0);
        using (torch.no_grad())
        {
            Assert.InRange(MaxDiff(model.FullFrame(x), ort.Run("input", x)), 0, Tolerance);
        }
    }

    private (AdaInStylizer Model, ResNet18LossNetwork Net, OrtModel Main, OrtModel Style) AdaIn()
    {
        torch.manual_seed(31);
        var net = ResNet18LossNetwork.Load(blocks: AdaInStylizer.EncoderBlocks);
        var model = new AdaInStylizer(net);
        model.eval();
        var main = Path.Combine(_dir, "adain.onnx");
        var style = Path.Combine(_dir, "adain.style.onnx");
        OnnxExporter.ExportAdaIn(model, main, style);
        return (model, net, new OrtModel(main), new OrtModel(style));
    }

    private static void AssertAdaInParity(AdaInStylizer model, OrtModel main, OrtModel styleEncoder, Tensor x, Tensor style, float alpha)
    {
        using var scope = torch.NewDisposeScope();
        var stats = styleEncoder.Run(new Dictionary<string, Tensor> { [OnnxExporter.StyleInput] = style });
        Assert.Equal(OnnxExporter.StyleStatistics, styleEncoder.OutputNames);
        var a = torch.tensor(new[] { alpha });
        var feeds = new Dictionary<string, Tensor> { ["input"] = x, [OnnxExporter.AlphaInput] = a };
        for (int i = 0; i < stats.Length; i++)
        {
            feeds[OnnxExporter.StyleStatistics[i]] = stats[i];
        }

        var y = main.Run(feeds)[0];
        using (torch.no_grad())
        {
            var st = model.StyleEncoderStatistics(style);
            Assert.InRange(MaxDiff(st.Mean, stats[0]), 0, Tolerance);
            Assert.InRange(MaxDiff(st.Std, stats[1]), 0, Tolerance);
            Assert.InRange(MaxDiff(st.RgbMean, stats[2]), 0, Tolerance);
            Assert.InRange(MaxDiff(st.RgbStd, stats[3]), 0, Tolerance);
            Assert.InRange(MaxDiff(model.FullFrame(x, st, a), y), 0, Tolerance);
        }
    }

    [Fact]
    public void ExportAdaIn_RandomInput_MatchesTorchSharp()
    {
        var (model, net, main, style) = AdaIn();
        using (net)
        using (model)
        using (main)
        using (style)
        {
            torch.manual_seed(3);
            AssertAdaInParity(model, main, style, torch.rand(1, 3, 72, 120), torch.rand(1, 3, 100, 80), 1f);
            AssertAdaInParity(model, main, style, torch.rand(1, 3, 72, 120), torch.rand(1, 3, 100, 80), 0.5f);
        }
    }

    [SkippableFact]
    public void ExportAdaIn_RealPhoto_MatchesTorchSharp()
    {
        var photo = TestData.RequireShared("content/gcompris_erase_kitten.jpg");
        var painting = TestData.RequireShared("style/vangogh_starry_night.jpg");
        var (model, net, main, style) = AdaIn();
        using (net)
        using (model)
        using (main)
        using (style)
        using (var mat = SampleSheet.ContentCell(photo))
        {
            AssertAdaInParity(model, main, style, ImageTensors.FromBgr(mat).unsqueeze(0), ImageTensors.Load(painting, 512).unsqueeze(0), 0.7f);
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
