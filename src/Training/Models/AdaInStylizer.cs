using TorchSharp;
using TorchSharp.Modules;
using Video.Training.Losses;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Models;

/// <summary>
/// Arbitrary style transfer (Huang &amp; Belongie 2017), sized for real time here. As in the paper, the fixed encoder is a
/// pretrained ImageNet network: the ResNet-18 trunk up to layer2.1 (<see cref="EncoderBlocks"/> residual blocks; 128
/// channels at 1/8 of its input). AdaIN swaps the per-channel mean/std of the content features for the style's, and a
/// small trained decoder (nearest upsampling + 3×3 convs with reflection padding, no normalisation) maps them back to an
/// image. The decoder works residually (in logit space) on the frame after the same AdaIN step applied to its RGB values (a
/// per-channel colour transfer), so the style's palette is there from the first step and the decoder only has to add
/// texture. Like the fast model it runs on the half-resolution frame and is brought back to full resolution by
/// <see cref="FastStylizer.DetailUpsample"/>. The encoder needs sides that are multiples of 32: images are
/// reflection-padded up to that (<see cref="PadTo32"/>) and the decoder's output is cropped back.
/// </summary>
/// <remarks>Not thread safe. The encoder's weights belong to the loss network passed in (not disposed here).</remarks>
internal sealed class AdaInStylizer : Module<Tensor, Tensor>
{
    /// <summary>Residual blocks of the ResNet-18 trunk the encoder runs (through layer2.1).</summary>
    public const int EncoderBlocks = 4;

    /// <summary>Channels of the encoder's output (layer2.1).</summary>
    public const int FeatureChannels = 128;

    private readonly Conv2d d1;
    private readonly Conv2d d2;
    private readonly Conv2d d3;
    private readonly Conv2d d4;
    private readonly Conv2d d5;

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Style", "IDE0052", Justification = "kept for the lifetime of the module")]
    private readonly ResNet18LossNetwork _encoder;

    public AdaInStylizer(ResNet18LossNetwork encoder)
        : base("adain_stylizer")
    {
        _encoder = encoder;
        d1 = Conv2d(FeatureChannels, 64, 3, padding: 1, padding_mode: PaddingModes.Reflect);
        d2 = Conv2d(64, 64, 3, padding: 1, padding_mode: PaddingModes.Reflect);
        d3 = Conv2d(64, 32, 3, padding: 1, padding_mode: PaddingModes.Reflect);
        d4 = Conv2d(32, 16, 3, padding: 1, padding_mode: PaddingModes.Reflect);
        d5 = Conv2d(16, 3, 3, padding: 1, padding_mode: PaddingModes.Reflect);
        RegisterComponents();
    }

    public ResNet18LossNetwork Encoder => _encoder;

    /// <summary>Decoder layers in execution order: (upsample before?, conv, sigmoid instead of relu?).</summary>
    internal IEnumerable<(bool UpsampleBefore, Conv2d Conv, bool Sigmoid)> DecoderLayers()
    {
        yield return (false, d1, false);
        yield return (true, d2, false);
        yield return (true, d3, false);
        yield return (true, d4, false);
        yield return (false, d5, true);
    }

    /// <summary>
    /// Reflection-pads B×C×H×W up to sides that are multiples of 32 (half the remainder before, the rest after; as
    /// <see cref="ResNet18LossNetwork.Features"/>) and returns the offsets of the original inside the padded image.
    /// </summary>
    public static (Tensor Padded, long Top, long Left) PadTo32(Tensor x)
    {
        long h = x.shape[2], w = x.shape[3];
        long ph = (32 - (h % 32)) % 32, pw = (32 - (w % 32)) % 32;
        return ph + pw == 0 ? (x, 0, 0) : (functional.pad(x, [pw / 2, pw - (pw / 2), ph / 2, ph - (ph / 2)], PaddingModes.Reflect), ph / 2, pw / 2);
    }

