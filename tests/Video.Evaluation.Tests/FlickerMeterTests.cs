using Video.Capture;
using Video.Inference.Temporal;
using Video.Inference.Temporal.Internal;

namespace Video.Inference.Tests.Temporal;

public class FlickerMeterTests
{
    [Fact]
    public void WarpError_ConsistentSequence_IsZero()
    {
        const int W = 96, H = 64;
        var texture = TemporalFixtures.Texture(W, H, seed: 3);
        using var meter = new FlickerMeter(W, H, versions: 1);
        for (int t = 0; t < 6; t++)
        {
            using var original = TemporalFixtures.Pan(texture, W, W, H, t, 0, 0);
            using var stylized = TemporalFixtures.Flicker(original, 40); // a different look, the same every frame
            meter.Push(original, [stylized]);
        }

        Assert.Equal(5, meter.Pairs);
        Assert.Equal(0, meter.OriginalWarpError);
        Assert.Equal(0, meter.WarpError(0));
    }

    [Fact]
    public void WarpError_FlickeringSequence_IsPositiveAndMatchesTheFlicker()
    {
        const int W = 96, H = 64;
        var texture = TemporalFixtures.Texture(W, H, seed: 3);
        using var meter = new FlickerMeter(W, H, versions: 2);
        for (int t = 0; t < 6; t++)
        {
            using var original = TemporalFixtures.Pan(texture, W, W, H, t, 0, 0);
            using var steady = TemporalFixtures.Flicker(original, 40);
            using var flickering = TemporalFixtures.Flicker(original, (t % 2) == 0 ? 30 : 50); // ±10 around the steady look
            meter.Push(original, [steady, flickering]);
        }

        Assert.Equal(0, meter.WarpError(0));
        double expected = (20.0 / 255) * (20.0 / 255); // less where bright pixels saturate
        Assert.InRange(meter.WarpError(1), expected * 0.85, expected * 1.0001);
    }

    [Fact]
    public void WarpError_PanningSequence_StaysNearTheOriginalsFloor()
    {
        const int W = 128, H = 80, TW = 200;
        var texture = TemporalFixtures.Texture(TW, 120, seed: 5);
        using var meter = new FlickerMeter(W, H, versions: 1);
        for (int t = 0; t < 8; t++)
        {
            using var original = TemporalFixtures.Pan(texture, TW, W, H, t, 2, 1);
            using var flickering = TemporalFixtures.Flicker(original, (t % 2) == 0 ? 0 : 25);
            meter.Push(original, [flickering]);
        }

        // Motion is compensated: the original's own error is small, and the flicker is what stands out.
        Assert.True(meter.OriginalWarpError < 0.002, $"floor {meter.OriginalWarpError}");
        Assert.True(meter.WarpError(0) > 3 * meter.OriginalWarpError, $"{meter.WarpError(0)} vs floor {meter.OriginalWarpError}");
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

    [Fact]
    public void Push_WrongSize_Throws()
    {
        using var meter = new FlickerMeter(32, 32, versions: 1);
        using var a = Frame.CreateUnpooled(32, 32);
        using var b = Frame.CreateUnpooled(16, 32);
        Assert.Throws<ArgumentException>(() => meter.Push(a, [b]));
    }
}
