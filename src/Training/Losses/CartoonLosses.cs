using OpenCvSharp;
using OpenCvSharp.XImgProc.Segmentation;
using TorchSharp;
using Video.Training.Data;
using Video.Training.Models;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Losses;

/// <summary>
/// The image representations and losses of cartoon training: White-box cartoonization (Wang &amp; Yu 2020: surface, structure,
/// texture), CartoonGAN's edge promotion (Chen et al. 2018), LSGAN, and CUT's patchwise contrastive loss (Park et al. 2020).
/// </summary>
/// <remarks>Stateless; tensors returned belong to the caller's dispose scope. Images are B×3×H×W RGB in [0,1].</remarks>
internal static class CartoonLosses
{
    /// <summary>
    /// Radius and regulariser of the surface representation's self-guided filter: White-box's r = 5, eps = 0.2 on images in
    /// [-1, 1], which is eps = 0.05 on our [0, 1] images (variances scale with the square of the range).
    /// </summary>
    public const int SurfaceRadius = 5;

    public const double SurfaceEpsilon = 0.05;

    /// <summary>
    /// Sum over the (2r+1)-wide window along <paramref name="dim"/>, clipped at the borders, from one cumulative sum: cheap and
    /// differentiable (an <c>avg_pool2d</c> with <c>count_include_pad: false</c> cost about 80 ms a call in training here).
    /// </summary>
    private static Tensor BoxSum(Tensor x, int r, int dim)
    {
        long n = x.shape[dim];
        if (n < (2 * r) + 2)
        {
            throw new ArgumentException($"box filter of radius {r} needs at least {(2 * r) + 2} pixels along dim {dim}; got {n}");
        }

        var c = x.cumsum(dim);
        var left = c.narrow(dim, r, r + 1);
        var middle = c.narrow(dim, (2 * r) + 1, n - (2 * r) - 1) - c.narrow(dim, 0, n - (2 * r) - 1);
        var right = c.narrow(dim, n - 1, 1) - c.narrow(dim, n - (2 * r) - 1, r);
        return torch.cat([left, middle, right], dim);
    }

    /// <summary>Mean over the (2r+1)² window of every pixel of a B×C×H×W tensor, windows clipped at the borders.</summary>
    public static Tensor BoxMean(Tensor x, int r)
    {
        using var ones = torch.ones(1, 1, x.shape[2], x.shape[3], dtype: x.dtype);
        var n = BoxSum(BoxSum(ones, r, 2), r, 3);
        return BoxSum(BoxSum(x, r, 2), r, 3) / n;
    }

    /// <summary>
    /// Self-guided filter (He et al. 2010) of every channel: edge-preserving smoothing that removes texture and keeps the
    /// big shapes. White-box's surface representation: a discriminator compares it between outputs and cartoons.
    /// </summary>
    public static Tensor GuidedFilter(Tensor x, int r = SurfaceRadius, double eps = SurfaceEpsilon)
    {
        var mean = BoxMean(x, r);
        var variance = BoxMean(x * x, r) - (mean * mean);
        var a = variance / (variance + eps);
        var b = mean - (a * mean);
        return (BoxMean(a, r) * x) + BoxMean(b, r);
    }

    /// <summary>
    /// Random per-step grey weights of the texture representation (White-box's colour shift): R, G and B weights drawn
    /// around the Rec. 601 ones, so the texture discriminator sees luminance structure, not one fixed luma or the colours.
    /// </summary>
    public static float[] RandomGreyWeights(Random rng) =>
        [(float)(0.199 + (0.2 * rng.NextDouble())), (float)(0.487 + (0.2 * rng.NextDouble())), (float)(0.014 + (0.2 * rng.NextDouble()))];

    /// <summary>The texture representation: B×1×H×W weighted grey of B×3×H×W <paramref name="x"/> (weights normalised to sum 1).</summary>
    public static Tensor Grey(Tensor x, float[] weights)
    {
        float sum = weights.Sum();
        using var w = torch.tensor(weights.Select(v => v / sum).ToArray()).reshape(1, 3, 1, 1);
        return (x * w).sum(1, keepdim: true);
    }

