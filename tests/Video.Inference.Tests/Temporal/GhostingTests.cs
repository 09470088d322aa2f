using OpenCvSharp;
using Video.Capture;
using Video.Inference.Temporal;
using Video.Inference.Temporal.Internal;
using Video.Tests.Shared;

namespace Video.Inference.Tests.Temporal;

/// <summary>
/// Ghosting: where something moved and the flow did not follow it, the filter must show the new stylized
/// frame, not a blend with the old one (a faded, half-transparent copy of what was there before).
/// </summary>
public class GhostingTests : FrameLeakCheckedTest
{
    // 640×360 so the flow runs at a quarter of the frame (160×90), as in real use: a thin bar is then
    // 1–2 flow pixels wide, and the quarter-size check alone let the old frame through there.
    private const int W = 640, H = 360, BarWidth = 8, BarTop = 60, BarBottom = 300, Speed = 3;

    [Fact]
    public void Apply_ThinBarMovesOverStaticBackground_ShowsTheNewFrameWhereItMoved()
    {
        var (worstMoved, backgroundChange, stylizedBackgroundChange) = RunBar(new TemporalOptions { Mode = TemporalMode.Flow, Strength = 0.8 });

        // Blending the old frame in with weight 0.8 would put the output off by up to 0.8 × 60 levels (the bar's
        // contrast) there; with the check on the flow's small image only it was 42 on average. What is left
        // comes from the edges, where the check's weights change over a few pixels.
        Assert.True(worstMoved <= 20, $"where the bar moved the output differs from the new stylized frame by {worstMoved:0.0} levels on average (ghosting)");
        Assert.True(backgroundChange <= 0.5 * stylizedBackgroundChange, $"static background: output changes {backgroundChange:0.0} levels per frame, stylized {stylizedBackgroundChange:0.0}");
    }

    [Fact]
    public void Apply_WithoutTheFullSizeCheck_GhostsWhereTheBarMoved()
    {
        // The same scene through the filter as it was before the full-size check: the test above would fail.
        var (worstMoved, _, _) = RunBar(new TemporalOptions { Mode = TemporalMode.Flow, Strength = 0.8, FineTolerance = 0 });
        Assert.True(worstMoved > 30, $"without the full-size check the output differs by only {worstMoved:0.0} levels where the bar moved");
    }

    private (double WorstMoved, double BackgroundChange, double StylizedBackgroundChange) RunBar(TemporalOptions options)
    {
        var background = TemporalFixtures.Texture(W, H, seed: 3);
        using var filter = new TemporalFilter(W, H, options);
        Frame? previousOutput = null;
        double worstMoved = 0, backgroundChange = 0, stylizedBackgroundChange = 0;
        int measured = 0;
        try
        {
            for (int t = 0; t < 14; t++)
            {
                using var input = Scene(background, t);

                // A "stylizer" that is exactly consistent around the bar (so anything but the new frame there is
                // old content brought in by the history) and flickers by ±14 levels on the right part of the frame.
                using var stylized = TemporalFixtures.Copy(Allocator, input);
                FlickerFrom(stylized, 400, t % 2 == 0 ? 14 : -14);
                var output = TemporalFixtures.Copy(Allocator, stylized);
                filter.ObserveInput(input);
                filter.Apply(output);
                if (t >= 4)
                {
                    Assert.Equal(TemporalOutcome.Blended, filter.LastOutcome);

                    // Where the bar entered (bar now, background before) and where it left (the reverse).
                    int x0 = BarX(t - 1), x1 = BarX(t);
                    double entered = MeanAbsDifference(output, stylized, x0 + BarWidth, x1 + BarWidth, BarTop, BarBottom);
                    double left = MeanAbsDifference(output, stylized, x0, x1, BarTop, BarBottom);
                    worstMoved = Math.Max(worstMoved, Math.Max(entered, left));

                    // Far from the bar the background is static: the filter still smooths its flicker.
                    backgroundChange += MeanAbsDifference(output, previousOutput!, 400, 600, 40, 320);
                    stylizedBackgroundChange += 28;
                    measured++;
                }

                previousOutput?.Dispose();
                previousOutput = output;
            }
        }
        finally
        {
            previousOutput?.Dispose();
        }

        return (worstMoved, backgroundChange / measured, stylizedBackgroundChange / measured);
    }

