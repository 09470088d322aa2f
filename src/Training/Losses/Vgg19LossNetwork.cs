using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Losses;

/// <summary>
/// A user-supplied pretrained VGG-19 (torchvision layout: <c>features.N.weight/bias</c>), read with TorchSharp.PyBridge
/// from a PyTorch state dict (<c>torch.save(vgg19().state_dict())</c>) or a safetensors file. Only the conv layers up to
/// relu4_1 are built; the style layers are relu1_1, relu2_1, relu3_1, relu4_1 and the content layer relu3_1.
/// </summary>
/// <remarks>Not thread safe. Never downloads anything: the file must be given with <c>--vgg19 PATH</c>.</remarks>
internal sealed class Vgg19LossNetwork : Module<Tensor, Tensor[]>, ILossNetwork
{
    // torchvision vgg19.features indices of the convs up to conv4_1, and the relu outputs we tap.
    private static readonly (int Index, int In, int Out)[] ConvSpec =
    [
        (0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256), (14, 256, 256), (16, 256, 256), (19, 256, 512),
    ];

    private static readonly int[] TapAfterConv = [0, 2, 4, 8]; // relu1_1, relu2_1, relu3_1, relu4_1
    private static readonly int[] PoolBeforeConv = [2, 4, 8];

    private readonly Sequential features;
    private readonly Tensor mean = torch.tensor(new float[] { 0.485f, 0.456f, 0.406f }).reshape(1, 3, 1, 1);
    private readonly Tensor std = torch.tensor(new float[] { 0.229f, 0.224f, 0.225f }).reshape(1, 3, 1, 1);
    private string _source = "untrained";

    public Vgg19LossNetwork()
        : base("vgg19")
    {
        var layers = ConvSpec.Select(c => ((string)c.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), (Module<Tensor, Tensor>)Conv2d(c.In, c.Out, 3, padding: 1))).ToArray();
        features = Sequential(layers);
        RegisterComponents();
    }

    public string Description => $"vgg19 (user-supplied weights: {_source}; style relu1_1..relu4_1, content relu3_1)";

    public int ContentLayer => 2;

    /// <summary>Loads torchvision VGG-19 weights; keys outside <c>features.0..19</c> (classifier, deeper convs) are ignored.</summary>
    public static Vgg19LossNetwork Load(string path)
    {
        var net = new Vgg19LossNetwork();
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            net.load_safetensors(path, strict: false);
        }
        else
        {
            net.load_py(path, strict: false);
        }

        net._source = Path.GetFileName(path);
        net.Freeze();
        return net;
    }

    public void Freeze()
    {
        foreach (var p in parameters())
        {
            p.requires_grad = false;
        }

        eval();
    }

    public Tensor[] Features(Tensor image) => forward(image);

    public override Tensor[] forward(Tensor image)
    {
        var x = (image - mean) / std;
        var outs = new List<Tensor>();
        var convs = features.children().Cast<Module<Tensor, Tensor>>().ToArray();
        for (int i = 0; i < convs.Length; i++)
        {
            if (PoolBeforeConv.Contains(i))
            {
                x = functional.max_pool2d(x, 2, 2);
            }

            x = functional.relu(convs[i].forward(x));
            if (TapAfterConv.Contains(i))
            {
                outs.Add(x);
            }
        }

        return [.. outs];
    }
}
