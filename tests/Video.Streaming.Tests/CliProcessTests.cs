using System.Diagnostics;
using Video.Tests.Shared;

namespace Video.Streaming.Tests;

/// <summary>The harness that runs <c>video</c> as a child process: a hung child must not hang the test run.</summary>
public class CliProcessTests
{
    [Fact]
    public async Task Run_ChildThatNeverExits_IsKilledAtTheTimeoutWithItsOutputInTheFailure()
    {
        using var dir = new TempDir();

        // `video serve` runs until it is stopped and keeps its stdout open: the case a blocking read never returns from.
        string[] args = ["serve", "--port", "0", "--metrics-port", "-1", "--device", "cpu", "--models", Repo.Models];
        var run = Task.Run(() => CliProcess.Run(dir.Path, new Dictionary<string, string>(), TimeSpan.FromSeconds(10), args));

        var e = await Assert.ThrowsAsync<ChildTimeoutException>(() => run.WaitAsync(TimeSpan.FromSeconds(90)));
        Assert.Contains("video.dll serve --port 0", e.Message, StringComparison.Ordinal);
        Assert.Contains("did not finish in 10 s and was killed", e.Message, StringComparison.Ordinal);
        Assert.Contains("--- stderr so far:", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(e.ProcessId));
    }

    [Fact]
    public void Run_ChildThatFloodsStderr_FinishesWithBothStreams()
    {
        // 1 MiB on stderr before anything on stdout: a harness that reads stdout to the end first would deadlock on the full pipe.
        var result = ChildProcess.Run("sh", ["-c", "head -c 1048576 /dev/zero | tr '\\0' x >&2; echo done"], TimeSpan.FromSeconds(60));
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("done\n", result.Stdout);
        Assert.Equal(1 << 20, result.Stderr.Length);
    }
}
