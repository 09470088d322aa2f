using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Models;

/// <summary>
/// The per-style feed-forward generator (see <see cref="StylizerSpec"/>). <see cref="forward"/> maps a B×3×H×W image in
/// [0,1] (H, W multiples of 4) to a stylized image of the same size. The shipped ONNX graph wraps it with a 2×2 average
/// downscale and a detail-restoring upsample (<see cref="DetailUpsample"/>), see <see cref="FullFrame"/>.
/// </summary>
/// <remarks>Not thread safe (TorchSharp module).</remarks>
internal sealed class FastStylizer : Module<Tensor, Tensor>
{
    private readonly Conv2d conv_in;
    private readonly Conv2d down1;
    private readonly Conv2d down2;
    private readonly ModuleList<Conv2d> res = new();
    private readonly Conv2d? up1;
    private readonly Conv2d? up2;

    // With StylizerSpec.SeparableStages: per separable upsampling stage a depthwise 3×3 conv and a 1×1 conv (instead of up1, up2).
    private readonly ModuleList<Conv2d> up_separable = new();
    private readonly Conv2d conv_out;
    private readonly ModuleList<InstanceNorm2d> norms = new();

    // Buffers (saved with the weights): the style image's RGB mean and std for the baked colour transfer.
    private readonly Tensor style_rgb_mean = torch.full(1, 3, 1, 1, 0.5f);
    private readonly Tensor style_rgb_std = torch.full(1, 3, 1, 1, 0.25f);

    public FastStylizer(StylizerSpec spec)
        : base("fast_stylizer")
    {
        Spec = spec;
        int c1 = spec.Channels[0], c2 = spec.Channels[1], c3 = spec.Channels[2], k = spec.EndKernel;
        var pm = spec.ReflectPad ? PaddingModes.Reflect : PaddingModes.Zeros;
        conv_in = Conv2d(3, c1, k, padding: k / 2, padding_mode: pm);
        down1 = Conv2d(c1, c2, 3, stride: 2, padding: 1, padding_mode: pm);
        down2 = Conv2d(c2, c3, 3, stride: 2, padding: 1, padding_mode: pm);
        for (int i = 0; i < 2 * spec.ResidualBlocks; i++)
        {
            int d = spec.ResidualDilation(i);
            res.Add(Conv2d(c3, c3, 3, padding: d, dilation: d, padding_mode: pm));
        }

        if (spec.SeparableStages is < 0 or > StylizerSpec.UpsamplingStages || (spec.SeparableStages > 0 && spec.InstanceNorm))
        {
            throw new ArgumentException($"separable upsampling stages: 0..{StylizerSpec.UpsamplingStages}, for the cheap design (no instance norm); got {spec.SeparableStages}", nameof(spec));
        }

        if (spec.SeparableStages == 2)
        {
            up_separable.Add(Conv2d(c3, c3, 3, padding: 1, groups: c3, padding_mode: pm));
            up_separable.Add(Conv2d(c3, c2, 1));
        }
        else
        {
            up1 = Conv2d(c3, c2, 3, padding: 1, padding_mode: pm);
        }

        if (spec.SeparableStages >= 1)
        {
            up_separable.Add(Conv2d(c2, c2, 3, padding: 1, groups: c2, padding_mode: pm));
            up_separable.Add(Conv2d(c2, c1, 1));
        }
        else
        {
            up2 = Conv2d(c2, c1, 3, padding: 1, padding_mode: pm);
        }

        conv_out = Conv2d(c1, 3, k, padding: k / 2, padding_mode: pm);
        if (spec.InstanceNorm)
        {
            foreach (var c in NormChannels(spec))
            {
                norms.Add(InstanceNorm2d(c, affine: true));
            }
        }

        RegisterComponents();
    }

    public StylizerSpec Spec { get; }

    public Tensor StyleRgbMean => style_rgb_mean;

    public Tensor StyleRgbStd => style_rgb_std;

