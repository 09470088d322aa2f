using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using TorchSharp;
using Video.Training.Data;
using Video.Training.Losses;
using static TorchSharp.torch;

namespace Video.Training.Tests.Losses;

/// <summary>
/// The ImageNet ResNet-18 rebuilt in TorchSharp against ONNX Runtime running the package's own ONNX file with every
/// intermediate value exposed as an output, and against the package's preprocessing graph.
/// </summary>
public sealed class ResNet18LossNetworkTests : IDisposable
{
    private const double RelativeTolerance = 1e-4;
    private readonly string _dir = Directory.CreateTempSubdirectory("video-resnet18-").FullName;
    private readonly ResNet18LossNetwork _net = ResNet18LossNetwork.Load();

    [Theory]
    [InlineData(224, 224)]
    [InlineData(160, 288)]
    public void Run_EveryStage_MatchesOnnxRuntimeOnTheSameFile(int height, int width)
    {
        using var scope = torch.NewDisposeScope();
        using var photo = ImageTensors.Load(TestData.RequireShared("content/gcompris_details_towerbridgelondon.jpg"), 2 * Math.Max(height, width));
        var x = _net.Preprocess(photo.unsqueeze(0)[.., .., ..height, ..width].contiguous());
        var ours = _net.Run(x).ToList();
        Assert.Equal(8, ours.Count(v => v.IsBlockOutput));
        Assert.Equal(46, ours.Count); // stem conv, relu, max pool; 5 ops a block, plus a shortcut conv in the three downsampling blocks

        var exposed = WithEveryValueAsOutput(_net.Source, ours.Select(v => v.Name), height, width);
        using var session = new InferenceSession(exposed);
        var input = x.contiguous().data<float>().ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, height, width]);
        var names = ours.Select(v => v.Name).ToArray();
        using var outputs = session.Run(new Microsoft.ML.OnnxRuntime.RunOptions(), [session.InputNames[0]], [value], names);
        for (int i = 0; i < names.Length; i++)
        {
            var expected = outputs[i].GetTensorDataAsSpan<float>().ToArray();
            var actual = ours[i].Value.contiguous().data<float>().ToArray();
            Assert.Equal(expected.Length, actual.Length);
            double maxAbs = expected.Max(Math.Abs);
            double maxDiff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            Assert.True(maxDiff / maxAbs <= RelativeTolerance, $"{names[i]}: relative max difference {maxDiff / maxAbs:0.0e0} (max |value| {maxAbs:0.###})");
        }
    }

    [Fact]
    public void Preprocess_MatchesThePackagesPreprocessingGraph()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var rgb = torch.rand(1, 3, 224, 224);
        var prepPath = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(_net.Source))!, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        using var session = new InferenceSession(prepPath);
        var input = (rgb * 255f).contiguous().data<float>().ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, 224, 224]);
        using var outputs = session.Run(new Microsoft.ML.OnnxRuntime.RunOptions(), [session.InputNames[0]], [value], session.OutputNames);
        var expected = torch.tensor(outputs[0].GetTensorDataAsSpan<float>().ToArray(), [1, 3, 224, 224]);

        // Our preprocessing subtracts the mean image's per-channel means, so any size and any crop position work; the
        // graph subtracts the 224×224 mean image itself. They differ by exactly how far that image strays from its
        // channel means: take that off and what is left must be rounding.
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(prepPath));
        var sub = model.Graph.Node.Single(n => n.OpType == "Sub");
        var meanImageProto = model.Graph.Initializer.Single(t => t.Name == sub.Input[1]);
        var meanImage = ResNet18LossNetwork.FloatTensor(meanImageProto);
        var mean = _net.MeanBgr;
        var channelMeans = torch.tensor(mean.ToArray()).reshape(1, 3, 1, 1);
        double diff = (_net.Preprocess(rgb) - (meanImage - channelMeans) - expected).abs().max().item<float>();
        Assert.True(diff < 1e-3, $"max difference {diff:0.###} (0–255 scale) after the mean image's own deviation");
        Assert.True(mean[0] < mean[1] && mean[1] < mean[2], $"channel means B {mean[0]:0.##} G {mean[1]:0.##} R {mean[2]:0.##}: not in BGR order");
    }

    [Fact]
    public void Load_StemWeights_AreTrainedNotRandom()
    {
        using var scope = torch.NewDisposeScope();
        var stem = _net.Ops[0].Weight!;
        Assert.Equal([64L, 3, 7, 7], stem.shape);

        // Neighbouring taps of trained first-layer filters are smooth (correlated); random ones are not.
        var left = stem[.., .., .., ..^1].flatten();
        var right = stem[.., .., .., 1..].flatten();
        double r = torch.corrcoef(torch.stack([left, right])).data<float>()[1];
        Assert.True(r > 0.3, $"neighbouring-tap correlation {r:0.00}");
    }

    [Fact]
    public void Features_SideNotAMultipleOf32_PaddedAndEveryPixelGetsAGradient()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        var x = torch.rand(1, 3, 70, 100).requires_grad_(true);
        var feats = _net.Features(x);
        Assert.Equal(8, feats.Length);
        Assert.Equal([1L, 128, 9, 13], feats[_net.ContentLayer].shape); // 70×100 padded to 128×160 (16 px margin, then to multiples of 32), cropped back to the image's cells
        feats.Select(f => f.pow(2).mean()).Aggregate((a, b) => a + b).backward();
        var g = x.grad!.abs();
        foreach (var (side, border) in new[] { ("top", g[.., .., 0, ..]), ("bottom", g[.., .., ^1, ..]), ("left", g[.., .., .., 0]), ("right", g[.., .., .., ^1]) })
        {
            Assert.True(border.mean().item<float>() > 0, $"the {side} border gets no gradient");
        }
    }

    [Fact]
    public void Features_OppositeBorders_WeighTheSame()
    {
        // The graph's own pads are asymmetric (zeros at the top and left only in its stride-2 ops, 3 px top/left and 2
        // px bottom/right in the stem), so without the reflection margin the bottom rows reached the style statistics
        // through fewer paths than the top rows, and a generator trained on it painted a band along the bottom edge,
        // where the loss looked less (measured without it: bottom rows 0.50× the top rows' gradient, right columns 0.72×
        // the left ones'). With the margin (reflection) opposite borders weigh the same; each gets more than the interior
        // (about 1.6–2×: the mirror shows border pixels twice), which is how reflection padding treats borders anyway.
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(8);
        var x = torch.rand(4, 3, 160, 160).requires_grad_(true); // stationary: no part of the image differs from another
        _net.Features(x).Select(f => StyleLosses.Gram(f).pow(2).sum()).Aggregate((a, b) => a + b).backward();
        var g = x.grad!.abs().mean([0, 1]); // 160×160
        double Mean(Tensor band) => band.mean().item<float>();
        double bottomToTop = Mean(g[^4.., ..]) / Mean(g[..4, ..]);
        double rightToLeft = Mean(g[.., ^4..]) / Mean(g[.., ..4]);
        Assert.InRange(bottomToTop, 0.8, 1.25);
        Assert.InRange(rightToLeft, 0.8, 1.25);
    }

    [Fact]
    public void Load_MissingPackageFolder_OneLineError()
    {
        var e = Assert.Throws<TrainingDataException>(() => ResNet18LossNetwork.Load(Path.Combine(_dir, "nowhere")));
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Load_ContentBlock_SelectsTheLayerAndItsDescription()
    {
        using var net = ResNet18LossNetwork.Load(blocks: 4, contentBlock: 2);
        Assert.Equal(1, net.ContentLayer);
        Assert.Contains("content layer1.1", net.Description, StringComparison.Ordinal);
        using var x = torch.rand(1, 3, 64, 96);
        Assert.Equal([1L, 64, 16, 24], net.Features(x)[net.ContentLayer].shape);
        var e = Assert.Throws<TrainingDataException>(() => ResNet18LossNetwork.Load(blocks: 4, contentBlock: 5));
        Assert.StartsWith("the content block must be 1 to 4", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A copy of the model with the input's size set and every named value also a graph output.</summary>
    private string WithEveryValueAsOutput(string source, IEnumerable<string> names, int height, int width)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(source));
        var dims = model.Graph.Input[0].Type.TensorType.Shape.Dim;
        dims[2].DimValue = height;
        dims[3].DimValue = width;
        model.Graph.ValueInfo.Clear(); // the file's intermediate shapes are those of 224×224
        var existing = model.Graph.Output.Select(o => o.Name).ToHashSet();
        foreach (var n in names.Where(n => !existing.Contains(n)))
        {
            model.Graph.Output.Add(new ValueInfoProto
            {
                Name = n,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }

        // The final 7×7 average pool does not fit other sizes; it is not part of the trunk.
        if (height != 224 || width != 224)
        {
            var pool = model.Graph.Node.Single(n => n.OpType == "AveragePool");
            model.Graph.Node.Remove(pool);
            model.Graph.Output.Remove(model.Graph.Output.Single(o => o.Name == pool.Output[0]));
        }

        var path = Path.Combine(_dir, $"resnet18-{height}x{width}.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    public void Dispose()
    {
        _net.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
