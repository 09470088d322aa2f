using System.Diagnostics;
using System.Globalization;

namespace Video.Training.Internal;

/// <summary>
/// One progress line: bar, step, loss terms, it/s and ETA. Redrawn in place on a terminal; when stdout is
/// redirected (nohup, CI) a plain line is printed every few seconds instead.
/// </summary>
/// <remarks>Not thread safe; call from the training loop only.</remarks>
internal sealed class ProgressReporter
{
    private readonly int _totalSteps;
    private readonly double _maxMinutes;
    private readonly Stopwatch _clock;
    private readonly int _startStep;
    private readonly bool _interactive = !Console.IsOutputRedirected;
    private double _lastPrint = double.NegativeInfinity;

    public ProgressReporter(int totalSteps, double maxMinutes, int startStep, Stopwatch clock)
    {
        _totalSteps = totalSteps;
        _maxMinutes = maxMinutes;
        _startStep = startStep;
        _clock = clock;
    }

    public void Report(int step, IReadOnlyDictionary<string, double> losses, bool force = false)
    {
        double elapsed = _clock.Elapsed.TotalSeconds;
        if (!force && elapsed - _lastPrint < (_interactive ? 0.5 : 15))
        {
            return;
        }

        _lastPrint = elapsed;
        int done = step - _startStep;
        double rate = done > 0 ? done / elapsed : 0;
        double etaSteps = rate > 0 ? (_totalSteps - step) / rate : double.PositiveInfinity;
        double etaBudget = _maxMinutes > 0 ? Math.Max(0, (_maxMinutes * 60) - elapsed) : double.PositiveInfinity;
        double eta = Math.Min(etaSteps, etaBudget);
        double frac = _totalSteps > 0 ? Math.Clamp((double)step / _totalSteps, 0, 1) : 0;
        if (_maxMinutes > 0)
        {
            frac = Math.Max(frac, Math.Clamp(elapsed / (_maxMinutes * 60), 0, 1));
        }

        int filled = (int)Math.Round(frac * 24);
        string bar = new string('#', filled) + new string('-', 24 - filled);
        string terms = string.Join(' ', losses.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:0.0000}")));
        string line = string.Create(CultureInfo.InvariantCulture,
            $"[{bar}] {step}/{_totalSteps} {terms} | {rate:0.00} it/s | elapsed {Fmt(elapsed)} | ETA {Fmt(eta)}");
        if (_interactive)
        {
            Console.Write("\r" + line.PadRight(Math.Min(Console.WindowWidth > 0 ? Console.WindowWidth - 1 : 150, 200)));
        }
        else
        {
            Console.WriteLine(line);
        }
    }

    public void Finish()
    {
        if (_interactive)
        {
            Console.WriteLine();
        }
    }

    private static string Fmt(double seconds) =>
        double.IsInfinity(seconds) ? "?" : TimeSpan.FromSeconds(Math.Round(seconds)).ToString(seconds >= 3600 ? @"h\:mm\:ss" : @"mm\:ss", CultureInfo.InvariantCulture);
}
