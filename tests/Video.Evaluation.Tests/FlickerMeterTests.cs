using Video.Capture;
using Video.Inference.Tests.Temporal;
using Video.Tests.Shared;

namespace Video.Evaluation.Tests;

public class FlickerMeterTests : FrameLeakCheckedTest
{
    [Fact]
    public void WarpError_ConsistentSequence_IsZero()
    {
        const int W = 96, H = 64;
        var texture = TemporalFixtures.Texture(W, H, seed: 3);
        using var meter = new FlickerMeter(W, H, versions: 1);
        for (int t = 0; t < 6; t++)
        {
            using var original = TemporalFixtures.Pan(Allocator, texture, W, W, H, t, 0, 0);
            using var stylized = TemporalFixtures.Flicker(Allocator, original, 40); // a different look, the same every frame
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
            using var original = TemporalFixtures.Pan(Allocator, texture, W, W, H, t, 0, 0);
            using var steady = TemporalFixtures.Flicker(Allocator, original, 40);
            using var flickering = TemporalFixtures.Flicker(Allocator, original, (t % 2) == 0 ? 30 : 50); // ±10 around the steady look
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
            using var original = TemporalFixtures.Pan(Allocator, texture, TW, W, H, t, 2, 1);
            using var flickering = TemporalFixtures.Flicker(Allocator, original, (t % 2) == 0 ? 0 : 25);
            meter.Push(original, [flickering]);
        }

        // Motion is compensated: the original's own error is small, and the flicker is what stands out.
        Assert.True(meter.OriginalWarpError < 0.002, $"floor {meter.OriginalWarpError}");
        Assert.True(meter.WarpError(0) > 3 * meter.OriginalWarpError, $"{meter.WarpError(0)} vs floor {meter.OriginalWarpError}");
    }

    [Fact]
    public void Push_WrongSize_Throws()
    {
        using var meter = new FlickerMeter(32, 32, versions: 1);
        using var a = Allocator.AllocateFrame(32, 32);
        using var b = Allocator.AllocateFrame(16, 32);
        Assert.Throws<ArgumentException>(() => meter.Push(a, [b]));
    }

    [Fact]
    public void Push_SceneCut_IsLeftOutOfTheMean()
    {
        const int W = 96, H = 64;
        var first = TemporalFixtures.Texture(W, H, seed: 3);
        var second = TemporalFixtures.Texture(W, H, seed: 9);
        // Two random textures of one kind look alike to a coarse flow (77 % "visible" at this size), so the
        // visibility bound is lifted here; the error criterion alone marks the cut.
        using var meter = new FlickerMeter(W, H, versions: 1, cutVisibleFraction: 1);
        for (int t = 0; t < 6; t++)
        {
            using var original = TemporalFixtures.Pan(Allocator, t < 3 ? first : second, W, W, H, t, 0, 0);
            using var stylized = TemporalFixtures.Flicker(Allocator, original, 40);
            meter.Push(original, [stylized]);
        }

        var d = meter.PairDetails[2];
        Assert.True(meter.Cuts == 1, $"visible {d.VisibleFraction} error {d.Errors[0]}");
        Assert.Equal(4, meter.Pairs);
        Assert.True(meter.PairDetails[2].IsCut);
        // What is left is the static frames' (flow noise, far below the cut's 0.068).
        Assert.InRange(meter.OriginalWarpError, 0, 1e-5);
        Assert.InRange(meter.WarpError(0), 0, 1e-5);

        // Counted (cut threshold 0), the cut dominates the figure.
        using var counting = new FlickerMeter(W, H, versions: 1, cutError: 0);
        for (int t = 0; t < 6; t++)
        {
            using var original = TemporalFixtures.Pan(Allocator, t < 3 ? first : second, W, W, H, t, 0, 0);
            counting.Push(original, [original]);
        }

        Assert.Equal(5, counting.Pairs);
        Assert.True(counting.OriginalWarpError > 0.01, $"{counting.OriginalWarpError}");
    }
}
