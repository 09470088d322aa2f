using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Models;

/// <summary>
/// A small PatchGAN discriminator (Isola et al. 2017) for CPU training: three stride-2 4×4 convs (32/64/128 channels) and
/// a 3×3 conv to one score per patch, LeakyReLU 0.2, instance normalisation (no parameters) after the second and third conv
/// as in pix2pix / CUT, no spectral norm; the image is shifted to [-1, 1] first. Each score sees a 38-pixel patch, enough for
/// flat colour, outlines and texture, not for whole objects. Without the normalisation and the centring it stayed near chance
/// (LSGAN loss ≈ 0.45–0.5) for hundreds of steps, even against an untrained generator (docs/cartoon.md).
/// </summary>
/// <remarks>Not thread safe (TorchSharp module). Scores are unbounded (LSGAN).</remarks>
internal sealed class PatchDiscriminator : Module<Tensor, Tensor>
{
    private readonly Conv2d c1;
    private readonly Conv2d c2;
    private readonly Conv2d c3;
    private readonly Conv2d score;

    public PatchDiscriminator(string name, int inChannels)
        : base(name)
    {
        c1 = Conv2d(inChannels, 32, 4, stride: 2, padding: 1);
        c2 = Conv2d(32, 64, 4, stride: 2, padding: 1);
        c3 = Conv2d(64, 128, 4, stride: 2, padding: 1);
        score = Conv2d(128, 1, 3, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        x = functional.leaky_relu(c1.forward((x * 2) - 1), 0.2);
        x = functional.leaky_relu(functional.instance_norm(c2.forward(x)), 0.2);
        x = functional.leaky_relu(functional.instance_norm(c3.forward(x)), 0.2);
        return score.forward(x);
    }
}

/// <summary>
/// The discriminators of a cartoon run, saved and restored together (<c>critics.bin</c>): on White-box's surface
/// representation (RGB after the guided filter), on its texture representation (random grey), and on the plain RGB image
/// (CUT's / CycleGAN's adversarial loss for a target domain). All three always exist so a run can switch weights when resuming.
/// </summary>
internal sealed class CartoonCritics : Module
{
    private readonly PatchDiscriminator surface;
    private readonly PatchDiscriminator texture;
    private readonly PatchDiscriminator rgb;

    public CartoonCritics()
        : base("cartoon_critics")
    {
        surface = new PatchDiscriminator("surface", 3);
        texture = new PatchDiscriminator("texture", 1);
        rgb = new PatchDiscriminator("rgb", 3);
        RegisterComponents();
    }

    public PatchDiscriminator Surface => surface;

    public PatchDiscriminator Texture => texture;

    public PatchDiscriminator Rgb => rgb;
}

/// <summary>
/// CUT's projection heads (<c>nce_heads.bin</c>): per encoder layer a two-layer MLP (C → 256 → 256, ReLU) applied to sampled
/// feature vectors before the contrastive loss. Trained with the generator (they are in its optimizer).
/// </summary>
internal sealed class PatchNceHeads : Module
{
    public const int Width = 256;

    private readonly ModuleList<Sequential> heads = new();

    /// <param name="channels">Channels of each encoder layer, shallow to deep (<see cref="FastStylizer.EncoderFeatures"/>).</param>
    public PatchNceHeads(IEnumerable<int> channels)
        : base("patch_nce_heads")
    {
        foreach (var c in channels)
        {
            heads.Add(Sequential(Linear(c, Width), ReLU(), Linear(Width, Width)));
        }

        RegisterComponents();
    }

    /// <summary>Channels of <see cref="FastStylizer.EncoderFeatures"/> for a spec: input conv, two downsampling convs, each residual block.</summary>
    public static IEnumerable<int> ChannelsOf(StylizerSpec spec) =>
        spec.Channels.Concat(Enumerable.Repeat(spec.Channels[2], spec.ResidualBlocks));

    /// <summary>Head <paramref name="layer"/> applied to B×N×C sampled features.</summary>
    public Tensor Project(int layer, Tensor features) => heads[layer].forward(features);
}
