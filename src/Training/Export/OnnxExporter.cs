using TorchSharp.Modules;
using Video.Inference.Onnx;
using Video.Training.Models;
using static TorchSharp.torch;

namespace Video.Training.Export;

/// <summary>
/// Hand-written TorchSharp → ONNX export (opset 17) of the layers our models use: Conv, InstanceNormalization, Relu,
/// Sigmoid, Add, nearest/bilinear Resize, AveragePool, the detail-restoring upsample and AdaIN. Each graph mirrors a
/// TorchSharp forward pass op for op; the parity tests check them against ONNX Runtime.
/// </summary>
/// <remarks>Stateless; the graphs are written through <see cref="OnnxGraphBuilder"/>.</remarks>
internal static class OnnxExporter
{
    public const int Opset = 17;

    /// <summary>Exports a fast stylizer taking the full frame <c>input</c> (1×3×H×W, RGB [0,1]) to <c>output</c> of the same size.</summary>
    public static void ExportFast(FastStylizer model, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var g = new OnnxGraphBuilder("fast_stylizer", Opset);
        var input = g.Input("input", 1, 3, null, null);
        string result;
        if (model.Spec.HalfResolution)
        {
            var low = AvgPool(g, input, 2, 2, 0, countIncludePad: true);
            var styled = Generator(g, model, low);
            result = model.Spec.Upsample switch
            {
                GeneratorUpsample.Guided => GuidedUpsample(g, input, low, styled, StylizerSpec.GuidedRadius, StylizerSpec.GuidedEpsilon),
                GeneratorUpsample.Bilinear => ResizeBilinear2x(g, styled),
                _ => DetailUpsample(g, input, low, styled),
            };
        }
        else
        {
            result = Generator(g, model, input);
        }

        g.Node("Identity", [result], "output");
        g.Output("output", 1, 3, null, null);
        g.Save(path, "video-train", metadata);
    }

    /// <summary>Appends the generator (<see cref="FastStylizer.forward"/>) and returns its output value name.</summary>
    internal static string Generator(OnnxGraphBuilder g, FastStylizer model, string x)
    {
        string input = x;
        string? skip = null;
        int i = 0;
        long pad = model.Spec.InputPad;
        if (pad > 0)
        {
            x = g.Node("Pad", [x, g.InitializerInt64(g.Fresh("input_pads"), [0, 0, pad, pad, 0, 0, pad, pad], 8)], null, ("mode", "reflect"));
        }

        foreach (var (kind, conv, norm) in model.Layers())
        {
            string p = $"g{i++}";
            if (kind is "up_conv_relu" or "up_depthwise")
            {
                x = ResizeNearest2x(g, x);
            }

            if (kind == "res_a")
            {
                skip = x;
            }

            x = Conv(g, p, conv, x, reflectPad: model.Spec.ReflectPad);
            if (norm is not null)
            {
                x = InstanceNorm(g, p, norm, x);
            }

            if (kind == "conv_sigmoid" && pad > 0)
            {
                x = g.Node("Slice", [x, g.InitializerInt64(g.Fresh("crop_starts"), [pad, pad], 2), g.InitializerInt64(g.Fresh("crop_ends"), [-pad, -pad], 2), g.InitializerInt64(g.Fresh("crop_axes"), [2, 3], 2)]);
            }

            x = kind switch
            {
                "res_b" => g.Node("Add", [x, skip!]),
                "up_depthwise" => x,
                "conv_sigmoid" => g.Node("Sigmoid", [model.Spec.ResidualInput ? g.Node("Add", [x, InputLogit(g, ResidualBase(g, model, input))]) : x]),
                _ => g.Node("Relu", [x]),
            };
        }

        return x;
    }

    /// <summary>The ONNX twin of <see cref="FastStylizer.ResidualBase"/> (style RGB statistics as constants).</summary>
    internal static string ResidualBase(OnnxGraphBuilder g, FastStylizer model, string x)
    {
        if (!model.Spec.ColourTransfer)
        {
            return x;
        }

        var sm = g.Initializer(g.Fresh("style_rgb_mean"), model.StyleRgbMean.contiguous().data<float>().ToArray(), 1, 3, 1, 1);
        var ss = g.Initializer(g.Fresh("style_rgb_std"), model.StyleRgbStd.contiguous().data<float>().ToArray(), 1, 3, 1, 1);
        if (model.Spec.Monochrome)
        {
            var luma = LumaOf(g, MonochromeLumaPrefix)(x);
            x = g.Node("Concat", [luma, luma, luma], null, ("axis", 1L));
        }

        var (xm, xs) = MeanStd(g, x);
        return g.Node("Add", [g.Node("Mul", [g.Node("Div", [g.Node("Sub", [x, xm]), xs]), ss]), sm]);
    }

