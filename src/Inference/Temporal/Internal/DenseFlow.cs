using OpenCvSharp;

namespace Video.Inference.Temporal.Internal;

/// <summary>
/// Dense optical flow between two 8-bit grey images (Farnebäck's polynomial expansion, from OpenCV's
/// video module).
/// </summary>
/// <remarks>
/// DIS would be the first choice, but the OpenCvSharp 4.13 build we ship exposes no DIS binding and its
/// native library does not contain the class (checked with <c>nm</c>/<c>strings</c>). Farnebäck on a
/// quarter-size image costs about as much as DIS "ultrafast", whose finest scale is also a quarter.
/// </remarks>
internal readonly record struct DenseFlow(int Levels, int WindowSize, int Iterations, int PolyN, double PolySigma)
{
    /// <summary>Fast settings for the filter (on an image about 160 pixels wide); one iteration per level, which gives the same E_warp as two at less cost (docs/temporal.md, "Why Farnebäck, not DIS").</summary>
    public static DenseFlow Fast { get; } = new(3, 9, 1, 5, 1.1);

    /// <summary>Cheaper settings for the forward flow, which only feeds the occlusion check (half the cost of <see cref="Fast"/>).</summary>
    public static DenseFlow Check { get; } = new(2, 9, 1, 5, 1.1);

    /// <summary>Careful settings for the flicker metric (on an image up to 480 pixels wide).</summary>
    public static DenseFlow Careful { get; } = new(4, 15, 3, 5, 1.2);

    /// <summary>Flow from <paramref name="from"/> to <paramref name="to"/>: from(x) ≈ to(x + flow(x)).</summary>
    public void Compute(CvBuffer from, CvBuffer to, CvBuffer flow) =>
        Cv2.CalcOpticalFlowFarneback(from.In, to.In, flow.Mat, 0.5, Levels, WindowSize, Iterations, PolyN, PolySigma, 0);
}
