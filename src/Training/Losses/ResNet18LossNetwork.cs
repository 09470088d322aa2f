using System.Reflection;
using Onnx;
using TorchSharp;
using Video.Training.Data;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Losses;

/// <summary>How a loss network's activations are transformed before the style and content statistics are taken.</summary>
internal enum ActivationSmoothing
{
    /// <summary>The raw (post-ReLU) activations.</summary>
    None,

    /// <summary>
    /// SWAG (Wang, Li &amp; Vasconcelos, CVPR 2021): a softmax of the activations, here over the channels of each pixel with a
    /// temperature, which turns peaky, low-entropy ResNet activations into smooth ones that Gram statistics describe well.
    /// </summary>
    Softmax,
}

/// <summary>
/// The ImageNet ResNet-18 of the NuGet package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> 0.24.0 (MIT), rebuilt in
/// TorchSharp from the ONNX file's initializers by walking its graph: Conv (explicit, possibly asymmetric pads) with the
/// following BatchNormalization folded into weight and bias (running statistics: eval mode), Relu, MaxPool, Add. Frozen.
/// <see cref="Features"/> returns the outputs of the residual blocks (layer1.0 … layer4.1, as many as asked for).
/// </summary>
/// <remarks>
/// The network takes BGR in 0–255 minus the per-channel mean of the package's preprocessing graph
/// (<c>ResNetPreprocess.onnx</c>: Split, Concat B,G,R, Sub a mean image); <see cref="Preprocess"/> does that from RGB [0,1].
/// The file is never copied or downloaded: restore puts it in the NuGet package folder and <see cref="Locate"/> finds it
/// there. Not thread safe (TorchSharp tensors). See docs/loss-network.md.
/// </remarks>
internal sealed class ResNet18LossNetwork : ILossNetwork
{
    public const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";
    public const string PackageVersion = "0.24.0";
    public const string ModelRelativePath = "tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx";
    public const string PreprocessRelativePath = "tools/DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx";

    /// <summary>The residual blocks in order, torchvision's names (the loss layers are named after them in manifests).</summary>
    public static readonly string[] BlockNames = ["layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1"];

    private readonly List<Op> _ops;
    private readonly Tensor _meanBgr;
    private readonly int _blocks;

    private ResNet18LossNetwork(List<Op> ops, Tensor meanBgr, int blocks, ActivationSmoothing smoothing, double temperature, string source, int contentLayer)
    {
        ContentLayer = contentLayer;
        _ops = ops;
        _meanBgr = meanBgr;
        _blocks = blocks;
        Smoothing = smoothing;
        Temperature = temperature;
        Source = source;
    }

    /// <summary>Where the ONNX file was read from.</summary>
    public string Source { get; }

    public ActivationSmoothing Smoothing { get; }

    /// <summary>Softmax temperature of <see cref="ActivationSmoothing.Softmax"/>.</summary>
    public double Temperature { get; }

    /// <summary>Channel means (B, G, R order, 0–255 scale) the network expects subtracted, read from the preprocessing graph.</summary>
    public IReadOnlyList<float> MeanBgr => _meanBgr.flatten().data<float>().ToArray();

    /// <summary>Index of the content block in <see cref="Features"/>: layer2.1 (128 channels at 1/8 of the input) unless loaded with another.</summary>
    public int ContentLayer { get; }

    /// <summary>The default content block, 1-based: the fourth, layer2.1 (128 channels at 1/8 of the image).</summary>
    public const int DefaultContentBlock = 4;

    public string Description => $"resnet18-imagenet ({PackageId} {PackageVersion}, {Path.GetFileName(Source)}; style {string.Join('/', BlockNames.Take(_blocks))}, content {BlockNames[ContentLayer]}; " +
        (Smoothing == ActivationSmoothing.Softmax ? $"SWAG softmax over channels, T={Temperature:0.###})" : "raw activations)");

    /// <summary>The ops of the rebuilt trunk in execution order.</summary>
    internal IReadOnlyList<Op> Ops => _ops;

