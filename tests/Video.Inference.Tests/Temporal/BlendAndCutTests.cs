using Video.Inference.Temporal;
using Video.Inference.Temporal.Internal;

namespace Video.Inference.Tests.Temporal;

public class BlendAndCutTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Blend_RandomBytes_MatchesTheScalarFormula(bool clamp)
    {
        const int N = (3 * 1000) + 7; // not a multiple of any vector width, so the tail runs too
        var random = new Random(11);
        byte[] stylized = new byte[N], history = new byte[N], weights = new byte[N], low = new byte[N], high = new byte[N];
        random.NextBytes(stylized);
        random.NextBytes(history);
        random.NextBytes(weights);
        for (int i = 0; i < N; i++)
        {
            int a = random.Next(256), b = random.Next(256);
            (low[i], high[i]) = ((byte)Math.Min(a, b), (byte)Math.Max(a, b));
        }

        var expected = new byte[N];
        for (int i = 0; i < N; i++)
        {
            int w = weights[i] + (weights[i] >> 7);
            int h = clamp ? Math.Clamp(history[i], low[i] - 9, high[i] + 9) : history[i];
            expected[i] = (byte)(stylized[i] + ((((h - stylized[i]) * w) + 128) >> 8));
        }

        if (clamp)
        {
            FlowKernels.Blend(stylized, history, weights, low, high, margin: 9);
        }
        else
        {
            FlowKernels.Blend(stylized, history, weights);
        }

        Assert.Equal(expected, stylized);
    }

    [Fact]
    public void FlickerMeter_SceneCut_IsLeftOutOfTheMean()
    {
        const int W = 96, H = 64;
        var first = TemporalFixtures.Texture(W, H, seed: 3);
        var second = TemporalFixtures.Texture(W, H, seed: 9);
        // Two random textures of one kind look alike to a coarse flow (77 % "visible" at this size), so the
        // visibility bound is lifted here; the error criterion alone marks the cut.
        using var meter = new FlickerMeter(W, H, versions: 1, cutVisibleFraction: 1);
        for (int t = 0; t < 6; t++)
        {
            using var original = TemporalFixtures.Pan(t < 3 ? first : second, W, W, H, t, 0, 0);
            using var stylized = TemporalFixtures.Flicker(original, 40);
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
            using var original = TemporalFixtures.Pan(t < 3 ? first : second, W, W, H, t, 0, 0);
            counting.Push(original, [original]);
        }

        Assert.Equal(5, counting.Pairs);
        Assert.True(counting.OriginalWarpError > 0.01, $"{counting.OriginalWarpError}");
    }
}