    /// <summary>
    /// The structure representation: each image segmented by Felzenszwalb's graph segmentation (OpenCV ximgproc, the first stage
    /// of White-box's selective-search superpixels) and every segment filled with its mean colour. Computed on the CPU from a
    /// detached copy; the structure loss compares the output's features with this flat-region version of itself.
    /// </summary>
    /// <param name="images">B×3×H×W in [0,1] (not modified; no gradient flows).</param>
    /// <param name="k">Felzenszwalb's scale: larger gives larger segments.</param>
    /// <param name="minSize">Smallest segment in pixels.</param>
    public static Tensor SuperpixelMeanColour(Tensor images, double k = 200, int minSize = 40)
    {
        using var scope = torch.NewDisposeScope();
        var y = images.detach().to(ScalarType.Float32).clamp(0, 1).contiguous();
        int b = (int)y.shape[0], h = (int)y.shape[2], w = (int)y.shape[3], plane = h * w;
        var data = y.data<float>().ToArray();
        var result = new float[data.Length];
        using var seg = GraphSegmentation.Create(0.8, (float)k, minSize);
        for (int i = 0; i < b; i++)
        {
            using var bgr = ImageTensors.ToBgr(y[i]);
            using var labels = new Mat();
            seg.ProcessImage(bgr, labels);
            var lab = new int[plane];
            labels.GetArray(out int[] flat);
            Array.Copy(flat, lab, plane);
            int n = lab.Max() + 1;
            var sums = new double[n * 3];
            var counts = new int[n];
            int o = i * 3 * plane;
            for (int p = 0; p < plane; p++)
            {
                int l = lab[p];
                counts[l]++;
                sums[3 * l] += data[o + p];
                sums[(3 * l) + 1] += data[o + plane + p];
                sums[(3 * l) + 2] += data[o + (2 * plane) + p];
            }

            for (int p = 0; p < plane; p++)
            {
                int l = lab[p];
                for (int c = 0; c < 3; c++)
                {
                    result[o + (c * plane) + p] = (float)(sums[(3 * l) + c] / counts[l]);
                }
            }
        }

        return torch.tensor(result, y.shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// CartoonGAN's edge promotion: the cartoon with its edges blurred (Canny edges, dilated, and the image Gaussian-blurred
    /// there). Shown to the discriminators as fake, so sharp clean outlines, not only flat colour, tell a cartoon apart.
    /// </summary>
    /// <param name="bgr">A BGR 8-bit cartoon image (not modified).</param>
    public static Mat EdgePromote(Mat bgr)
    {
        using var grey = new Mat();
        Cv2.CvtColor(bgr, grey, ColorConversionCodes.BGR2GRAY);
        using var edges = new Mat();
        Cv2.Canny(grey, edges, 100, 200);
        using var kernel = Cv2.GetStructuringElement(MorphShapes.Rect, new OpenCvSharp.Size(5, 5));
        using var wide = new Mat();
        Cv2.Dilate(edges, wide, kernel);
        using var blurred = new Mat();
        Cv2.GaussianBlur(bgr, blurred, new OpenCvSharp.Size(5, 5), 0);
        var result = bgr.Clone();
        blurred.CopyTo(result, wide);
        return result;
    }

    /// <summary>LSGAN discriminator loss (Mao et al. 2017): real scores towards 1, every fake set's scores towards 0 (fakes averaged).</summary>
    public static Tensor DiscriminatorLoss(Tensor real, params Tensor[] fakes)
    {
        var loss = (real - 1).square().mean();
        var fake = fakes[0].square().mean();
        for (int i = 1; i < fakes.Length; i++)
        {
            fake = fake + fakes[i].square().mean();
        }

        return loss + (fake / fakes.Length);
    }

    /// <summary>LSGAN generator loss: the discriminator's scores of the output towards 1 (real).</summary>
    public static Tensor GeneratorLoss(Tensor fake) => (fake - 1).square().mean();

    /// <summary>Temperature of the PatchNCE logits (CUT's default).</summary>
    public const double NceTemperature = 0.07;

    /// <summary>
    /// CUT's patchwise contrastive loss: for each layer, <paramref name="patches"/> random locations; the output's feature
    /// there (through that layer's projection head, L2-normalised) must pick the input's feature at the same location out of
    /// the input's features at all sampled locations of the same image (cross-entropy over the similarities / τ).
    /// </summary>
    /// <param name="query">Encoder features of the output, shallow to deep.</param>
    /// <param name="key">Encoder features of the input (detached here, as in CUT).</param>
    /// <param name="heads">One projection head per layer.</param>
    /// <param name="patches">Locations sampled per layer (fewer when the map is smaller).</param>
    /// <param name="rng">Sampling of the locations.</param>
    public static Tensor PatchNce(Tensor[] query, Tensor[] key, PatchNceHeads heads, int patches, Random rng)
    {
        Tensor? total = null;
        for (int l = 0; l < query.Length; l++)
        {
            long b = query[l].shape[0], c = query[l].shape[1], hw = query[l].shape[2] * query[l].shape[3];
            int n = (int)Math.Min(patches, hw);
            var ids = torch.tensor(Enumerable.Range(0, (int)hw).OrderBy(_ => rng.Next()).Take(n).Select(i => (long)i).ToArray());
            Tensor Sample(Tensor f) => f.reshape(b, c, hw).permute(0, 2, 1).index_select(1, ids);
            var q = functional.normalize(heads.Project(l, Sample(query[l])), p: 2, dim: 2);
            var k = functional.normalize(heads.Project(l, Sample(key[l].detach())), p: 2, dim: 2);
            var logits = q.bmm(k.transpose(1, 2)) / NceTemperature;
            var labels = torch.arange(n, dtype: ScalarType.Int64).repeat(b);
            var loss = functional.cross_entropy(logits.reshape(b * n, n), labels);
            total = total is null ? loss : total + loss;
        }

        return total! / query.Length;
    }
}
