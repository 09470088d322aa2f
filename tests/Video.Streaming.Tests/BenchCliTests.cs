using System.Diagnostics;
using System.Text.Json;
using Video.Tests.Shared;

namespace Video.Streaming.Tests;

public class BenchCliTests
{
    [Fact]
    public void Bench_OneSmallSize_WritesEveryCaseToTheMarkdownTable()
    {
        using var dir = new TempDir();

        // No trainer: bench still completes, says in one line why the eager column is empty, and writes the reason down.
        var (code, stdout, stderr) = Run(dir.Path, new() { ["VIDEO_TRAINER"] = dir.File("no-such-trainer.dll") },
            "bench", "--sizes", "96x64", "--frames", "10", "--model", "toon", "--device", "cpu", "--out", "bench.md");
        Assert.True(code == 0, stderr);
        string md = File.ReadAllText(dir.File("bench.md"));
        foreach (var row in new[] { "| 96x64 | - | decode only |", "| 96x64 | - | decode + encode (floor) |", "| 96x64 | toon | inference only |", "| 96x64 | toon | pipeline |", "| 96x64 | toon | pipeline + temporal flow |" })
        {
            Assert.Contains(row, md, StringComparison.Ordinal);
        }

        Assert.Matches(@"\| 96x64 \| toon \| \d+\.\d\d \| \d+\.\d\d \| n/a \| n/a \|", md);
        Assert.Contains("| size | model | case |", stdout, StringComparison.Ordinal);

        var skipped = stderr.Split('\n').Where(l => l.Contains("eager (TorchSharp) column skipped", StringComparison.Ordinal)).ToList();
        Assert.Single(skipped);
        Assert.Contains("no-such-trainer.dll", skipped[0], StringComparison.Ordinal);
        Assert.Contains("**TorchSharp-eager column skipped:**", md, StringComparison.Ordinal);
        Assert.DoesNotContain("| eager (TorchSharp) |", md, StringComparison.Ordinal);

        // Utilisation: both peaks in GFLOP/s, and the model's FLOPs, GFLOP/s and share of the conv peak.
        Assert.Matches(@"\| Conv 3x3 64->64 on 1x64x180x320 \| 4\.25 \| \d+\.\d \| \d+\.\d \|", md);
        Assert.Matches(@"\| MatMul 1024x1024 by 1024x1024 \| 2\.15 \| \d+\.\d \| \d+\.\d \|", md);
        Assert.Matches(@"\| 96x64 \| toon \| \d+\.\d\d \| \d+\.\d \| \d+\.\d \| \d+ \|", md);
        Assert.Contains("## How it is measured", md, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Bench_WithTrainer_AddsEagerRowsRatiosAndJson()
    {
        string? trainer = FindTrainer();
        const string NotBuilt = "the trainer is not built (artifacts/train/video-train.dll; ./video test and ./video train build it) and $VIDEO_TRAINER is not set";
        Assert.False(trainer is null && Environment.GetEnvironmentVariable("CI") == "true", NotBuilt);
        Skip.If(trainer is null, NotBuilt);
        using var dir = new TempDir();
        var (code, stdout, stderr) = Run(dir.Path, new() { ["VIDEO_TRAINER"] = trainer!, ["OMP_WAIT_POLICY"] = "PASSIVE" },
            "bench", "--sizes", "96x64", "--frames", "10", "--eager-frames", "3", "--model", "great-wave,toon", "--device", "cpu", "--json", "--out", "bench.md");
        Assert.True(code == 0, stderr);
        Skip.If(stderr.Contains("predates `eager-bench`", StringComparison.Ordinal), $"the trainer at {trainer} predates eager-bench");
        Assert.DoesNotContain("column skipped", stderr, StringComparison.Ordinal);

        string md = File.ReadAllText(dir.File("bench.md"));
        Assert.Matches(@"\| 96x64 \| great-wave \| eager \(TorchSharp\) \| \d+\.\d \| \d+\.\d \| \d+ \| fast, 2 threads, tensor 96x64, median \d+\.\d ms, p90 \d+\.\d ms; max abs diff vs ONNX Runtime \d\.\de-\d+ \|", md);
        Assert.Contains("| 96x64 | toon | eager (TorchSharp) | - | - |", md, StringComparison.Ordinal);
        Assert.Contains("n/a (not a trainer architecture)", md, StringComparison.Ordinal);
        Assert.Matches(@"\| 96x64 \| great-wave \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \|", md);

        using var json = JsonDocument.Parse(stdout);
        var rows = json.RootElement.EnumerateArray().ToList();
        var eager = rows.Single(r => r.GetProperty("Model").GetString() == "great-wave" && r.GetProperty("Case").GetString() == "eager (TorchSharp)");
        Assert.True(eager.GetProperty("Fps").GetDouble() > 0);
        var infer = rows.Single(r => r.GetProperty("Model").GetString() == "great-wave" && r.GetProperty("Case").GetString() == "inference only");
        double gflop = infer.GetProperty("GFlopPerFrame").GetDouble();
        Assert.True(gflop > 0);
        Assert.Equal(gflop * infer.GetProperty("Fps").GetDouble(), infer.GetProperty("GFlops").GetDouble(), 6);
        Assert.True(infer.GetProperty("PeakFraction").GetDouble() > 0);
        Assert.Equal(2, rows.Count(r => r.GetProperty("Case").GetString()!.StartsWith("peak: ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Bench_BadFrameCount_OneLineError()
    {
        using var dir = new TempDir();
        var (code, _, stderr) = CliProcess.Run(dir.Path, "bench", "--frames", "1");
        Assert.Equal(1, code);
        Assert.Equal("video: error: --frames 1 is outside 10..10000", stderr.Trim());
    }

    [Fact]
    public void Bench_BadEagerFrameCount_OneLineError()
    {
        using var dir = new TempDir();
        var (code, _, stderr) = CliProcess.Run(dir.Path, "bench", "--eager-frames", "0");
        Assert.Equal(1, code);
        Assert.Equal("video: error: --eager-frames 0 is outside 1..10000", stderr.Trim());
    }

    /// <summary>$VIDEO_TRAINER, else artifacts/train/video-train.dll in the repository (as the launcher builds it).</summary>
    private static string? FindTrainer()
    {
        if (Environment.GetEnvironmentVariable("VIDEO_TRAINER") is { Length: > 0 } env && File.Exists(env))
        {
            return env;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "artifacts", "train", "video-train.dll");
            if (File.Exists(Path.Combine(dir.FullName, "Video.sln")))
            {
                return File.Exists(candidate) ? candidate : null;
            }
        }

        return null;
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(string workingDirectory, Dictionary<string, string> env, params string[] args) =>
        CliProcess.Run(workingDirectory, env, TimeSpan.FromSeconds(300), args);
}
