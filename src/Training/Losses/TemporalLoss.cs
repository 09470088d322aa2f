using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Losses;

/// <summary>
/// Short-term temporal consistency loss without video data (ReCoNet, Gao et al. 2018; Ruder et al. 2016): a frame and a
/// copy of it moved by a known small motion must be stylized the same way up to that motion,
/// L = mean over valid pixels and channels of (warp(G(x)) − G(warp(x) + noise))².
/// </summary>
/// <remarks>
/// The motion is a random affine map per image (translation, rotation, scale) applied with <c>affine_grid</c> and
/// <c>grid_sample</c> (bilinear, half-pixel centres). "Valid" pixels are those whose source lies between the first and last
/// pixel centres of the image, so the border the warp brings in (filled by replicating the edge) never counts.
/// </remarks>
internal static class TemporalLoss
{
    /// <summary>Largest translation, in pixels of the training crop (half-resolution pixels for the fast generator).</summary>
    public const double MaxShiftPixels = 4;

    public const double MaxRotationDegrees = 2;

    public const double MinScale = 0.97;

    public const double MaxScale = 1.03;

    /// <summary>Standard deviation of the Gaussian noise added to the moved copy: sensor and compression noise, which the output should ignore.</summary>
    public const double NoiseStd = 2.0 / 255;

    /// <summary>N×2×3 affine maps (output pixel → source, normalised coordinates) of random small motions of H×W images.</summary>
    public static Tensor RandomAffine(Random rng, int n, long height, long width)
    {
        var theta = new float[n * 6];
        for (int i = 0; i < n; i++)
        {
            double Uniform(double lo, double hi) => lo + ((hi - lo) * rng.NextDouble());
            double angle = Uniform(-MaxRotationDegrees, MaxRotationDegrees) * Math.PI / 180;
            double s = Uniform(MinScale, MaxScale);
            double tx = Uniform(-MaxShiftPixels, MaxShiftPixels), ty = Uniform(-MaxShiftPixels, MaxShiftPixels);
            Affine(theta.AsSpan(i * 6, 6), s, angle, tx, ty, height, width);
        }

        return torch.tensor(theta).reshape(n, 2, 3);
    }

    /// <summary>N identity maps (no motion).</summary>
    public static Tensor Identity(int n) => torch.tensor(new float[] { 1, 0, 0, 0, 1, 0 }).reshape(1, 2, 3).repeat(n, 1, 1);

    /// <summary>
    /// Writes the normalised affine map of "scale by <paramref name="scale"/>, rotate by <paramref name="angle"/> radians about
    /// the centre, shift by (<paramref name="tx"/>, <paramref name="ty"/>) pixels", corrected for the aspect ratio.
    /// </summary>
    public static void Affine(Span<float> theta, double scale, double angle, double tx, double ty, long height, long width)
    {
        double c = scale * Math.Cos(angle), s = scale * Math.Sin(angle);
        theta[0] = (float)c;
        theta[1] = (float)(-s * height / width);
        theta[2] = (float)(2 * tx / width);
        theta[3] = (float)(s * width / height);
        theta[4] = (float)c;
        theta[5] = (float)(2 * ty / height);
    }

    /// <summary>The N×H×W×2 sampling grid of <paramref name="theta"/> for N×C×H×W images.</summary>
    public static Tensor Grid(Tensor theta, long height, long width) =>
        functional.affine_grid(theta, [theta.shape[0], 3, height, width], align_corners: false);

    /// <summary>Samples <paramref name="x"/> at <paramref name="grid"/> (bilinear, edge replicated outside).</summary>
    public static Tensor Warp(Tensor x, Tensor grid) =>
        functional.grid_sample(x, grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Border, align_corners: false);

    /// <summary>N×1×H×W: 1 where the grid's source point lies between the image's outer pixel centres, else 0.</summary>
    public static Tensor ValidMask(Tensor grid)
    {
        long h = grid.shape[1], w = grid.shape[2];
        var gx = grid.select(3, 0).abs() <= 1 - (1.0 / w) + 1e-6;
        var gy = grid.select(3, 1).abs() <= 1 - (1.0 / h) + 1e-6;
        return gx.logical_and(gy).unsqueeze(1).to_type(ScalarType.Float32);
    }

    /// <summary>The moved copy: <paramref name="x"/> warped by <paramref name="grid"/>, plus Gaussian noise of <paramref name="noiseStd"/>, clamped to [0,1].</summary>
    public static Tensor MovedCopy(Tensor x, Tensor grid, double noiseStd = NoiseStd)
    {
        var moved = Warp(x, grid);
        return noiseStd > 0 ? (moved + (torch.randn_like(moved) * noiseStd)).clamp(0, 1) : moved;
    }

    /// <summary>
    /// Mean squared difference, over valid pixels and all channels, between <paramref name="stylized"/> moved by
    /// <paramref name="grid"/> and <paramref name="stylizedMoved"/> (the stylization of the moved copy).
    /// </summary>
    public static Tensor Of(Tensor stylized, Tensor stylizedMoved, Tensor grid)
    {
        var mask = ValidMask(grid);
        var d = (Warp(stylized, grid) - stylizedMoved).pow(2) * mask;
        return d.sum() / ((mask.sum() * stylized.shape[1]) + 1e-8);
    }
}
