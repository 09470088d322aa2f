using System.Diagnostics;

namespace Video.Inference;

/// <summary>
/// The <c>provenance</c> section of a manifest: where a model came from and how to make it again. One shape for every
/// model we ship, trained (<c>fast</c>, <c>adain</c>) or set by hand (<c>procedural</c>).
/// </summary>
public sealed record ModelProvenance
{
    /// <summary>How the weights were made: <c>fast</c>, <c>adain</c>, <c>procedural</c>, …</summary>
    public required string Method { get; init; }

    /// <summary>The data it saw, in words: folders, counts, what was held out, crop sizes.</summary>
    public required string Data { get; init; }

    public required int Steps { get; init; }

    /// <summary>The final loss terms (mean of the last logged steps); empty for a model set by hand.</summary>
    public required Dictionary<string, double> Losses { get; init; }

    /// <summary>Wall-clock minutes of training, resumed sessions included.</summary>
    public required double Minutes { get; init; }

    /// <summary>The commit of the code that made the model (<see cref="CurrentGitCommit"/>).</summary>
    public required string GitCommit { get; init; }

    /// <summary>The exact command (sessions of a resumed run joined by <c>&amp;&amp;</c>).</summary>
    public required string Command { get; init; }

    /// <summary>When the weights were finished, ISO 8601 UTC.</summary>
    public string? TrainedAt { get; init; }

    /// <summary>The perceptual network of the losses, its layers and smoothing; absent for a model set by hand.</summary>
    public string? LossNetwork { get; init; }

    /// <summary>Weight of the temporal loss in the latest training session that used it; absent when it was never used.</summary>
    public double? TemporalWeight { get; init; }

    /// <summary>A compact one-line summary: method, steps, minutes, short commit.</summary>
    public string Summary() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"method {Method}, steps {Steps}, minutes {Minutes}, commit {(GitCommit.Length > 8 ? GitCommit[..8] : GitCommit)}");

    /// <summary><c>git rev-parse HEAD</c> of the repository containing the current directory, or <c>unknown</c>.</summary>
    public static string CurrentGitCommit()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("git", "rev-parse HEAD") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (p is null)
            {
                return "unknown";
            }

            string sha = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 && sha.Length == 40 ? sha : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}
