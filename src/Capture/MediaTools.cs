using Video.Capture.Internal;

namespace Video.Capture;

/// <summary>Runs Debian's ffmpeg tools for jobs outside the frame path (sample generation, checks).</summary>
public static class MediaTools
{
    /// <summary>Runs <paramref name="tool"/> (ffmpeg or ffprobe) to completion and returns its exit code, stdout and last stderr lines.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string tool, IEnumerable<string> arguments, CancellationToken cancellationToken = default) =>
        ToolProcess.RunAsync(tool, arguments, cancellationToken);
}
