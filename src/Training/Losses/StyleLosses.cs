using TorchSharp;
using static TorchSharp.torch;

namespace Video.Training.Losses;

/// <summary>The perceptual losses: Gram style loss, AdaIN statistics loss, content loss, total variation.</summary>
/// <remarks>
/// Style and content terms are relative (divided by the target's squared norm) so that every layer of any
/// loss network contributes on the same scale and the weights transfer between loss networks.
/// </remarks>
internal static class StyleLosses
{
    public const double StdEpsilon = 1e-5;

    /// <summary>Gram matrix B×C×C of B×C×H×W features, normalised by H·W.</summary>
    public static Tensor Gram(Tensor f)
    {
        long b = f.shape[0], c = f.shape[1], hw = f.shape[2] * f.shape[3];
        var flat = f.reshape(b, c, hw);
        return torch.bmm(flat, flat.transpose(1, 2)) / hw;
    }

    /// <summary>Σ over layers of ‖G(x) − G_target‖² / ‖G_target‖², averaged over the batch.</summary>
    public static Tensor GramLoss(Tensor[] features, Tensor[] targetGrams)
    {
        Tensor? total = null;
        for (int l = 0; l < features.Length; l++)
        {
            var g = Gram(features[l]);
            var t = targetGrams[l].expand_as(g);
            var term = (g - t).pow(2).sum([1, 2]) / (t.pow(2).sum([1, 2]) + 1e-8);
            total = total is null ? term.mean() : total + term.mean();
        }

        return total!;
    }

    /// <summary>Channel mean and std (B×C×1×1 each) over the spatial dimensions.</summary>
    public static (Tensor Mean, Tensor Std) MeanStd(Tensor f)
    {
        var mean = f.mean([2, 3], keepdim: true);
        var var_ = (f - mean).pow(2).mean([2, 3], keepdim: true);
        return (mean, (var_ + StdEpsilon).sqrt());
    }

    /// <summary>Adaptive instance normalisation: content features re-normalised to the style statistics.</summary>
    public static Tensor AdaIn(Tensor content, Tensor styleMean, Tensor styleStd)
    {
        var (m, s) = MeanStd(content);
        return ((content - m) / s * styleStd) + styleMean;
    }

    /// <summary>AdaIN style loss: Σ over layers of (‖μ−μ_t‖² + ‖σ−σ_t‖²) / (‖μ_t‖² + ‖σ_t‖²), batch-averaged.</summary>
    public static Tensor MeanStdLoss(Tensor[] features, (Tensor Mean, Tensor Std)[] targets)
    {
        Tensor? total = null;
        for (int l = 0; l < features.Length; l++)
        {
            var (m, s) = MeanStd(features[l]);
            var (tm, ts) = targets[l];
            tm = tm.expand_as(m);
            ts = ts.expand_as(s);
            var num = (m - tm).pow(2).sum([1, 2, 3]) + (s - ts).pow(2).sum([1, 2, 3]);
            var den = tm.pow(2).sum([1, 2, 3]) + ts.pow(2).sum([1, 2, 3]) + 1e-8;
            var term = (num / den).mean();
            total = total is null ? term : total + term;
        }

        return total!;
    }

    /// <summary>‖f − target‖² / ‖target‖², batch-averaged.</summary>
    public static Tensor ContentLoss(Tensor f, Tensor target)
    {
        var num = (f - target).pow(2).sum([1, 2, 3]);
        var den = target.pow(2).sum([1, 2, 3]) + 1e-8;
        return (num / den).mean();
    }

    /// <summary>Mean squared difference between neighbouring pixels (horizontal + vertical).</summary>
    public static Tensor TotalVariation(Tensor x)
    {
        var dx = x[.., .., .., 1..] - x[.., .., .., ..^1];
        var dy = x[.., .., 1.., ..] - x[.., .., ..^1, ..];
        return dx.pow(2).mean() + dy.pow(2).mean();
    }
}