    /// <summary>The ONNX twin of <see cref="FastStylizer.InputLogit"/>.</summary>
    internal static string InputLogit(OnnxGraphBuilder g, string x)
    {
        var c = g.Node("Clip", [x, Scalar(g, "lo", (float)FastStylizer.LogitClamp), Scalar(g, "hi", (float)(1 - FastStylizer.LogitClamp))]);
        return g.Node("Log", [g.Node("Div", [c, g.Node("Sub", [Scalar(g, "one", 1f), c])])]);
    }

    internal static string Conv(OnnxGraphBuilder g, string prefix, Conv2d conv, string x, bool reflectPad = false)
    {
        var w = conv.weight!.detach().contiguous();
        long[] shape = w.shape;
        var wName = g.Initializer(prefix + ".weight", w.data<float>().ToArray(), shape);
        long k = shape[2];
        long s = conv.stride[0];
        long pad = conv.padding is { } pd ? pd[0] : 0;
        long dil = conv.dilation[0];
        long group = conv.groups;
        if (reflectPad && pad > 0)
        {
            var pads = g.InitializerInt64(g.Fresh(prefix + ".pads"), [0, 0, pad, pad, 0, 0, pad, pad], 8);
            x = g.Node("Pad", [x, pads], null, ("mode", "reflect"));
            pad = 0;
        }

        var inputs = new List<string> { x, wName };
        if (conv.bias is not null)
        {
            inputs.Add(g.Initializer(prefix + ".bias", conv.bias.detach().contiguous().data<float>().ToArray(), shape[0]));
        }

        (string, object)[] attributes = [("kernel_shape", new[] { k, shape[3] }), ("strides", new[] { s, s }), ("pads", new[] { pad, pad, pad, pad }), ("dilations", new[] { dil, dil })];
        return g.Node("Conv", inputs, null, group == 1 ? attributes : [.. attributes, ("group", group)]);
    }

    internal static string InstanceNorm(OnnxGraphBuilder g, string prefix, InstanceNorm2d norm, string x)
    {
        var scale = g.Initializer(prefix + ".in_scale", norm.weight!.detach().contiguous().data<float>().ToArray(), norm.weight.shape[0]);
        var bias = g.Initializer(prefix + ".in_bias", norm.bias!.detach().contiguous().data<float>().ToArray(), norm.bias.shape[0]);
        return g.Node("InstanceNormalization", [x, scale, bias], null, ("epsilon", (float)norm.eps));
    }

    internal static string AvgPool(OnnxGraphBuilder g, string x, int kernel, int stride, int pad, bool countIncludePad) =>
        g.Node("AveragePool", [x], null,
            ("kernel_shape", new long[] { kernel, kernel }), ("strides", new long[] { stride, stride }),
            ("pads", new long[] { pad, pad, pad, pad }), ("count_include_pad", countIncludePad ? 1 : 0));

    internal static string ResizeNearest2x(OnnxGraphBuilder g, string x) =>
        g.Node("Resize", [x, "", Scales2x(g)], null,
            ("mode", "nearest"), ("coordinate_transformation_mode", "asymmetric"), ("nearest_mode", "floor"));

    internal static string ResizeBilinear2x(OnnxGraphBuilder g, string x) =>
        g.Node("Resize", [x, "", Scales2x(g)], null, ("mode", "linear"), ("coordinate_transformation_mode", "half_pixel"));

    internal static string Scalar(OnnxGraphBuilder g, string prefix, float value) => g.Initializer(g.Fresh(prefix), [value]);