    /// <summary>Encoder features (B×128×H'/8×W'/8 of the image padded to multiples of 32).</summary>
    public Tensor Encode(Tensor image) => _encoder.Blocks(_encoder.Preprocess(PadTo32(image).Padded), EncoderBlocks)[EncoderBlocks - 1];

    /// <summary>Style statistics of style images already at the working scale (training crops).</summary>
    public AdaInStyle StyleStatistics(Tensor style)
    {
        var (m, s) = StyleLosses.MeanStd(Encode(style));
        var (rm, rs) = StyleLosses.MeanStd(style);
        return new AdaInStyle(m, s, rm, rs);
    }

    /// <summary>
    /// What the exported style encoder computes: the style image as the host gives it (long side ≤ 512) is halved by 2×2
    /// averaging, like every frame, then encoded, so styles and frames meet the encoder at the scale it was trained at.
    /// </summary>
    public AdaInStyle StyleEncoderStatistics(Tensor style) => StyleStatistics(functional.avg_pool2d(style, 2, 2));

    /// <summary>
    /// Decodes AdaIN features <paramref name="t"/> (of the padded image) as a change, in logit space, of the
    /// colour-transferred image <paramref name="colour"/> (unpadded): the last conv's output is cropped to it first.
    /// </summary>
    public Tensor Decode(Tensor t, Tensor colour) => Apply(LogitChange(t, colour), colour);

    /// <summary>The decoder's output before the sigmoid: the change, in logit space, it makes to <paramref name="colour"/>.</summary>
    public Tensor LogitChange(Tensor t, Tensor colour)
    {
        var (_, top, left) = PadTo32(colour);
        foreach (var (up, conv, sigmoid) in DecoderLayers())
        {
            if (up)
            {
                t = functional.interpolate(t, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
            }

            t = conv.forward(t);
            t = sigmoid ? t.narrow(2, top, colour.shape[2]).narrow(3, left, colour.shape[3]) : functional.relu(t);
        }

        return t;
    }

    /// <summary><c>sigmoid(z + logit(colour))</c>.</summary>
    public static Tensor Apply(Tensor logitChange, Tensor colour) => torch.sigmoid(logitChange + FastStylizer.InputLogit(colour));

    /// <summary>AdaIN target blended with the content features: f + α·(AdaIN(f) − f).</summary>
    public static Tensor Target(Tensor f, Tensor styleMean, Tensor styleStd, Tensor alpha)
    {
        var t = StyleLosses.AdaIn(f, styleMean, styleStd);
        return f + (alpha.reshape(-1, 1, 1, 1) * (t - f));
    }

    /// <summary>Stylizes at the resolution given (training and the low-resolution branch of <see cref="FullFrame"/>).</summary>
    public Tensor Stylize(Tensor image, AdaInStyle style, Tensor alpha) =>
        Decode(Target(Encode(image), style.Mean, style.Std, alpha), Target(image, style.RgbMean, style.RgbStd, alpha));

    /// <summary>What the exported graph computes: 2×2 average downscale, encode, AdaIN, decode, detail-restoring upsample.</summary>
    public Tensor FullFrame(Tensor frame, AdaInStyle style, Tensor alpha)
    {
        var low = functional.avg_pool2d(frame, 2, 2);
        return FastStylizer.DetailUpsample(frame, low, Stylize(low, style, alpha));
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("use Stylize or FullFrame");
}

/// <summary>
/// A style as the AdaIN model sees it: mean and std of its encoder features (B×128×1×1) and of its RGB values (B×3×1×1).
/// Exported as the style encoder's outputs <c>style_mean</c>, <c>style_std</c>, <c>style_rgb_mean</c>, <c>style_rgb_std</c>.
/// </summary>
internal sealed record AdaInStyle(Tensor Mean, Tensor Std, Tensor RgbMean, Tensor RgbStd);
