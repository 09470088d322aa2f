using System.Text.Json.Serialization;

namespace Video.Training.Models;

/// <summary>How a half-resolution generator's output is brought back to the frame's size.</summary>
internal enum GeneratorUpsample
{
    /// <summary>Bilinear ×2 plus the luma detail the downscale removed (<see cref="FastStylizer.DetailUpsample"/>): keeps every texture.</summary>
    Detail,

    /// <summary>Fast guided filter on the full-resolution luma (<see cref="FastStylizer.GuidedUpsample"/>): edge-aware, smooths thin lines.</summary>
    Guided,

    /// <summary>Bilinear ×2 alone: the generator's own flat regions and outlines, a little soft, nothing of the photo's texture.</summary>
    Bilinear,
}

/// <summary>
/// Shape of a feed-forward stylizer: conv in (stride 1) → two stride-2 downsampling convs → residual blocks →
/// two (nearest ×2 upsample + 3×3 conv) stages → conv out → sigmoid (optionally added to the input's logit). <see cref="Cheap"/> is what we ship;
/// <see cref="Johnson"/> is the classic design (Johnson et al. 2016) kept for the speed comparison.
/// </summary>
internal sealed record StylizerSpec(
    [property: JsonPropertyName("channels")] int[] Channels,
    [property: JsonPropertyName("residualBlocks")] int ResidualBlocks,
    [property: JsonPropertyName("endKernel")] int EndKernel,
    [property: JsonPropertyName("instanceNorm")] bool InstanceNorm,
    [property: JsonPropertyName("halfResolution")] bool HalfResolution,
    [property: JsonPropertyName("residualInput")] bool ResidualInput = false,
    [property: JsonPropertyName("colourTransfer")] bool ColourTransfer = false,
    [property: JsonPropertyName("reflectPad")] bool ReflectPad = false,
    [property: JsonPropertyName("inputPad")] int InputPad = 0,
    [property: JsonPropertyName("dilated")] bool Dilated = false,
    [property: JsonPropertyName("monochrome")] bool Monochrome = false,
    [property: JsonPropertyName("upsample")] GeneratorUpsample Upsample = GeneratorUpsample.Detail,
    [property: JsonPropertyName("separableStages")] int SeparableStages = 0)
{
    /// <summary>
    /// Dilations of the residual convs when <see cref="Dilated"/>, repeated every four convs: 1, 2, 2, 4 together reach every
    /// offset (no gridding, as in hybrid dilated convolution) and widen the cheap design's receptive field from about 45 to
    /// about 90 half-resolution pixels for the same FLOPs, so the generator can paint strokes and swirls, not only texture.
    /// </summary>
    public static readonly int[] DilationPattern = [1, 2, 2, 4];

    /// <summary>
    /// Rec. 601 luma weights (R, G, B). With <see cref="Monochrome"/> (and <see cref="ColourTransfer"/>) the base the
    /// generator changes is the frame's luma in all three channels, transferred to the style's statistics, so a
    /// black-and-white style (an ink drawing) starts from a grey image instead of a faded colour one. Monochrome adds no
    /// parameters, so it can be switched on when resuming.
    /// </summary>
    public static readonly float[] LumaWeights = [0.299f, 0.587f, 0.114f];

    /// <summary>Dilation of residual conv <paramref name="index"/> (0-based over all residual convs).</summary>
    public int ResidualDilation(int index) => Dilated ? DilationPattern[index % DilationPattern.Length] : 1;

    /// <summary>0.2 M parameters, no normalisation, run on the half-resolution frame and brought back to full size by <see cref="FastStylizer.DetailUpsample"/>.</summary>
    /// <remarks>
    /// The last conv predicts a change in logit space, <c>y = sigmoid(z + logit(clamp(x, 0.01, 0.99)))</c>, so an untrained
    /// network is (nearly) the identity. Without that start, training from scratch without normalisation collapsed to flat
    /// colour fields within the first few hundred steps. With <see cref="ColourTransfer"/> the identity is taken after a
    /// per-channel colour transfer of the frame to the style image's RGB mean and std (constants baked into the model),
    /// so the style's palette is there from step 0 and training only has to add texture.
    /// </remarks>
    public static StylizerSpec Cheap => new([16, 32, 64], 2, 3, false, true, ResidualInput: true, ColourTransfer: true);

    /// <summary>
    /// <see cref="Cheap"/> with reflection instead of zero padding: zero padding tells the generator where the border is
    /// and it learnt to paint bands along it. Same parameters, so a zero-padded run can be resumed with it.
    /// </summary>
    public static StylizerSpec CheapReflect => Cheap with { ReflectPad = true };

    /// <summary>
    /// <see cref="Cheap"/> with the border handled once: the (half-resolution) input is reflection-padded by
    /// <see cref="InputPadPixels"/> on each side, every conv pads with zeros inside the Conv op (free in ONNX Runtime), and
    /// the border is cropped off before the residual is added. A reflection <c>Pad</c> before every conv is a separate op
    /// that copies the tensor and forces layout conversions between the convs (profile in docs/training.md, <c>--pad-once</c>). Same parameters as the other two, so
    /// their checkpoints can be fine-tuned with it.
    /// </summary>
    public static StylizerSpec CheapPadOnce => Cheap with { InputPad = InputPadPixels };

    /// <summary>
    /// <see cref="CheapPadOnce"/> with the last <paramref name="stages"/> (1 or 2) upsampling stages depthwise-separable
    /// (<see cref="SeparableStages"/>): the nearest ×2 is followed by a depthwise 3×3 conv (no activation) and a 1×1 conv
    /// with ReLU instead of a full 3×3 conv. The last stage's 32→16 conv on the half-frame map was the generator's most
    /// expensive layer per multiply-add (thin, on the largest map); its separable form does the spatial mixing per channel
    /// and the channel mixing once. Different parameters from the other designs: distil a trained run into it
    /// (<c>--teacher</c>), which starts every layer the two share from the teacher's weights (docs/realtime.md).
    /// </summary>
    public static StylizerSpec CheapSeparable(int stages) => CheapPadOnce with { SeparableStages = stages };

    /// <summary>The cheap design with the padding a run chose (<c>--pad-once</c> wins over <c>--reflect-pad</c>).</summary>
    public static StylizerSpec CheapWith(bool reflectPad, bool padOnce) => padOnce ? CheapPadOnce : reflectPad ? CheapReflect : Cheap;

    /// <summary>
    /// The cartoon generator (<c>video train cartoon</c>): the cheap design with reflection padding and dilated residual convs,
    /// an identity start on the photo itself (no colour transfer: the cartoon domain is a folder, not one palette), brought
    /// back to full size by a plain bilinear ×2 (<see cref="GeneratorUpsample.Bilinear"/>) instead of the detail upsample: the
    /// detail upsample adds the photo's fine texture back, which is what a cartoon has to lose. The upsample is not trained
    /// (the losses see the half-resolution output), so a run can be packaged with any <see cref="GeneratorUpsample"/>.
    /// </summary>
    public static StylizerSpec Cartoon => Cheap with { ColourTransfer = false, ReflectPad = true, Dilated = true, Upsample = GeneratorUpsample.Bilinear };

    /// <summary>Radius (in half-resolution pixels) of the box windows of the guided upsample.</summary>
    public const int GuidedRadius = 1;

    /// <summary>
    /// Regulariser of the guided upsample: where the photo's local luma variance is below it, the fitted slope goes to 0 and
    /// the generator's flat colour stays flat; across strong edges (variance well above it) the full-resolution edge comes through.
    /// </summary>
    public const double GuidedEpsilon = 5e-3;

    /// <summary>Border added by <see cref="CheapPadOnce"/> (even, so padded sides stay multiples of 4).</summary>
    public const int InputPadPixels = 8;

    /// <summary>The classic fast-style-transfer network: 32/64/128 channels, 5 residual blocks, 9×9 end convs, instance norm, full resolution.</summary>
    public static StylizerSpec Johnson => new([32, 64, 128], 5, 9, true, false);

    /// <summary>Upsampling stages a generator has (each a nearest ×2 and a conv, or a separable pair of convs).</summary>
    public const int UpsamplingStages = 2;

    /// <summary>Frame sides must be a multiple of this (two stride-2 stages, ×2 more when run at half resolution).</summary>
    [JsonIgnore]
    public int SizeMultiple => HalfResolution ? 8 : 4;
}