    /// <summary>
    /// Returns a function appending 0.299 R + 0.587 G + 0.114 B (1×1×H×W) of a 1×3×H×W value, as one MatMul of the
    /// weights (1×3) with the value flattened to 1×3×(H·W). Not a 1×1 Conv: ONNX Runtime runs such a Conv in its blocked
    /// NCHWc layout, which pads the one output channel to 16 and adds a layout conversion, both at full frame size;
    /// Mul + ReduceSum makes two passes over the frame (docs/training.md, "Export and parity").
    /// </summary>
    /// <param name="g">The graph.</param>
    /// <param name="prefix">Name prefix of the initializers (the monochrome base uses its own, which marks it in the file).</param>
    internal static Func<string, string> LumaOf(OnnxGraphBuilder g, string prefix = "luma")
    {
        var weights = g.Initializer(g.Fresh(prefix), StylizerSpec.LumaWeights, 1, 3);
        var flat = g.InitializerInt64(g.Fresh(prefix + "_flat"), [1, 3, -1], 3);
        var oneOne = g.InitializerInt64(g.Fresh(prefix + "_one_one"), [1, 1], 2);
        var hwStart = g.InitializerInt64(g.Fresh(prefix + "_hw_start"), [2], 1);
        var hwEnd = g.InitializerInt64(g.Fresh(prefix + "_hw_end"), [4], 1);
        return t =>
        {
            var hw = g.Node("Slice", [g.Node("Shape", [t]), hwStart, hwEnd]);
            var y = g.Node("MatMul", [weights, g.Node("Reshape", [t, flat])]);
            return g.Node("Reshape", [y, g.Node("Concat", [oneOne, hw], null, ("axis", 0L))]);
        };
    }

    /// <summary>Initializer prefix of the luma of a <see cref="StylizerSpec.Monochrome"/> generator's base (how a reader of the file tells it is monochrome).</summary>
    internal const string MonochromeLumaPrefix = "mono_luma";

    /// <summary>The ONNX twin of <see cref="FastStylizer.GuidedUpsample"/> (luma as the MatMul of <see cref="LumaOf"/>, boxes as AveragePool).</summary>
    internal static string GuidedUpsample(OnnxGraphBuilder g, string frame, string low, string styledLow, int radius, double eps)
    {
        var luma = LumaOf(g);
        string Box(string t) => AvgPool(g, t, (2 * radius) + 1, 1, radius, countIncludePad: false);
        var iHi = luma(frame);
        var iLo = luma(low);
        var meanI = Box(iLo);
        var meanP = Box(styledLow);
        var cov = g.Node("Sub", [Box(g.Node("Mul", [iLo, styledLow])), g.Node("Mul", [meanI, meanP])]);
        var varI = g.Node("Sub", [Box(g.Node("Mul", [iLo, iLo])), g.Node("Mul", [meanI, meanI])]);
        var a = g.Node("Div", [cov, g.Node("Add", [varI, Scalar(g, "eps", (float)eps)])]);
        var b = g.Node("Sub", [meanP, g.Node("Mul", [a, meanI])]);
        var y = g.Node("Add", [g.Node("Mul", [ResizeBilinear2x(g, Box(a)), iHi]), ResizeBilinear2x(g, Box(b))]);
        return g.Node("Clip", [y, Scalar(g, "zero", 0f), Scalar(g, "one", 1f)]);
    }

    /// <summary>The ONNX twin of <see cref="FastStylizer.DetailUpsample"/>.</summary>
    internal static string DetailUpsample(OnnxGraphBuilder g, string frame, string low, string styledLow)
    {
        var luma = LumaOf(g);
        var y = g.Node("Add", [ResizeBilinear2x(g, g.Node("Sub", [styledLow, luma(low)])), luma(frame)]);
        return g.Node("Clip", [y, Scalar(g, "zero", 0f), Scalar(g, "one", 1f)]);
    }

    public const string StyleInput = "style";
    public const string StyleMean = "style_mean";
    public const string StyleStd = "style_std";
    public const string StyleRgbMean = "style_rgb_mean";
    public const string StyleRgbStd = "style_rgb_std";
    public const string AlphaInput = "alpha";

    /// <summary>Names of the style statistics, in the order of the style encoder's outputs.</summary>
    public static readonly string[] StyleStatistics = [StyleMean, StyleStd, StyleRgbMean, StyleRgbStd];

