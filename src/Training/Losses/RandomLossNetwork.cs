using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Losses;

/// <summary>
/// The default loss network: a fixed, randomly initialised multi-scale conv net (no pretrained weights exist here).
/// Four levels, each a 3×3 conv + ReLU, separated by overlapping 4×4 stride-2 average pooling (32/64/128/256 channels; receptive
/// fields 3, 8, 18, 38 px). Convs pad by reflection so that image borders look like the interior to the losses
/// (zero padding taught the generator to paint dark frames). Weights are He-normal from a fixed seed, with each filter made zero-mean over its
/// spatial taps except in level 1 (so deep levels respond to structure, level 1 also to colour).
/// See docs/loss-network.md for why this works for Gram/AdaIN style losses.
/// </summary>
/// <remarks>Not thread safe (TorchSharp modules). The first three levels double as the AdaIN encoder.</remarks>
internal sealed class RandomLossNetwork : Module<Tensor, Tensor[]>, ILossNetwork
{
    public const long DefaultSeed = 20260611;
    public static readonly int[] Channels = [32, 64, 128, 256];
    private static readonly float[] Mean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] Std = [0.229f, 0.224f, 0.225f];

    private readonly ModuleList<Conv2d> convs = new();
    private readonly Tensor mean;
    private readonly Tensor std;

    public RandomLossNetwork(long seed = DefaultSeed, int pyramidScales = 3)
        : base("random_loss_net")
    {
        Seed = seed;
        PyramidScales = pyramidScales;
        var gen = new torch.Generator((ulong)seed);
        int cin = 3;
        using (torch.no_grad())
        {
            for (int l = 0; l < Channels.Length; l++)
            {
                var conv = Conv2d(cin, Channels[l], 3, padding: 1, padding_mode: PaddingModes.Reflect);
                var w = torch.randn(conv.weight!.shape, generator: gen) * Math.Sqrt(2.0 / (cin * 9));
                if (l > 0)
                {
                    w -= w.mean([2, 3], keepdim: true);
                }

                conv.weight!.copy_(w);
                conv.bias!.copy_(torch.randn(conv.bias.shape, generator: gen) * 0.01);
                convs.Add(conv);
                cin = Channels[l];
            }
        }

        mean = torch.tensor(Mean).reshape(1, 3, 1, 1);
        std = torch.tensor(Std).reshape(1, 3, 1, 1);
        RegisterComponents();
        foreach (var p in parameters())
        {
            p.requires_grad = false;
        }

        eval();
    }

    public long Seed { get; }

    /// <summary>
    /// The style features are taken from an image pyramid of this many octaves (the same filters on the image
    /// downsampled by 1, 2, 4, …), which widens the receptive field of the deepest level from 38 to 152 px at 3 octaves.
    /// </summary>
    public int PyramidScales { get; }

    public string Description => $"random-multiscale (seed {Seed}; 4 levels of 3x3 conv+ReLU, {string.Join('/', Channels)} ch, 4x4/2 avg-pool between, reflection padding, {PyramidScales}-octave image pyramid; no pretrained weights)";

    public int ContentLayer => 2;

    /// <summary>The conv of level <paramref name="level"/> (0-based), for export of the AdaIN encoder.</summary>
    public Conv2d Level(int level) => convs[level];

    public static IReadOnlyList<float> NormMean => Mean;

    public static IReadOnlyList<float> NormStd => Std;

    /// <summary>All levels of every pyramid octave (octave 0 first); <see cref="ContentLayer"/> indexes octave 0.</summary>
    public Tensor[] Features(Tensor image)
    {
        var all = new List<Tensor>();
        var x = image;
        for (int s = 0; s < PyramidScales; s++)
        {
            if (s > 0)
            {
                if (Math.Min(x.shape[2], x.shape[3]) < 32)
                {
                    break;
                }

                x = Pool(x);
            }

            all.AddRange(Features(x, Channels.Length));
        }

        return [.. all];
    }

    /// <summary>Features up to and including level <paramref name="levels"/>-1 (the AdaIN encoder uses 3).</summary>
    public Tensor[] Features(Tensor image, int levels)
    {
        var outs = new Tensor[levels];
        var x = (image - mean) / std;
        for (int l = 0; l < levels; l++)
        {
            if (l > 0)
            {
                x = Pool(x);
            }

            x = functional.relu(convs[l].forward(x));
            outs[l] = x;
        }

        return outs;
    }

    /// <summary>Overlapping 4×4 average pooling with stride 2: unlike 2×2 pooling it leaves no block grid in the gradients.</summary>
    public static Tensor Pool(Tensor x) => functional.avg_pool2d(x, 4, 2, 1);

    public override Tensor[] forward(Tensor image) => Features(image);
}
