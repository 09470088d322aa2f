using System.Diagnostics;
using System.Text;

namespace Video.Tests.Shared;

/// <summary>What a finished child process printed and returned.</summary>
public sealed record ChildResult(int ExitCode, string Stdout, string Stderr);

/// <summary>A child process that outlived its time limit; it was killed with its whole process tree.</summary>
public sealed class ChildTimeoutException(string message, int processId) : TimeoutException(message)
{
    /// <summary>The id of the killed process (for tests that check it is gone).</summary>
    public int ProcessId { get; } = processId;
}

/// <summary>
/// Runs a tool to its end under a time limit. Both output streams are read while the child runs, so a child
/// that fills a pipe cannot block, and a child that hangs (even one holding its stdout open) is killed with
/// its process tree when the limit passes; the failure names the command and shows the output so far.
/// </summary>
public static class ChildProcess
{
    /// <summary>How long the pipes may stay open after the child exited or was killed (a grandchild can hold them).</summary>
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(10);

    public static ChildResult Run(string fileName, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null, IReadOnlyDictionary<string, string?>? env = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env ?? new Dictionary<string, string?>())
        {
            if (v is null)
            {
                psi.Environment.Remove(k);
            }
            else
            {
                psi.Environment[k] = v;
            }
        }

        string command = string.Join(' ', psi.ArgumentList.Prepend(fileName));
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {fileName}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var stdoutDone = CopyAsync(p.StandardOutput, stdout);
        var stderrDone = CopyAsync(p.StandardError, stderr);
        if (!p.WaitForExit(timeout))
        {
            int id = p.Id;
            try
            {
                p.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited between the wait and the kill.
            }

            p.WaitForExit(DrainLimit);
            Task.WaitAll([stdoutDone, stderrDone], DrainLimit);
            throw new ChildTimeoutException(
                $"{command} did not finish in {timeout.TotalSeconds:0.#} s and was killed\n--- stdout so far:\n{Snapshot(stdout)}\n--- stderr so far:\n{Snapshot(stderr)}",
                id);
        }

        if (!Task.WaitAll([stdoutDone, stderrDone], DrainLimit))
        {
            throw new TimeoutException($"{command} exited ({p.ExitCode}) but its output stayed open for {DrainLimit.TotalSeconds:0} s (a child of it still holds the pipe)");
        }

        return new ChildResult(p.ExitCode, Snapshot(stdout), Snapshot(stderr));
    }

    /// <summary>Copies a stream into <paramref name="into"/> as it arrives, so that a killed child's output can still be shown.</summary>
    private static Task CopyAsync(StreamReader reader, StringBuilder into) => Task.Run(async () =>
    {
        var buffer = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            lock (into)
            {
                into.Append(buffer, 0, n);
            }
        }
    });

    private static string Snapshot(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }
}