    [Theory]
    [InlineData(640, 360, 160, 90)]
    [InlineData(480, 360, 160, 120)]
    [InlineData(650, 370, 162, 92)]
    public void LowResolutionMap_Upsampled_EqualsGridPlusUpsampledFlowEverywhere(int width, int height, int flowWidth, int flowHeight)
    {
        var random = new Random(9);
        using var flow = new CvBuffer(flowHeight, flowWidth, MatType.CV_32FC2);
        var f = flow.Span<float>();
        for (int i = 0; i < f.Length; i++)
        {
            f[i] = (float)((random.NextDouble() * 6) - 3);
        }

        // The direct way: upsample the flow, scale it to frame pixels, add each pixel's coordinates.
        using var fullFlow = new CvBuffer(height, width, MatType.CV_32FC2);
        Cv2.Resize(flow.Mat, fullFlow.Mat, new Size(width, height), 0, 0, InterpolationFlags.Linear);
        float sx = width / (float)flowWidth, sy = height / (float)flowHeight;

        using var low = new CvBuffer(flowHeight, flowWidth, MatType.CV_32FC2);
        using var map = new CvBuffer(height, width, MatType.CV_32FC2);
        FlowKernels.LowResolutionMap(f, flowWidth, flowHeight, width, height, low.Span<float>());
        Cv2.Resize(low.Mat, map.Mat, new Size(width, height), 0, 0, InterpolationFlags.Linear);
        FlowKernels.FixMapBorders(map.Span<float>(), flowWidth, flowHeight, width, height);

        var m = map.Span<float>();
        var u = fullFlow.Span<float>();
        double worst = 0;
        for (int y = 0, i = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++, i += 2)
            {
                worst = Math.Max(worst, Math.Abs(m[i] - (x + (sx * u[i]))));
                worst = Math.Max(worst, Math.Abs(m[i + 1] - (y + (sy * u[i + 1]))));
            }
        }

        Assert.InRange(worst, 0, 1e-3);
    }

    [Fact]
    public void AbsDifferenceAndLimitWeights_RandomBytes_MatchTheScalarFormula()
    {
        const int N = 1000 + 7;
        var random = new Random(4);
        byte[] a = new byte[N], b = new byte[N], weights = new byte[N];
        random.NextBytes(a);
        random.NextBytes(b);
        random.NextBytes(weights);
        for (int i = 0; i < N; i += 3)
        {
            b[i] = (byte)Math.Clamp(a[i] + random.Next(-40, 41), 0, 255); // plenty of small differences too
        }

        var expected = new byte[N];
        for (int i = 0; i < N; i++)
        {
            double trust = Math.Clamp(1.5 - (Math.Abs(a[i] - b[i]) / 24.0), 0, 1);
            expected[i] = (byte)Math.Min(weights[i], 204 * trust);
        }

        var difference = new byte[N];
        FlowKernels.AbsDifference(a, b, difference);
        FlowKernels.LimitWeights(difference, weights, 0.8f, 12);
        for (int i = 0; i < N; i++)
        {
            Assert.InRange(weights[i], Math.Max(0, expected[i] - 2), expected[i] + 2);
        }
    }

    [Theory]
    [InlineData(640, 360, 4)]
    [InlineData(650, 370, 4)]
    [InlineData(97, 61, 3)]
    public void DownscaleToGrey_WithFullGrey_WritesEveryPixelsLuma(int width, int height, int factor)
    {
        var rgb = new byte[width * height * 3];
        new Random(2).NextBytes(rgb);
        int dw = width / factor, dh = height / factor;
        var small = new byte[dw * dh];
        var smallAlone = new byte[dw * dh];
        var full = new byte[width * height];
        var expected = new byte[width * height];
        FlowKernels.DownscaleToGrey(rgb, width * 3, factor, small, dw, dh, new int[dw], full, width, height);
        FlowKernels.DownscaleToGrey(rgb, width * 3, factor, smallAlone, dw, dh, new int[dw]);
        FlowKernels.ToGrey(rgb, width * 3, width, height, expected);
        Assert.Equal(expected, full);
        Assert.Equal(smallAlone, small);
    }

    private static int BarX(int t) => 200 + (t * Speed);

    // A static textured background with a thin dark bar (like a leg or a pole) that moves right.
    private Frame Scene(byte[] background, int t)
    {
        var frame = Allocator.AllocateFrame(W, H);
        frame.Index = t;
        background.CopyTo(frame.Pixels);
        int x0 = BarX(t);
        for (int y = BarTop; y < BarBottom; y++)
        {
            var row = frame.Row(y);
            for (int x = x0; x < x0 + BarWidth; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    row[(x * 3) + c] = (byte)Math.Max(0, row[(x * 3) + c] - 60);
                }
            }
        }

        return frame;
    }

    private static void FlickerFrom(Frame frame, int x0, int offset)
    {
        for (int y = 0; y < frame.Height; y++)
        {
            var row = frame.Row(y);
            for (int i = x0 * 3; i < frame.Width * 3; i++)
            {
                row[i] = (byte)Math.Clamp(row[i] + offset, 0, 255);
            }
        }
    }

    private static double MeanAbsDifference(Frame a, Frame b, int x0, int x1, int y0, int y1)
    {
        long sum = 0;
        int n = 0;
        for (int y = y0; y < y1; y++)
        {
            var ra = a.Row(y);
            var rb = b.Row(y);
            for (int i = x0 * 3; i < x1 * 3; i++)
            {
                sum += Math.Abs(ra[i] - rb[i]);
                n++;
            }
        }

        return sum / (double)n;
    }
}