    /// <summary>Sets the colour-transfer target from a style image (3×H×W or 1×3×H×W, [0,1]).</summary>
    public void SetStyleColour(Tensor style)
    {
        using var scope = torch.NewDisposeScope();
        using (torch.no_grad())
        {
            var (m, s) = Losses.StyleLosses.MeanStd(style.dim() == 3 ? style.unsqueeze(0) : style);
            style_rgb_mean.copy_(m);
            style_rgb_std.copy_(s);
        }
    }

    /// <summary>The image the output is a change of: the input, or its colour transfer to the style's RGB statistics.</summary>
    public Tensor ResidualBase(Tensor x) => Spec.ColourTransfer ? Losses.StyleLosses.AdaIn(Spec.Monochrome ? Luma(x).expand(-1, 3, -1, -1) : x, style_rgb_mean, style_rgb_std) : x;

    /// <summary>B×1×H×W Rec. 601 luma of a B×3×H×W RGB image.</summary>
    public static Tensor Luma(Tensor x) => (x * torch.tensor(StylizerSpec.LumaWeights).reshape(1, 3, 1, 1)).sum(1, keepdim: true);

    /// <summary>The layers in execution order, for the exporter.</summary>
    internal IEnumerable<(string Kind, Conv2d Conv, InstanceNorm2d? Norm)> Layers()
    {
        int n = 0;
        InstanceNorm2d? Norm() => Spec.InstanceNorm ? norms[n++] : null;
        yield return ("conv_relu", conv_in, Norm());
        yield return ("conv_relu", down1, Norm());
        yield return ("conv_relu", down2, Norm());
        for (int i = 0; i < Spec.ResidualBlocks; i++)
        {
            yield return ("res_a", res[2 * i], Norm());
            yield return ("res_b", res[(2 * i) + 1], Norm());
        }

        int separable = 0;
        foreach (var conv in new[] { up1, up2 })
        {
            if (conv is not null)
            {
                yield return ("up_conv_relu", conv, Norm());
            }
            else
            {
                yield return ("up_depthwise", up_separable[separable++], null);
                yield return ("pointwise_relu", up_separable[separable++], null);
            }
        }

        yield return ("conv_sigmoid", conv_out, null);
    }

    public const double LogitClamp = 0.01;

    public override Tensor forward(Tensor x) => Apply(LogitChange(x), x);

    /// <summary>
    /// The image from the generator's last conv <paramref name="change"/>: <c>sigmoid(change + logit(base))</c> with the
    /// base <see cref="ResidualBase"/> of <paramref name="input"/> when the spec adds the input, else <c>sigmoid(change)</c>.
    /// </summary>
    public Tensor Apply(Tensor change, Tensor input) =>
        Spec.ResidualInput ? torch.sigmoid(change + InputLogit(ResidualBase(input))) : torch.sigmoid(change);

    /// <summary>
    /// The generator's last conv before the sigmoid: with a residual spec, the change it makes to the (colour-transferred)
    /// input in logit space. Its mean square is the change penalty of <c>--change-weight</c>: it keeps the sigmoid out of
    /// saturation (no white or black collapse) and the photo under the paint.
    /// </summary>
    public Tensor LogitChange(Tensor x) => LogitChange(x, null);

    private Tensor LogitChange(Tensor x, List<Tensor>? taps)
    {
        int p = Spec.InputPad;
        if (p > 0)
        {
            x = functional.pad(x, [p, p, p, p], PaddingModes.Reflect);
        }

        Tensor? skip = null;
        foreach (var (kind, conv, norm) in Layers())
        {
            if (kind is "up_conv_relu" or "up_depthwise")
            {
                x = functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
            }

            if (kind == "res_a")
            {
                skip = x;
            }

            x = conv.forward(x);
            if (norm is not null)
            {
                x = norm.forward(x);
            }

            x = kind switch
            {
                "res_b" => x + skip!,
                "up_depthwise" => x,
                "conv_sigmoid" => Crop(x, p),
                _ => functional.relu(x),
            };
            if (taps is not null)
            {
                if (kind is "conv_relu" or "res_b")
                {
                    taps.Add(x);
                }

                if (kind == "res_b" && taps.Count == 3 + Spec.ResidualBlocks)
                {
                    return x;
                }
            }
        }

        return x;
    }

    private static Tensor Crop(Tensor x, int p) => p == 0 ? x : x[.., .., p..^p, p..^p];