    /// <summary>
    /// Exports AdaIN as two graphs: <paramref name="stylePath"/> maps <c>style</c> (1×3×h×w, [0,1]) to <c>style_mean</c> and
    /// <c>style_std</c> (1×C×1×1), computed once per style; <paramref name="mainPath"/> maps <c>input</c> + those statistics +
    /// <c>alpha</c> ([1]) to <c>output</c>.
    /// </summary>
    public static void ExportAdaIn(AdaInStylizer model, string mainPath, string stylePath, IReadOnlyDictionary<string, string>? metadata = null)
    {
        int c = AdaInStylizer.FeatureChannels;
        var s = new OnnxGraphBuilder("adain_style_encoder", Opset);
        var style = s.Input(StyleInput, 1, 3, null, null);
        var styleLow = AvgPool(s, style, 2, 2, 0, countIncludePad: true);
        var (sm, ss) = MeanStd(s, Encoder(s, model.Encoder, PadTo32(s, styleLow).Padded));
        var (rm, rs) = MeanStd(s, styleLow);
        s.Node("Identity", [sm], StyleMean);
        s.Node("Identity", [ss], StyleStd);
        s.Node("Identity", [rm], StyleRgbMean);
        s.Node("Identity", [rs], StyleRgbStd);
        s.Output(StyleMean, 1, c, 1, 1);
        s.Output(StyleStd, 1, c, 1, 1);
        s.Output(StyleRgbMean, 1, 3, 1, 1);
        s.Output(StyleRgbStd, 1, 3, 1, 1);
        s.Save(stylePath, "video-train", metadata);

        var g = new OnnxGraphBuilder("adain_stylizer", Opset);
        var input = g.Input("input", 1, 3, null, null);
        var mean = g.Input(StyleMean, 1, c, 1, 1);
        var std = g.Input(StyleStd, 1, c, 1, 1);
        var rgbMean = g.Input(StyleRgbMean, 1, 3, 1, 1);
        var rgbStd = g.Input(StyleRgbStd, 1, 3, 1, 1);
        var alpha = g.Input(AlphaInput, 1);
        var low = AvgPool(g, input, 2, 2, 0, countIncludePad: true);
        string Blend(string x, string m, string sd)
        {
            var (xm, xs) = MeanStd(g, x);
            var adain = g.Node("Add", [g.Node("Mul", [g.Node("Div", [g.Node("Sub", [x, xm]), xs]), sd]), m]);
            return g.Node("Add", [x, g.Node("Mul", [alpha, g.Node("Sub", [adain, x])])]);
        }

        var (padded, offsets, size) = PadTo32(g, low);
        var t = Blend(Encoder(g, model.Encoder, padded), mean, std);
        var colourLogit = InputLogit(g, Blend(low, rgbMean, rgbStd));
        int i = 0;
        foreach (var (up, conv, sigmoid) in model.DecoderLayers())
        {
            if (up)
            {
                t = ResizeNearest2x(g, t);
            }

            t = Conv(g, $"d{i++}", conv, t, reflectPad: true);
            if (sigmoid)
            {
                var cropped = g.Node("Slice", [t, offsets, g.Node("Add", [offsets, size]), g.InitializerInt64(g.Fresh("crop_axes"), [2, 3], 2)]);
                t = g.Node("Sigmoid", [g.Node("Add", [cropped, colourLogit])]);
            }
            else
            {
                t = g.Node("Relu", [t]);
            }
        }

        var result = DetailUpsample(g, input, low, t);
        g.Node("Identity", [result], "output");
        g.Output("output", 1, 3, null, null);
        g.Save(mainPath, "video-train", metadata);
    }

