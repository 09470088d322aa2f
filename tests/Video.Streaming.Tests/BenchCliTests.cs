using Video.Tests.Shared;

namespace Video.Streaming.Tests;

/// <summary><c>video bench</c> as a user runs it: one smoke test and its option checks; the harness itself (eager baseline, tables) is tested in process in Video.Evaluation.Tests.</summary>
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

        Assert.Matches(@"\| 96x64 \| toon \| \d+\.\d\d \| \d+\.\d\d \| n/a \| n/a \| n/a \|", md);
        Assert.Contains("| size | model | case |", stdout, StringComparison.Ordinal);

        var skipped = stderr.Split('\n').Where(l => l.Contains("eager (TorchSharp) column skipped", StringComparison.Ordinal)).ToList();
        Assert.Single(skipped);
        Assert.Contains("no-such-trainer.dll", skipped[0], StringComparison.Ordinal);
        Assert.Contains("**TorchSharp-eager column skipped:**", md, StringComparison.Ordinal);
        Assert.DoesNotContain("| eager (TorchSharp) |", md, StringComparison.Ordinal);

        // Utilisation: both peaks in GFLOP/s, and the model's FLOPs, GFLOP/s and share of the conv peak.
        Assert.Matches(@"\| Conv 3x3 64->64 on 1x64x180x320 \| 4\.25 \| \d+\.\d \| \d+\.\d \|", md);
        Assert.Matches(@"\| MatMul 1024x1024 by 1024x1024 \| 2\.15 \| \d+\.\d \| \d+\.\d \|", md);
        Assert.Matches(@"\| 96x64 \| toon \| \d+\.\d\d \| \d+\.\d \| \d+\.\d \| \d+\.\d \| \d+\.\d \| \d+ \|", md);
        Assert.Contains("## How it is measured", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_Int8VariantAt720p_AddsTheReducedSizeCaseAndTheTargets()
    {
        using var dir = new TempDir();

        var (code, _, stderr) = Run(dir.Path, new(), "bench", "--sizes", "1280x720", "--frames", "10", "--model", "starry-night:int8", "--device", "cpu", "--no-eager", "--out", "bench.md");

        Assert.True(code == 0, stderr);
        string md = File.ReadAllText(dir.File("bench.md"));
        Assert.Contains("| 1280x720 | starry-night:int8 | pipeline, 640x360 inside + detail |", md, StringComparison.Ordinal);
        Assert.Matches(@"\| 1280×720 end to end ≥ 15 fps \| starry-night \| int8 \d+\.\d, int8 reduced \d+\.\d \| (not met|\*\*met\*\* \(int8(, reduced size)?\)) \|", md);
    }

    [Fact]
    public void Quantize_BadPercentile_OneLineError()
    {
        using var dir = new TempDir();
        var (code, _, stderr) = CliProcess.Run(dir.Path, "models", "quantize", "starry-night", "--photos", dir.Path, "--percentile", "30");
        Assert.Equal(1, code);
        Assert.StartsWith("video: error: ", stderr.Trim(), StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
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

    private static (int ExitCode, string Stdout, string Stderr) Run(string workingDirectory, Dictionary<string, string> env, params string[] args) =>
        CliProcess.Run(workingDirectory, env, TimeSpan.FromSeconds(300), args);
}