    /// <summary>log(c / (1 − c)) with c = clamp(x, 0.01, 0.99).</summary>
    public static Tensor InputLogit(Tensor x)
    {
        var c = x.clamp(LogitClamp, 1 - LogitClamp);
        return (c / (1 - c)).log();
    }

    /// <summary>What the exported graph computes on a full frame: 2×2 average downscale, generator, detail-restoring upsample.</summary>
    public Tensor FullFrame(Tensor frame)
    {
        if (!Spec.HalfResolution)
        {
            return forward(frame);
        }

        var low = functional.avg_pool2d(frame, 2, 2);
        return Spec.Upsample switch
        {
            GeneratorUpsample.Guided => GuidedUpsample(frame, low, forward(low)),
            GeneratorUpsample.Bilinear => functional.interpolate(forward(low), scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false),
            _ => DetailUpsample(frame, low, forward(low)),
        };
    }

    /// <summary>
    /// Fast guided filter (He &amp; Sun 2015) as the upsample of flat-colour models (<see cref="GeneratorUpsample.Guided"/>):
    /// per (2r+1)² window of the half-resolution luma it fits <c>styledLow ≈ A·luma + b</c>, box-smooths A and b, upsamples them
    /// bilinearly and applies them to the full-resolution luma. Where the result is flat A is near 0 and it stays flat (the
    /// photo's texture is not added back); across the photo's strong edges the full-resolution edge comes through.
    /// </summary>
    public static Tensor GuidedUpsample(Tensor frame, Tensor low, Tensor styledLow, int radius = StylizerSpec.GuidedRadius, double eps = StylizerSpec.GuidedEpsilon)
    {
        var iHi = Luma(frame);
        var iLo = Luma(low);
        Tensor Box(Tensor t) => functional.avg_pool2d(t, (2 * radius) + 1, 1, radius, count_include_pad: false);
        Tensor Up(Tensor t) => functional.interpolate(t, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false);
        var meanI = Box(iLo);
        var meanP = Box(styledLow);
        var cov = Box(iLo * styledLow) - (meanI * meanP);
        var varI = Box(iLo * iLo) - (meanI * meanI);
        var a = cov / (varI + eps);
        var b = meanP - (a * meanI);
        return ((Up(Box(a)) * iHi) + Up(Box(b))).clamp(0, 1);
    }

    /// <summary>
    /// The encoder activations PatchNCE compares (Park et al. 2020): after the input conv, each downsampling conv and each
    /// residual block, for an image given to the generator.
    /// </summary>
    public Tensor[] EncoderFeatures(Tensor x)
    {
        var taps = new List<Tensor>();
        LogitChange(x, taps);
        return [.. taps];
    }

    /// <summary>
    /// Brings the half-resolution result to full size: bilinear ×2 of <paramref name="styledLow"/> plus the luma detail the
    /// 2×2 downscale removed (<c>luma(frame) − bilinear ×2 of luma(low)</c>), added to every channel. All of the
    /// generator's texture survives (the loss was taken on it); a fast guided filter (He &amp; Sun 2015) would fit the
    /// result to the luma in 3×3 windows and smooth the brush texture away (docs/training.md).
    /// </summary>
    public static Tensor DetailUpsample(Tensor frame, Tensor low, Tensor styledLow)
    {
        var iHi = Luma(frame);
        var iLo = Luma(low);
        Tensor Up(Tensor t) => functional.interpolate(t, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false);

        // Bilinear ×2 is linear and per channel, so Up(styledLow) − Up(iLo) = Up(styledLow − iLo): one full-size resize
        // instead of two (the exported graph's luma of the full frame is its most expensive full-size op after that).
        return (Up(styledLow - iLo) + iHi).clamp(0, 1);
    }

    private static IEnumerable<int> NormChannels(StylizerSpec s)
    {
        yield return s.Channels[0];
        yield return s.Channels[1];
        yield return s.Channels[2];
        for (int i = 0; i < 2 * s.ResidualBlocks; i++)
        {
            yield return s.Channels[2];
        }

        yield return s.Channels[1];
        yield return s.Channels[0];
    }
}
