using System.Diagnostics;

namespace Video.Streaming.Tests;

/// <summary>Runs the real <c>video</c> program (the host built beside the tests) as a child process.</summary>
internal static class CliProcess
{
    public static (int ExitCode, string Stdout, string Stderr) Run(string workingDirectory, params string[] args) =>
        Run(workingDirectory, new Dictionary<string, string>(), TimeSpan.FromSeconds(180), args);

    /// <summary>
    /// Runs <c>video</c> with extra environment variables (<c>VIDEO_EAGER_SKIP</c> is always removed, so a launcher's
    /// setting does not leak into the test) and kills it after <paramref name="timeout"/>.
    /// </summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string workingDirectory, IReadOnlyDictionary<string, string> env, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "video.dll"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["VIDEO_DEBUG"] = "0";
        psi.Environment.Remove("VIDEO_EAGER_SKIP");
        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"video did not finish in {timeout.TotalSeconds:0} s: " + string.Join(' ', args));
        }

        return (p.ExitCode, stdout, stderr.Result);
    }
}
