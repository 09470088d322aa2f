namespace Video.Inference;

/// <summary>
/// A style as an AdaIN model sees it: the named feature statistics its style encoder computed (e.g. per-channel
/// mean and standard deviation). Computed once per style image and reused for every frame.
/// </summary>
/// <remarks>Immutable; thread safe.</remarks>
public sealed class StyleStatistics
{
    private readonly IReadOnlyDictionary<string, float[]> _values;

    public StyleStatistics(IReadOnlyDictionary<string, float[]> values)
    {
        _values = values;
    }

    public IEnumerable<string> Names => _values.Keys;

    public ReadOnlySpan<float> Get(string name) =>
        _values.TryGetValue(name, out var v) ? v : throw new ModelException($"style has no statistic '{name}'");

    /// <summary>
    /// Interpolates several styles with weights (normalised to sum to 1). Because AdaIN is affine in the
    /// style mean and deviation, blending statistics equals blending the AdaIN outputs (Huang and Belongie 2017, §7).
    /// </summary>
    public static StyleStatistics Mix(IReadOnlyList<(StyleStatistics Style, float Weight)> styles)
    {
        if (styles.Count == 0)
        {
            throw new ArgumentException("no styles to mix", nameof(styles));
        }

        float total = styles.Sum(s => s.Weight);
        if (!(total > 0) || styles.Any(s => s.Weight < 0 || !float.IsFinite(s.Weight)))
        {
            throw new Capture.VideoException("style weights must be non-negative and not all zero");
        }

        var mixed = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var name in styles[0].Style.Names)
        {
            var sum = new float[styles[0].Style.Get(name).Length];
            foreach (var (style, weight) in styles)
            {
                var v = style.Get(name);
                if (v.Length != sum.Length)
                {
                    throw new ModelException($"styles disagree on the size of '{name}'");
                }

                for (int i = 0; i < sum.Length; i++)
                {
                    sum[i] += v[i] * weight / total;
                }
            }

            mixed[name] = sum;
        }

        return new StyleStatistics(mixed);
    }
}
