namespace Video.Inference.Onnx;

/// <summary>
/// Small models whose weights are set by hand rather than trained: the shipped procedural "toon"
/// filter (the default until trained models exist) and fixtures whose output can be computed by hand.
/// </summary>
public static class ProceduralModels
{
    /// <summary>
    /// A cartoon filter as a network: Gaussian blur, colour posterisation by a sum of steep sigmoids,
    /// a saturation boost, and dark outlines where the Sobel gradient of luminance is strong.
    /// Input and output are 1×3×H×W RGB in [0, 1], any size.
    /// </summary>
    public static void WriteToon(string path, int levels = 6, float edgeThreshold = 0.28f, float saturation = 0.35f)
    {
        var g = new OnnxGraphBuilder("toon");
        string x = g.Input("input", 1, 3, null, null);

        // 5×5 Gaussian (σ = 1.2) per channel: smooths texture so posterisation gives flat regions.
        float[] gauss = Gaussian(5, 1.2f);
        var blurW = new float[3 * 25];
        for (int c = 0; c < 3; c++)
        {
            gauss.CopyTo(blurW, c * 25);
        }

        // Reflection padding keeps the frame border from reading as an edge.
        string padded = g.Node("Pad", [x, g.InitializerInt64("pad2", [0, 0, 2, 2, 0, 0, 2, 2], 8)], attributes: [("mode", "reflect")]);
        string blur = g.Node("Conv", [padded, g.Initializer("blur_w", blurW, 3, 1, 5, 5)], attributes: [("group", 3)]);

        // Luminance → Sobel x/y → gradient magnitude → soft "no edge" mask (1 flat, 0 on strong edges).
        string lum = g.Node("Conv", [blur, g.Initializer("lum_w", [0.299f, 0.587f, 0.114f], 1, 3, 1, 1)]);
        float[] sobel = [-1, 0, 1, -2, 0, 2, -1, 0, 1, -1, -2, -1, 0, 0, 0, 1, 2, 1];
        string lumPadded = g.Node("Pad", [lum, g.InitializerInt64("pad1", [0, 0, 1, 1, 0, 0, 1, 1], 8)], attributes: [("mode", "reflect")]);
        string grad = g.Node("Conv", [lumPadded, g.Initializer("sobel_w", sobel, 2, 1, 3, 3)]);
        string sq = g.Node("Mul", [grad, grad]);
        string mag2 = g.Node("Conv", [sq, g.Initializer("sum_w", [1f, 1f], 1, 2, 1, 1), g.Initializer("eps", [1e-6f], 1)]);
        string mag = g.Node("Sqrt", [mag2]);
        string edgeLogit = g.Node("Mul", [g.Node("Sub", [g.Initializer("edge_t", [edgeThreshold], 1), mag]), g.Initializer("edge_s", [18f], 1)]);
        string keep = g.Node("Sigmoid", [edgeLogit]);

        // Posterise: q(v) = mean_i sigmoid(s·(v − (i + ½)/L)), a smooth staircase with L + 1 steps.
        var stepW = new float[3 * levels];
        var stepB = new float[3 * levels];
        const float steep = 90f;
        for (int c = 0; c < 3; c++)
        {
            for (int i = 0; i < levels; i++)
            {
                stepW[(c * levels) + i] = steep;
                stepB[(c * levels) + i] = -steep * (i + 0.5f) / levels;
            }
        }

        string steps = g.Node("Sigmoid", [g.Node("Conv", [blur, g.Initializer("step_w", stepW, 3 * levels, 1, 1, 1), g.Initializer("step_b", stepB, 3 * levels)], attributes: [("group", 3)])]);
        string poster = g.Node("Conv", [steps, g.Initializer("mean_w", Enumerable.Repeat(1f / levels, 3 * levels).ToArray(), 3, levels, 1, 1)], attributes: [("group", 3)]);

        // Saturation: v' = (1 + a)·v − a·luma(v).
        float[] lw = [0.299f, 0.587f, 0.114f];
        var satW = new float[9];
        for (int o = 0; o < 3; o++)
        {
            for (int i = 0; i < 3; i++)
            {
                satW[(o * 3) + i] = (o == i ? 1 + saturation : 0) - (saturation * lw[i]);
            }
        }

        string saturated = g.Node("Conv", [poster, g.Initializer("sat_w", satW, 3, 3, 1, 1)]);
        string inked = g.Node("Mul", [saturated, keep]);
        g.Node("Clip", [inked, g.Initializer("zero", [0f]), g.Initializer("one", [1f])], "output");
        g.Output("output", 1, 3, null, null);
        g.Save(path, metadata: new Dictionary<string, string> { ["family"] = "cartoon", ["procedural"] = "toon" });
    }

