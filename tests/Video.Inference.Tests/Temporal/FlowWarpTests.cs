using OpenCvSharp;
using Video.Inference.Temporal.Internal;
using Video.Tests.Shared;

namespace Video.Inference.Tests.Temporal;

public class FlowWarpTests : FrameLeakCheckedTest
{
    [Theory]
    [InlineData(3, 2, false)]
    [InlineData(-5, 1, false)]
    [InlineData(2, -3, true)]
    public void FlowAndWarp_KnownTranslation_RecoversIt(int dx, int dy, bool careful)
    {
        const int W = 160, H = 96, TW = 200;
        var texture = TemporalFixtures.Texture(TW, 140, seed: 11);
        using var a = TemporalFixtures.Pan(Allocator, texture, TW, W, H, 0, 0, 0, startX: 20, startY: 20);
        using var b = TemporalFixtures.Pan(Allocator, texture, TW, W, H, 1, dx, dy, startX: 20, startY: 20);

        using var greyA = new CvBuffer(H, W, MatType.CV_8UC1);
        using var greyB = new CvBuffer(H, W, MatType.CV_8UC1);
        var sums = new int[W];
        FlowKernels.DownscaleToGrey(a.Pixels, a.Stride, 1, greyA.Span<byte>(), W, H, sums);
        FlowKernels.DownscaleToGrey(b.Pixels, b.Stride, 1, greyB.Span<byte>(), W, H, sums);

        // Backward flow of frame b: b(x) ≈ a(x + flow(x)). The view moved by (dx, dy), so content moved by −(dx, dy)
        // and a pixel of b is found at x + (dx, dy) in a.
        using var flow = new CvBuffer(H, W, MatType.CV_32FC2);
        (careful ? DenseFlow.Careful : DenseFlow.Fast).Compute(greyB, greyA, flow);
        var f = flow.Span<float>();
        var us = new List<float>();
        var vs = new List<float>();
        for (int y = 16; y < H - 16; y++)
        {
            for (int x = 16; x < W - 16; x++)
            {
                us.Add(f[((y * W) + x) * 2]);
                vs.Add(f[(((y * W) + x) * 2) + 1]);
            }
        }

        us.Sort();
        vs.Sort();
        Assert.InRange(us[us.Count / 2], dx - 0.25, dx + 0.25);
        Assert.InRange(vs[vs.Count / 2], dy - 0.25, dy + 0.25);

        // Warping a with the flow reproduces b away from the borders.
        using var map = new CvBuffer(H, W, MatType.CV_32FC2);
        var m = map.Span<float>();

        for (int y = 0, i = 0; y < H; y++)
        {
            for (int x = 0; x < W; x++, i += 2)
            {
                m[i] = x + f[i];
                m[i + 1] = y + f[i + 1];
            }
        }

        using var warped = new Mat();
        using var empty = new Mat();
        Cv2.Remap(greyA.Mat, warped, map.Mat, empty, InterpolationFlags.Linear, BorderTypes.Replicate);
        double total = 0;
        int count = 0;
        for (int y = 12; y < H - 12; y++)
        {
            for (int x = 12; x < W - 12; x++)
            {
                total += Math.Abs(warped.At<byte>(y, x) - greyB.Mat.At<byte>(y, x));
                count++;
            }
        }

        Assert.InRange(total / count, 0, 3.0);
    }

    [Fact]
    public void MotionBoundaryMask_ClearsWhereTheFlowJumps_NotWhereItIsSmooth()
    {
        // Left half moves 3 pixels right, right half stands still; the flow changes only between columns 15 and 16.
        const int W = 32, H = 8;
        var flow = new float[W * H * 2];
        for (int y = 0; y < H; y++)
        {
            for (int x = 0; x < W / 2; x++)
            {
                flow[2 * ((y * W) + x)] = 3;
            }
        }

        var visible = new byte[W * H];
        Array.Fill(visible, (byte)1);
        int cleared = FlowKernels.MotionBoundaryMask(flow, W, H, scale: 1, visible);

        Assert.Equal(H, cleared);
        for (int y = 0; y < H; y++)
        {
            for (int x = 0; x < W; x++)
            {
                Assert.Equal(x == (W / 2) - 1 ? 0 : 1, visible[(y * W) + x]);
            }
        }

        // A smooth zoom (the flow grows by 0.02 pixels per pixel) is no boundary: 0.02² = 0.0004 < 0.002.
        for (int y = 0; y < H; y++)
        {
            for (int x = 0; x < W; x++)
            {
                flow[2 * ((y * W) + x)] = 0.02f * x;
                flow[(2 * ((y * W) + x)) + 1] = 0.02f * y;
            }
        }

        Array.Fill(visible, (byte)1);
        Assert.Equal(0, FlowKernels.MotionBoundaryMask(flow, W, H, scale: 1, visible));
    }
}
