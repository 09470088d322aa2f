using System.Globalization;

namespace Video.Training.Internal;

/// <summary>Loss history of a run: appended per logged step, saved as CSV and plotted as PNG with ScottPlot.</summary>
internal sealed class LossCurve
{
    private readonly List<(int Step, Dictionary<string, double> Values)> _rows = [];

    public IReadOnlyList<(int Step, Dictionary<string, double> Values)> Rows => _rows;

    public void Add(int step, IReadOnlyDictionary<string, double> values) => _rows.Add((step, new Dictionary<string, double>(values)));

    public void SaveCsv(string path)
    {
        if (_rows.Count == 0)
        {
            return;
        }

        var keys = Keys();
        var lines = new List<string> { "step," + string.Join(',', keys) };
        lines.AddRange(_rows.Select(r => r.Step.ToString(CultureInfo.InvariantCulture) + "," +
            string.Join(',', keys.Select(k => r.Values.TryGetValue(k, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : ""))));
        File.WriteAllLines(path, lines);
    }

    public static LossCurve LoadCsv(string path)
    {
        var curve = new LossCurve();
        if (!File.Exists(path))
        {
            return curve;
        }

        var lines = File.ReadAllLines(path);
        if (lines.Length == 0)
        {
            return curve;
        }

        var keys = lines[0].Split(',').Skip(1).ToArray();
        foreach (var line in lines.Skip(1))
        {
            var parts = line.Split(',');
            var values = new Dictionary<string, double>();
            for (int i = 0; i < keys.Length; i++)
            {
                if (parts[i + 1].Length > 0)
                {
                    values[keys[i]] = double.Parse(parts[i + 1], CultureInfo.InvariantCulture);
                }
            }

            curve._rows.Add((int.Parse(parts[0], CultureInfo.InvariantCulture), values));
        }

        return curve;
    }

    /// <summary>Mean of the last <paramref name="n"/> logged values of every loss term (the "final losses").</summary>
    public static Dictionary<string, double> Smoothed(LossCurve curve, int n)
    {
        var rows = curve.Rows.TakeLast(n).ToList();
        if (rows.Count == 0)
        {
            return [];
        }

        var keys = rows.SelectMany(r => r.Values.Keys).Distinct();
        return keys.ToDictionary(k => k, k => RoundForDisplay(rows.Where(r => r.Values.ContainsKey(k)).Average(r => r.Values[k])));
    }

    /// <summary>Five decimals, more for small values so that at least three significant digits remain.</summary>
    internal static double RoundForDisplay(double v) =>
        v == 0 || !double.IsFinite(v) ? v : Math.Round(v, Math.Clamp(2 - (int)Math.Floor(Math.Log10(Math.Abs(v))), 5, 15));

    /// <summary>Every loss term that occurs, in order of first appearance (a resumed run may add terms, e.g. "temporal").</summary>
    private List<string> Keys() => _rows.SelectMany(r => r.Values.Keys).Distinct().ToList();

    /// <summary>Plots every series (log scale) against the step and writes a PNG.</summary>
    public void SavePng(string path, string title)
    {
        if (_rows.Count == 0)
        {
            return;
        }

        var plot = new ScottPlot.Plot();
        foreach (var key in Keys())
        {
            var rows = _rows.Where(r => r.Values.ContainsKey(key)).ToList();
            double[] xs = rows.Select(r => (double)r.Step).ToArray();
            double[] ys = rows.Select(r => Math.Log10(Math.Max(r.Values[key], 1e-12))).ToArray();
            var s = plot.Add.Scatter(xs, ys);
            s.LegendText = key;
            s.MarkerSize = 0;
        }

        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel("log10(loss)");
        plot.ShowLegend();
        plot.SavePng(path, 900, 500);
    }
}
