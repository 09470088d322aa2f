namespace Video.Evaluation;

/// <summary>
/// Times two operations in turn, one run of each per pair, the order swapped every pair, so load from elsewhere on this
/// shared machine falls on both alike: the bench's model against the conv-peak operator, and
/// <c>video-train eager-bench</c>'s eager frames against ONNX Runtime's.
/// </summary>
/// <remarks>Stateless. The operations time themselves (each returns its own milliseconds).</remarks>
public static class InTurn
{
    /// <summary>
    /// Runs <paramref name="warmup"/> untimed pairs, then <paramref name="pairs"/> timed ones; returns each operation's
    /// milliseconds in run order. Even pairs run <paramref name="first"/> first, odd pairs <paramref name="second"/>.
    /// </summary>
    public static (double[] First, double[] Second) Time(Func<double> first, Func<double> second, int pairs, int warmup = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pairs);
        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        var a = new double[pairs];
        var b = new double[pairs];
        for (int i = -warmup; i < pairs; i++)
        {
            double x, y;
            if (i % 2 == 0)
            {
                x = first();
                y = second();
            }
            else
            {
                y = second();
                x = first();
            }

            if (i >= 0)
            {
                a[i] = x;
                b[i] = y;
            }
        }

        return (a, b);
    }
}
