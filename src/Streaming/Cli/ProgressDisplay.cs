using Video.Inference;

namespace Video.Streaming.Cli;

/// <summary>
/// A one-line live progress bar on stderr (frames, bar, fps, ETA), redrawn a few times a second while a
/// pipeline runs. Silent when stderr is not a terminal, so logs and CI output stay clean.
/// </summary>
internal sealed class ProgressDisplay : IAsyncDisposable
{
    private readonly PipelineStats _stats;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly bool _enabled;

    public ProgressDisplay(PipelineStats stats, bool enabled)
    {
        _stats = stats;
        _enabled = enabled && !Console.IsErrorRedirected;
        _loop = _enabled ? RunAsync() : Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        if (_enabled)
        {
            Console.Error.Write("\r" + new string(' ', Math.Max(0, Width() - 1)) + "\r");
        }

        _stop.Dispose();
    }

    internal static string Render(long done, long? total, double fps, int width)
    {
        string eta = total is long t && fps > 0 && t >= done ? TimeSpan.FromSeconds((t - done) / fps).ToString(@"m\:ss") : "--:--";
        string count = total is long n ? $"{done}/{n}" : $"{done}";
        string tail = $" {fps,6:0.0} fps  ETA {eta}";
        int barWidth = Math.Max(10, width - count.Length - tail.Length - 12);
        double fraction = total is long all && all > 0 ? Math.Clamp((double)done / all, 0, 1) : 0;
        int filled = (int)(fraction * barWidth);
        return $"frames {count} [{new string('#', filled)}{new string('-', barWidth - filled)}] {fraction * 100,3:0}%{tail}";
    }

    private static int Width()
    {
        try
        {
            return Math.Clamp(Console.WindowWidth, 40, 120);
        }
        catch (IOException)
        {
            return 80;
        }
    }

    private async Task RunAsync()
    {
        try
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                Console.Error.Write("\r" + Render(_stats.FramesOut, _stats.FramesExpected, _stats.Fps, Width()));
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }
}