    /// <summary>
    /// The AdaIN encoder: <see cref="Losses.ResNet18LossNetwork.Preprocess"/> (RGB [0,1] → BGR 0–255 minus the channel means)
    /// and the ResNet-18 trunk through <see cref="AdaInStylizer.EncoderBlocks"/> residual blocks, op for op: Conv with
    /// the batch norm folded in and the file's own (asymmetric) pads, Relu, MaxPool, Add. <paramref name="x"/>'s sides
    /// must be multiples of 32 (<see cref="PadTo32"/>).
    /// </summary>
    internal static string Encoder(OnnxGraphBuilder g, Losses.ResNet18LossNetwork net, string x)
    {
        var bgr = g.Node("Gather", [x, g.InitializerInt64(g.Fresh("rgb_to_bgr"), [2, 1, 0], 3)], null, ("axis", 1L));
        var mean = g.Initializer(g.Fresh("mean_bgr"), net.MeanBgr.ToArray(), 1, 3, 1, 1);
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [net.Ops[0].Inputs[0]] = g.Node("Sub", [g.Node("Mul", [bgr, Scalar(g, "scale255", 255f)]), mean]),
        };
        string? last = null;
        int i = 0;
        foreach (var op in net.TrunkOps(AdaInStylizer.EncoderBlocks))
        {
            string In(int k) => values[op.Inputs[k]];
            last = op.Kind switch
            {
                Losses.ResNet18LossNetwork.OpKind.Conv => ConvOf(g, $"enc{i++}", op, In(0)),
                Losses.ResNet18LossNetwork.OpKind.Relu => g.Node("Relu", [In(0)]),
                Losses.ResNet18LossNetwork.OpKind.MaxPool => g.Node("MaxPool", [In(0)], null,
                    ("kernel_shape", new[] { op.Kernel, op.Kernel }), ("strides", new[] { op.Stride, op.Stride }), ("pads", op.Pads)),
                Losses.ResNet18LossNetwork.OpKind.Add => g.Node("Add", [In(0), In(1)]),
                _ => throw new InvalidOperationException(op.Kind.ToString()),
            };
            values[op.Output] = last;
        }

        return last!;
    }

    private static string ConvOf(OnnxGraphBuilder g, string prefix, Losses.ResNet18LossNetwork.Op op, string x)
    {
        var w = op.Weight!.contiguous();
        var wName = g.Initializer(prefix + ".weight", w.data<float>().ToArray(), w.shape);
        var bName = g.Initializer(prefix + ".bias", op.Bias!.contiguous().data<float>().ToArray(), op.Bias.shape[0]);
        return g.Node("Conv", [x, wName, bName], null,
            ("kernel_shape", new[] { op.Kernel, op.Kernel }), ("strides", new[] { op.Stride, op.Stride }), ("pads", op.Pads), ("dilations", new long[] { 1, 1 }));
    }

    /// <summary>
    /// The ONNX twin of <see cref="AdaInStylizer.PadTo32"/> for any input size: reflection pads computed from the input's
    /// shape. Returns the padded value, the offsets of the original (int64 [top, left]) and its size (int64 [h, w]).
    /// </summary>
    internal static (string Padded, string Offsets, string Size) PadTo32(OnnxGraphBuilder g, string x)
    {
        var hw = g.Node("Slice", [g.Node("Shape", [x]), g.InitializerInt64(g.Fresh("hw_start"), [2], 1), g.InitializerInt64(g.Fresh("hw_end"), [4], 1)]);
        var k = g.InitializerInt64(g.Fresh("k32"), [32, 32], 2);
        var need = g.Node("Mod", [g.Node("Sub", [k, g.Node("Mod", [hw, k])]), k]);
        var before = g.Node("Div", [need, g.InitializerInt64(g.Fresh("two"), [2, 2], 2)]);
        var after = g.Node("Sub", [need, before]);
        var zeros = g.InitializerInt64(g.Fresh("zero_pads"), [0, 0], 2);
        var pads = g.Node("Concat", [zeros, before, zeros, after], null, ("axis", 0L));
        return (g.Node("Pad", [x, pads], null, ("mode", "reflect")), before, hw);
    }

    /// <summary>Per-channel mean and std (sqrt(var + 1e-5)) over H, W, as <see cref="Losses.StyleLosses.MeanStd"/>.</summary>
    internal static (string Mean, string Std) MeanStd(OnnxGraphBuilder g, string f)
    {
        var m = g.Node("ReduceMean", [f], null, ("axes", new long[] { 2, 3 }), ("keepdims", 1));
        var d = g.Node("Sub", [f, m]);
        var v = g.Node("ReduceMean", [g.Node("Mul", [d, d])], null, ("axes", new long[] { 2, 3 }), ("keepdims", 1));
        var s = g.Node("Sqrt", [g.Node("Add", [v, Scalar(g, "std_eps", (float)Losses.StyleLosses.StdEpsilon)])]);
        return (m, s);
    }

    private static string Scales2x(OnnxGraphBuilder g) => g.Initializer(g.Fresh("scales2x"), [1f, 1f, 2f, 2f], 4);
}