    /// <summary>
    /// Finds the package's files: <c>$VIDEO_RESNET18_DIR</c> (a folder holding <c>tools/…</c>), else the NuGet package folder
    /// (<c>$NUGET_PACKAGES</c>, the one the trainer was restored with, or <c>~/.nuget/packages</c>).
    /// </summary>
    public static string Locate()
    {
        var candidates = new List<string>();
        var env = Environment.GetEnvironmentVariable("VIDEO_RESNET18_DIR");
        if (!string.IsNullOrEmpty(env))
        {
            candidates.Add(env);
        }

        string Under(string root) => Path.Combine(root, PackageId.ToLowerInvariant(), PackageVersion);
        var nuget = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (!string.IsNullOrEmpty(nuget))
        {
            candidates.Add(Under(nuget));
        }

        var restored = typeof(ResNet18LossNetwork).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "NuGetPackageRoot")?.Value;
        if (!string.IsNullOrEmpty(restored))
        {
            candidates.Add(Under(restored));
        }

        candidates.Add(Under(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages")));
        foreach (var c in candidates)
        {
            if (File.Exists(Path.Combine(c, ModelRelativePath)) && File.Exists(Path.Combine(c, PreprocessRelativePath)))
            {
                return c;
            }
        }

        throw new TrainingDataException($"the ImageNet ResNet-18 ({PackageId} {PackageVersion}) is not in the NuGet package folder (looked in {string.Join(", ", candidates.Distinct())}); run `dotnet restore src/Training` or set VIDEO_RESNET18_DIR");
    }

    /// <summary>Loads the trunk up to the <paramref name="blocks"/>-th residual block (4–8) from <paramref name="packageDir"/> (default: <see cref="Locate"/>).</summary>
    public static ResNet18LossNetwork Load(string? packageDir = null, int blocks = 8, ActivationSmoothing smoothing = ActivationSmoothing.None, double temperature = 1, int contentBlock = DefaultContentBlock)
    {
        if (blocks is < 4 or > 8)
        {
            throw new TrainingDataException($"the ResNet-18 loss network takes 4 to 8 residual blocks; got {blocks}");
        }

        if (contentBlock < 1 || contentBlock > blocks)
        {
            throw new TrainingDataException($"the content block must be 1 to {blocks} (the style blocks): 2 is layer1.1 at 1/4 of the image, 4 is layer2.1 at 1/8; got {contentBlock}");
        }

        if (!(temperature > 0))
        {
            throw new TrainingDataException($"the softmax temperature must be positive; got {temperature}");
        }

        packageDir ??= Locate();
        var modelPath = Path.Combine(packageDir, ModelRelativePath);
        if (!File.Exists(modelPath) || !File.Exists(Path.Combine(packageDir, PreprocessRelativePath)))
        {
            throw new TrainingDataException($"the ImageNet ResNet-18 ({PackageId} {PackageVersion}) is not in {packageDir}: expected {ModelRelativePath} and {PreprocessRelativePath}");
        }

        var ops = ReadOps(ModelProto.Parser.ParseFrom(File.ReadAllBytes(modelPath)).Graph, blocks);
        var mean = ReadMeanBgr(ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(packageDir, PreprocessRelativePath))).Graph);
        return new ResNet18LossNetwork(ops, mean, blocks, smoothing, temperature, modelPath, contentBlock - 1);
    }

    /// <summary>RGB in [0,1] (B×3×H×W) → what the network takes: BGR in 0–255 minus the channel means.</summary>
    public Tensor Preprocess(Tensor rgb) => (rgb.flip(1) * 255f) - _meanBgr;

    /// <summary>Reflection margin <see cref="Features"/> puts round every image, in pixels (a multiple of the stride of layer2).</summary>
    public const int BorderMargin = 16;

    /// <summary>
    /// The block outputs (smoothed if so configured) of an RGB [0,1] image, over the image itself. The image is
    /// reflection-padded by <see cref="BorderMargin"/> on every side (more at the bottom and right to reach sides that are
    /// multiples of 32, which the graph's asymmetric pads need to line up the shortcuts), and every feature map is cropped
    /// back to the cells of the image. Without the margin the network's own pads, 3 px zeros at the top and left and 2 at
    /// the bottom and right in the stem, 1 and 0 in every stride-2 op, make the borders look special and weigh the bottom
    /// rows less than the top ones, which a generator learns to exploit (docs/training.md, "The border").
    /// </summary>
    public Tensor[] Features(Tensor image)
    {
        long h = image.shape[2], w = image.shape[3];
        long Extra(long side) => (32 - ((side + (2 * BorderMargin)) % 32)) % 32;
        long bottom = BorderMargin + Extra(h), right = BorderMargin + Extra(w);
        var padded = functional.pad(image, [BorderMargin, right, BorderMargin, bottom], PaddingModes.Reflect);
        var blocks = Blocks(Preprocess(padded)).Select(f =>
        {
            long stride = padded.shape[2] / f.shape[2];
            long top = BorderMargin / stride, left = BorderMargin / stride;
            return f[.., .., (int)top..(int)(f.shape[2] - (bottom / stride)), (int)left..(int)(f.shape[3] - (right / stride))];
        }).ToArray();
        return Smoothing == ActivationSmoothing.Softmax ? blocks.Select(f => functional.softmax(f / Temperature, 1)).ToArray() : blocks;
    }

    /// <summary>The raw outputs of the first <paramref name="blocks"/> residual blocks (default: all loaded) of a preprocessed input (see <see cref="Preprocess"/>).</summary>
    public Tensor[] Blocks(Tensor preprocessed, int? blocks = null) => Run(preprocessed, blocks).Where(v => v.IsBlockOutput).Select(v => v.Value).ToArray();

    /// <summary>Every op's output through the <paramref name="blocks"/>-th residual block, named as in the ONNX graph.</summary>
    public IEnumerable<(string Name, bool IsBlockOutput, Tensor Value)> Run(Tensor preprocessed, int? blocks = null) => Run(preprocessed, TrunkOps(blocks));

    /// <summary>The ops through the <paramref name="blocks"/>-th residual block (default: all loaded).</summary>
    internal IEnumerable<Op> TrunkOps(int? blocks = null)
    {
        int left = blocks ?? _blocks;
        foreach (var op in _ops)
        {
            if (left == 0)
            {
                yield break;
            }

            yield return op;
            if (op.IsBlockOutput)
            {
                left--;
            }
        }
    }

    private static IEnumerable<(string Name, bool IsBlockOutput, Tensor Value)> Run(Tensor preprocessed, IEnumerable<Op> ops)
    {
        Dictionary<string, Tensor>? values = null;
        foreach (var op in ops)
        {
            values ??= new(StringComparer.Ordinal) { [op.Inputs[0]] = preprocessed };
            var x = values[op.Inputs[0]];
            var y = op.Kind switch
            {
                OpKind.Conv => Conv(op, x),
                OpKind.Relu => functional.relu(x),
                OpKind.MaxPool => functional.max_pool2d(Pad(x, op.Pads, double.NegativeInfinity), op.Kernel, op.Stride),
                OpKind.Add => x + values[op.Inputs[1]],
                _ => throw new InvalidOperationException(op.Kind.ToString()),
            };
            values[op.Output] = y;
            yield return (op.Output, op.IsBlockOutput, y);
        }
    }

    private static Tensor Conv(Op op, Tensor x)
    {
        var p = op.Pads;
        bool symmetric = p[0] == p[2] && p[1] == p[3] && p[0] == p[1];
        if (!symmetric)
        {
            x = Pad(x, p, 0);
        }

        return functional.conv2d(x, op.Weight!, op.Bias, strides: [op.Stride, op.Stride], padding: symmetric ? [p[0], p[0]] : [0, 0]);
    }

    /// <summary>ONNX pads [top, left, bottom, right] as a constant pad (TorchSharp order: left, right, top, bottom).</summary>
    private static Tensor Pad(Tensor x, long[] p, double value) =>
        p.All(v => v == 0) ? x : functional.pad(x, [p[1], p[3], p[0], p[2]], PaddingModes.Constant, value);

    internal enum OpKind
    {
        Conv,
        Relu,
        MaxPool,
        Add,
    }

    /// <summary>One op of the trunk. Conv carries the BatchNormalization that followed it, folded in.</summary>
    internal sealed record Op(OpKind Kind, string[] Inputs, string Output, long[] Pads, long Kernel = 0, long Stride = 1, Tensor? Weight = null, Tensor? Bias = null)
    {
        /// <summary>A Relu after an Add: the output of a residual block.</summary>
        public bool IsBlockOutput { get; init; }
    }

    private static List<Op> ReadOps(GraphProto graph, int blocks)
    {
        var inits = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var producers = graph.Node.ToDictionary(n => n.Output[0], StringComparer.Ordinal);
        var ops = new List<Op>();
        int found = 0;
        using var noGrad = torch.no_grad();
        foreach (var node in graph.Node)
        {
                        switch (node.OpType)
            {
                case "Conv":
                {
                    var w = FloatTensor(inits[node.Input[1]]);
                    var bias = node.Input.Count > 2 ? FloatTensor(inits[node.Input[2]]) : torch.zeros(w.shape[0]);
                    var strides = Ints(node, "strides", [1, 1]);
                    if (strides.Distinct().Count() != 1 || Ints(node, "dilations", [1, 1]).Any(d => d != 1) || Int(node, "group", 1) != 1)
                    {
                        throw new TrainingDataException($"unexpected Conv {node.Name} in the ResNet-18 graph");
                    }

                    ops.Add(new Op(OpKind.Conv, [node.Input[0]], node.Output[0], Ints(node, "pads", [0, 0, 0, 0]), w.shape[2], strides[0], w, bias));
                    break;
                }

                case "BatchNormalization":
                {
                    // Fold into the conv that produced its input: y = γ (conv(x) + b − μ) / √(σ² + ε) + β.
                    var convIndex = ops.FindLastIndex(o => o.Output == node.Input[0] && o.Kind == OpKind.Conv);
                    if (convIndex < 0)
                    {
                        throw new TrainingDataException($"BatchNormalization {node.Name} does not follow a Conv");
                    }

                    var conv = ops[convIndex];
                    var gamma = FloatTensor(inits[node.Input[1]]);
                    var beta = FloatTensor(inits[node.Input[2]]);
                    var mu = FloatTensor(inits[node.Input[3]]);
                    var variance = FloatTensor(inits[node.Input[4]]);
                    float eps = node.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
                    var scale = gamma / (variance + eps).sqrt();
                    ops[convIndex] = conv with
                    {
                        Output = node.Output[0],
                        Weight = conv.Weight! * scale.reshape(-1, 1, 1, 1),
                        Bias = ((conv.Bias! - mu) * scale) + beta,
                    };
                    break;
                }

                case "Relu":
                {
                    bool block = producers.TryGetValue(node.Input[0], out var p) && p.OpType == "Add";
                    ops.Add(new Op(OpKind.Relu, [node.Input[0]], node.Output[0], [0, 0, 0, 0]) { IsBlockOutput = block });
                    if (block && ++found == blocks)
                    {
                        return ops;
                    }

                    break;
                }

                case "MaxPool":
                {
                    var k = Ints(node, "kernel_shape", []);
                    var s = Ints(node, "strides", [1, 1]);
                    ops.Add(new Op(OpKind.MaxPool, [node.Input[0]], node.Output[0], Ints(node, "pads", [0, 0, 0, 0]), k[0], s[0]));
                    break;
                }

                case "Add":
                    ops.Add(new Op(OpKind.Add, [node.Input[0], node.Input[1]], node.Output[0], [0, 0, 0, 0]));
                    break;
                case "AveragePool":
                    break;
                default:
                    throw new TrainingDataException($"unexpected op {node.OpType} in the ResNet-18 graph");
            }
        }

        if (found < blocks)
        {
            throw new TrainingDataException($"the ResNet-18 graph has {found} residual blocks, fewer than the {blocks} asked for");
        }

        return ops;
    }

    /// <summary>The preprocessing graph subtracts a 1×3×224×224 mean image from BGR input; its per-channel means, as 1×3×1×1.</summary>
    private static Tensor ReadMeanBgr(GraphProto graph)
    {
        var sub = graph.Node.Single(n => n.OpType == "Sub");
        var concat = graph.Node.Single(n => n.OpType == "Concat");
        var split = graph.Node.Single(n => n.OpType == "Split");
        if (concat.Input[0] != split.Output[2] || concat.Input[2] != split.Output[0])
        {
            throw new TrainingDataException("the ResNet-18 preprocessing graph does not reorder RGB to BGR as expected");
        }

        var meanImage = FloatTensor(graph.Initializer.Single(t => t.Name == sub.Input[1]));
        return meanImage.mean([0, 2, 3], keepdim: true);
    }

    internal static Tensor FloatTensor(TensorProto t)
    {
        float[] data = t.FloatData.Count > 0 ? [.. t.FloatData] : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
        return torch.tensor(data, [.. t.Dims]);
    }

    private static long[] Ints(NodeProto n, string name, long[] fallback) => n.Attribute.FirstOrDefault(a => a.Name == name)?.Ints.ToArray() ?? fallback;

    private static long Int(NodeProto n, string name, long fallback) => n.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? fallback;

    public void Dispose()
    {
        foreach (var op in _ops)
        {
            op.Weight?.Dispose();
            op.Bias?.Dispose();
        }

        _meanBgr.Dispose();
    }
}
