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

        var keys = _rows[0].Values.Keys.ToList();
        var lines = new List<string> { "step," + string.Join(',', keys) };
        lines.AddRange(_rows.Select(r => r.Step.ToString(CultureInfo.InvariantCulture) + "," +
            string.Join(',', keys.Select(k => r.Values.GetValueOrDefault(k).ToString("R", CultureInfo.InvariantCulture)))));
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
                values[keys[i]] = double.Parse(parts[i + 1], CultureInfo.InvariantCulture);
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

        return rows[0].Values.Keys.ToDictionary(k => k, k => Math.Round(rows.Average(r => r.Values.GetValueOrDefault(k)), 5));
    }

    /// <summary>Plots every series (log scale) against the step and writes a PNG.</summary>
    public void SavePng(string path, string title)
    {
        if (_rows.Count == 0)
        {
            return;
        }

        var plot = new ScottPlot.Plot();
        double[] xs = _rows.Select(r => (double)r.Step).ToArray();
        foreach (var key in _rows[0].Values.Keys)
        {
            double[] ys = _rows.Select(r => Math.Log10(Math.Max(r.Values.GetValueOrDefault(key), 1e-12))).ToArray();
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
