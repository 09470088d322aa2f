using TorchSharp;
using TorchSharp.Modules;
using Video.Training.Losses;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Models;

/// <summary>
/// Arbitrary style transfer (Huang &amp; Belongie 2017), sized for real time here: the fixed encoder is the first three
/// levels of the loss network (relu at 1, 1/2 and 1/4 resolution, 128 channels), AdaIN swaps the per-channel mean/std of
/// the content features for the style's, and a small trained decoder (nearest upsampling + 3×3 convs, no normalisation)
/// maps them back to an image. The decoder works residually (in logit space) on the frame after the same AdaIN step
/// applied to its RGB values (a per-channel colour transfer), so the style's palette is there from the first step and
/// the decoder only has to add texture; decoding random features from scratch ignored the style for the first
/// thousand steps. Like the fast model it runs on the half-resolution frame and is brought back to full resolution
/// by <see cref="FastStylizer.DetailUpsample"/>.
/// </summary>
/// <remarks>Not thread safe. The encoder's weights belong to the loss network passed in (not disposed here).</remarks>
public sealed class AdaInStylizer : Module<Tensor, Tensor>
{
    public const int EncoderLevels = 3;
    public static readonly int FeatureChannels = RandomLossNetwork.Channels[EncoderLevels - 1];

    private readonly Conv2d d1;
    private readonly Conv2d d2;
    private readonly Conv2d d2b;
    private readonly Conv2d d3;
    private readonly Conv2d d4;

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Style", "IDE0052", Justification = "kept for the lifetime of the module")]
    private readonly RandomLossNetwork _encoder;

    public AdaInStylizer(RandomLossNetwork encoder)
        : base("adain_stylizer")
    {
        _encoder = encoder;
        d1 = Conv2d(FeatureChannels, 64, 3, padding: 1);
        d2 = Conv2d(64, 32, 3, padding: 1);
        d2b = Conv2d(32, 32, 3, padding: 1);
        d3 = Conv2d(32, 16, 3, padding: 1);
        d4 = Conv2d(16, 3, 3, padding: 1);
        RegisterComponents();
    }

    public RandomLossNetwork Encoder => _encoder;

    /// <summary>Decoder layers in execution order: (upsample before?, conv, sigmoid instead of relu?).</summary>
    internal IEnumerable<(bool UpsampleBefore, Conv2d Conv, bool Sigmoid)> DecoderLayers()
    {
        yield return (false, d1, false);
        yield return (true, d2, false);
        yield return (false, d2b, false);
        yield return (true, d3, false);
        yield return (false, d4, true);
    }

    /// <summary>Encoder features (B×128×H/4×W/4).</summary>
    public Tensor Encode(Tensor image) => _encoder.Features(image, EncoderLevels)[EncoderLevels - 1];

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

    /// <summary>Decodes AdaIN features <paramref name="t"/> as a change, in logit space, of the colour-transferred image <paramref name="colour"/>.</summary>
    public Tensor Decode(Tensor t, Tensor colour)
    {
        foreach (var (up, conv, sigmoid) in DecoderLayers())
        {
            if (up)
            {
                t = functional.interpolate(t, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
            }

            t = conv.forward(t);
            t = sigmoid ? torch.sigmoid(t + FastStylizer.InputLogit(colour)) : functional.relu(t);
        }

        return t;
    }

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
public sealed record AdaInStyle(Tensor Mean, Tensor Std, Tensor RgbMean, Tensor RgbStd);
