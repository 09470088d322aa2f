using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

using Video.Inference.Benchmarks;

namespace Video.Evaluation;

/// <summary>
/// The TorchSharp-eager baseline of <c>video bench</c>, run in the trainer (<c>video-train eager-bench</c>) as a child
/// process, so the host never loads libtorch. The trainer is found through <c>$VIDEO_TRAINER</c> (path of
/// <c>video-train.dll</c>) or as <c>artifacts/train/video-train.dll</c> above the working or program directory; the
/// <c>./video</c> launcher builds it before <c>bench</c>. <c>$VIDEO_EAGER_SKIP</c> (set by the launcher when that build
/// failed) disables the baseline with its text as the reason.
/// </summary>
/// <remarks>Not thread safe; one instance per bench run. After the first failure that is not about one model, the baseline is off.</remarks>
public sealed class EagerBaseline
{
    public const string TrainerEnv = "VIDEO_TRAINER";
    public const string SkipEnv = "VIDEO_EAGER_SKIP";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly string? _trainer;

    private EagerBaseline(string? trainer, string? skipReason)
    {
        _trainer = trainer;
        SkipReason = skipReason;
    }

    /// <summary>Why the eager column is empty, or null while it works.</summary>
    public string? SkipReason { get; private set; }

    public bool Enabled => SkipReason is null;

    /// <summary>The baseline run by the trainer at <paramref name="trainerPath"/> (<c>video-train.dll</c>), whatever the environment says.</summary>
    public static EagerBaseline ForTrainer(string trainerPath) =>
        File.Exists(trainerPath) ? new EagerBaseline(Path.GetFullPath(trainerPath), null) : new EagerBaseline(null, $"the trainer {trainerPath} does not exist");

    /// <summary>
    /// The baseline as <c>video bench</c> finds it: off with <paramref name="disabled"/> or <c>$VIDEO_EAGER_SKIP</c>, else the trainer
    /// at <c>$VIDEO_TRAINER</c> or in <c>artifacts/train</c> above the working or program directory.
    /// </summary>
    public static EagerBaseline Locate(bool disabled)
    {
        if (disabled)
        {
            return new EagerBaseline(null, "--no-eager");
        }

        if (Environment.GetEnvironmentVariable(SkipEnv) is { Length: > 0 } skip)
        {
            return new EagerBaseline(null, skip);
        }

        if (Environment.GetEnvironmentVariable(TrainerEnv) is { Length: > 0 } path)
        {
            return File.Exists(path)
                ? new EagerBaseline(Path.GetFullPath(path), null)
                : new EagerBaseline(null, $"${TrainerEnv} points at {path}, which does not exist");
        }

        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "artifacts", "train", "video-train.dll");
                if (File.Exists(candidate))
                {
                    return new EagerBaseline(candidate, null);
                }
            }
        }

        return new EagerBaseline(null, "the trainer is not built (no artifacts/train/video-train.dll; `./video bench` builds it, or set $VIDEO_TRAINER)");
    }

    /// <summary>
    /// Runs the baseline for one model at one tensor size. Returns null when the baseline is (or has just been) switched
    /// off; <see cref="SkipReason"/> then says why.
    /// </summary>
    public async Task<EagerBenchResult?> RunAsync(string modelPath, string? stylePath, int width, int height, int frames, CancellationToken ct)
    {
        if (!Enabled)
        {
            return null;
        }

        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { _trainer!, "eager-bench", "--model", modelPath, "--width", $"{width}", "--height", $"{height}", "--frames", $"{frames}", "--threads", "2", "--json" })
        {
            psi.ArgumentList.Add(a);
        }

        if (stylePath is not null)
        {
            psi.ArgumentList.Add("--style");
            psi.ArgumentList.Add(stylePath);
        }

        // libtorch's OpenMP threads spin while waiting unless told not to, which starves the other threads on a machine with
        // few cores; small ops suffer most (docs/training.md, top).
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMP_WAIT_POLICY")))
        {
            psi.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        }

        string stdout, stderr;
        int code;
        try
        {
            using var p = Process.Start(psi) ?? throw new InvalidOperationException("dotnet did not start");
            var err = p.StandardError.ReadToEndAsync(ct);
            try
            {
                stdout = await p.StandardOutput.ReadToEndAsync(ct).ConfigureAwait(false);
                await p.WaitForExitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);
                throw;
            }

            stderr = await err.ConfigureAwait(false);
            code = p.ExitCode;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            SkipReason = $"cannot start the trainer ({e.Message})";
            return null;
        }

        string? line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith('{'));
        if (line is not null)
        {
            try
            {
                if (JsonSerializer.Deserialize<EagerBenchResult>(line, JsonOptions) is { } result)
                {
                    return result;
                }
            }
            catch (JsonException)
            {
                // Falls through to the failure below.
            }
        }

        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Any(l => l.Contains("Unrecognized command or argument 'eager-bench'", StringComparison.Ordinal)))
        {
            SkipReason = $"the trainer at {_trainer} predates `eager-bench`; rebuild it (`./video bench` does, unless a training run is using artifacts/train)";
            return null;
        }

        string why = lines.FirstOrDefault(l => l.StartsWith("video-train:", StringComparison.Ordinal)) ?? lines.FirstOrDefault() ?? "no output";
        SkipReason = $"video-train eager-bench failed (exit {code}): {why}";
        return null;
    }
}
