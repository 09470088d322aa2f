namespace Video.Evaluation.Internal;

/// <summary>Whole-machine CPU time from /proc/stat.</summary>
internal static class MachineCpu
{
    public static (long Busy, long Total) Read()
    {
        try
        {
            var parts = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
            long idle = parts[3] + (parts.Length > 4 ? parts[4] : 0);
            long total = parts.Take(8).Sum();
            return (total - idle, total);
        }
        catch (IOException)
        {
            return (0, 0);
        }
    }

    public static double Percent((long Busy, long Total) a, (long Busy, long Total) b) =>
        b.Total > a.Total ? 100.0 * (b.Busy - a.Busy) / (b.Total - a.Total) : double.NaN;
}
