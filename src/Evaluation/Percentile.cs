namespace Video.Evaluation;

/// <summary>
/// The one percentile function of the project (latency in <c>video loadtest</c>, frame times in <c>video bench</c> and
/// <c>video eval temporal-bench</c>, the peak operator's runs, the TorchSharp-eager baseline in
/// <c>video-train eager-bench</c>): the nearest-rank definition, so every figure is a sample that was measured, never an
/// interpolation between two.
/// </summary>
/// <remarks>Stateless and thread safe. The samples are borrowed for the call.</remarks>
public static class Percentile
{
    /// <summary>
    /// The smallest sample with at least <paramref name="q"/> of all samples at or below it (nearest rank, q in [0, 1]);
    /// <paramref name="sorted"/> must be in ascending order. NaN when there are no samples.
    /// </summary>
    public static double OfSorted(ReadOnlySpan<double> sorted, double q)
    {
        if (q is < 0 or > 1 || double.IsNaN(q))
        {
            throw new ArgumentOutOfRangeException(nameof(q), q, "a percentile is a fraction in [0, 1]");
        }

        if (sorted.IsEmpty)
        {
            return double.NaN;
        }

        int rank = (int)Math.Ceiling(q * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>Sorts a copy of <paramref name="samples"/> and returns <see cref="OfSorted"/> of it.</summary>
    public static double Of(IEnumerable<double> samples, double q) => OfSorted(samples.Order().ToArray(), q);
}
