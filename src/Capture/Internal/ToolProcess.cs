using System.Diagnostics;
using System.Text;

namespace Video.Capture.Internal;

/// <summary>
/// A running ffmpeg or ffprobe process with its stderr collected in the background, so the first
/// error line can be shown to the user when it fails.
/// </summary>
internal sealed class ToolProcess : IAsyncDisposable
{
    private const int MaxStderrLines = 40;
    private readonly Process _process;
    private readonly Queue<string> _stderr = new();
    private readonly Task _stderrPump;

    private ToolProcess(Process process)
    {
        _process = process;
        _stderrPump = PumpStderrAsync();
    }

    public Stream StandardOutput => _process.StandardOutput.BaseStream;

    public Stream StandardInput => _process.StandardInput.BaseStream;

    public bool HasExited => _process.HasExited;

    public static ToolProcess Start(string tool, IEnumerable<string> arguments, bool redirectStdin = false, bool redirectStdout = true)
    {
        var psi = new ProcessStartInfo(tool)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = redirectStdout,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        try
        {
            var process = Process.Start(psi) ?? throw new MediaException($"could not start {tool}");
            return new ToolProcess(process);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new MediaException($"could not start {tool} ({e.Message}); install Debian's ffmpeg package (apt-get install -y ffmpeg)", e);
        }
    }

    /// <summary>Runs a tool to completion and returns its exit code, stdout and the collected stderr.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string tool, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        await using var p = Start(tool, arguments);
        string stdout = await new StreamReader(p.StandardOutput).ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        int code = await p.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return (code, stdout, p.Stderr);
    }

    /// <summary>The stderr lines seen so far (the last few dozen).</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return string.Join('\n', _stderr);
            }
        }
    }

    /// <summary>The most telling stderr line: the first that looks like an error, else the last one.</summary>
    public string FirstErrorLine => SummarizeStderr(Stderr);

    public static string SummarizeStderr(string stderr)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0)
        {
            return "no diagnostic output";
        }

        string line = lines.FirstOrDefault(l => l.Contains("rror", StringComparison.Ordinal) || l.Contains("nvalid", StringComparison.Ordinal) || l.Contains("No such", StringComparison.Ordinal))
            ?? lines[^1];
        // ffmpeg prefixes lines with the input path ("in.mp4: Invalid data…"); the caller already names it.
        int colon = line.LastIndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && !line[..colon].Contains(' ', StringComparison.Ordinal) ? line[(colon + 2)..] : line;
    }

    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        await _stderrPump.ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>
    /// Writes one frame's pixels to the tool's stdin. A tool that exited (a full disk, a lost network peer) is waited for,
    /// and its first error line becomes a <see cref="MediaException"/> about <paramref name="what"/>.
    /// </summary>
    public async ValueTask WriteFrameAsync(Frame frame, string what, CancellationToken cancellationToken)
    {
        try
        {
            await StandardInput.WriteAsync(frame.Memory, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException)
        {
            await WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw new MediaException($"cannot write {what}: {FirstErrorLine}");
        }
    }

    /// <summary>Asks the tool to finish as on Ctrl+C (SIGINT): ffmpeg then flushes its encoders and writes the trailer.</summary>
    public void Interrupt()
    {
        try
        {
            if (!_process.HasExited)
            {
                _ = SendSignal(_process.Id, SigInt);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            await _stderrPump.WaitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // A process that ignores SIGKILL for 5 s is the kernel's problem; do not hang the caller.
        }

        _process.Dispose();
    }

    private const int SigInt = 2;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    private async Task PumpStderrAsync()
    {
        var reader = _process.StandardError;
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            lock (_stderr)
            {
                _stderr.Enqueue(line);
                if (_stderr.Count > MaxStderrLines)
                {
                    _stderr.Dequeue();
                }
            }
        }
    }
}
