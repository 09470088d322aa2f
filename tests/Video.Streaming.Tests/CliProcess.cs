using Video.Tests.Shared;

namespace Video.Streaming.Tests;

/// <summary>Runs the real <c>video</c> program (the host built beside the tests) as a child process.</summary>
internal static class CliProcess
{
    public static (int ExitCode, string Stdout, string Stderr) Run(string workingDirectory, params string[] args) =>
        Run(workingDirectory, new Dictionary<string, string>(), TimeSpan.FromSeconds(180), args);

    /// <summary>
    /// Runs <c>video</c> with extra environment variables (<c>VIDEO_EAGER_SKIP</c> is always removed, so a launcher's
    /// setting does not leak into the test). After <paramref name="timeout"/> the process tree is killed and a
    /// <see cref="ChildTimeoutException"/> shows what it printed so far.
    /// </summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string workingDirectory, IReadOnlyDictionary<string, string> env, TimeSpan timeout, params string[] args)
    {
        var environment = new Dictionary<string, string?> { ["VIDEO_DEBUG"] = "0", ["VIDEO_EAGER_SKIP"] = null };
        foreach (var (k, v) in env)
        {
            environment[k] = v;
        }

        var result = ChildProcess.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "video.dll"), .. args], timeout, workingDirectory, environment);
        return (result.ExitCode, result.Stdout, result.Stderr);
    }
}