    /// <summary>A fixture: output = <paramref name="gain"/>·input + <paramref name="bias"/>, 1×3×H×W in [0, 1].</summary>
    public static void WriteAffine(string path, float gain, float bias)
    {
        var g = new OnnxGraphBuilder("affine");
        string x = g.Input("input", 1, 3, null, null);
        string y = g.Node("Mul", [x, g.Initializer("gain", [gain], 1)]);
        g.Node("Add", [y, g.Initializer("bias", [bias], 1)], "output");
        g.Output("output", 1, 3, null, null);
        g.Save(path);
    }

    /// <summary>
    /// A fixture in the shape of the ONNX Model Zoo fast-neural-style models: input <c>input1</c> and output
    /// <c>output1</c>, 1×3×224×224, float 0–255, RGB. It applies a sepia colour matrix.
    /// </summary>
    public static void WriteZooShapedSepia(string path)
    {
        var g = new OnnxGraphBuilder("zoo_sepia");
        string x = g.Input("input1", 1, 3, 224, 224);
        float[] sepia = [0.393f, 0.769f, 0.189f, 0.349f, 0.686f, 0.168f, 0.272f, 0.534f, 0.131f];
        string y = g.Node("Conv", [x, g.Initializer("sepia_w", sepia, 3, 3, 1, 1)]);
        g.Node("Clip", [y, g.Initializer("lo", [0f]), g.Initializer("hi", [255f])], "output1");
        g.Output("output1", 1, 3, 224, 224);
        g.Save(path);
    }

    /// <summary>
    /// A fixture with the AdaIN contract on raw pixels: <c>NAME.style.onnx</c> maps a style image to its
    /// per-channel mean and standard deviation (<c>style_mean</c>, <c>style_std</c>, 1×3×1×1), and
    /// <c>NAME.onnx</c> re-normalises each frame's channels to them, blended with the frame by <c>alpha</c>.
    /// Output = α·((x − μ(x)) / σ(x) · σ_s + μ_s) + (1 − α)·x, computable by hand.
    /// </summary>
    public static void WritePixelAdain(string directory, string name)
    {
        var e = new OnnxGraphBuilder("pixel_adain_style");
        string s = e.Input("style", 1, 3, null, null);
        var (sMean, sStd) = MeanStd(e, s, "style_mean", "style_std");
        e.Output(sMean, 1, 3, 1, 1);
        e.Output(sStd, 1, 3, 1, 1);
        e.Save(Path.Combine(directory, name + ".style.onnx"));

        var g = new OnnxGraphBuilder("pixel_adain");
        string x = g.Input("input", 1, 3, null, null);
        string styleMean = g.Input("style_mean", 1, 3, 1, 1);
        string styleStd = g.Input("style_std", 1, 3, 1, 1);
        string alpha = g.Input("alpha", 1);
        var (cMean, cStd) = MeanStd(g, x, null, null);
        string normalised = g.Node("Div", [g.Node("Sub", [x, cMean]), cStd]);
        string target = g.Node("Add", [g.Node("Mul", [normalised, styleStd]), styleMean]);
        string blended = g.Node("Add", [g.Node("Mul", [target, alpha]), g.Node("Mul", [x, g.Node("Sub", [g.Initializer("one", [1f], 1), alpha])])]);
        g.Node("Identity", [blended], "output");
        g.Output("output", 1, 3, null, null);
        g.Save(Path.Combine(directory, name + ".onnx"));
    }

    private static (string Mean, string Std) MeanStd(OnnxGraphBuilder g, string x, string? meanName, string? stdName)
    {
        string mean = g.Node("ReduceMean", [x], meanName, ("axes", new[] { 2, 3 }), ("keepdims", 1));
        string centred = g.Node("Sub", [x, mean]);
        string variance = g.Node("ReduceMean", [g.Node("Mul", [centred, centred])], attributes: [("axes", new[] { 2, 3 }), ("keepdims", 1)]);
        string std = g.Node("Sqrt", [g.Node("Add", [variance, g.Initializer(g.Fresh("eps"), [1e-5f], 1)])], stdName);
        return (mean, std);
    }

    private static float[] Gaussian(int size, float sigma)
    {
        var k = new float[size * size];
        int r = size / 2;
        float sum = 0;
        for (int y = -r; y <= r; y++)
        {
            for (int x = -r; x <= r; x++)
            {
                float v = MathF.Exp(-((x * x) + (y * y)) / (2 * sigma * sigma));
                k[((y + r) * size) + x + r] = v;
                sum += v;
            }
        }

        for (int i = 0; i < k.Length; i++)
        {
            k[i] /= sum;
        }

        return k;
    }
}
