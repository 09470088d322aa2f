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
}
