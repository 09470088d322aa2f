using Video.Inference;
using Video.Tests.Shared;

namespace Video.Evaluation.Tests;

/// <summary><see cref="Bench"/> in process (the CLI smoke test of <c>video bench</c> is in Video.Streaming.Tests).</summary>
public class BenchTests : FrameLeakCheckedTest
{
    [Fact]
    public void Markdown_RowsWithoutEager_GivesRatiosUtilisationAndTheReason()
    {
        List<BenchRow> rows =
        [
            new("-", "-", "peak: Conv", 10, 100, double.NaN, "4.25 GFLOP per run, median of 9 runs") { GFlops = 42.5 },
            new("96x64", "-", "decode only", 900, 1.1, 50, string.Empty),
            new("96x64", "m", Bench.InferenceCase, 200, 5, 90, "cpu, tensor 96x64") { GFlopPerFrame = 0.1, GFlops = 20, PeakFraction = 20 / 42.5 },
            new("96x64", "m", "pipeline", 100, 10, 95, string.Empty),
            new("96x64", "m", "pipeline + temporal flow", 50, 20, 95, string.Empty),
        ];

        string md = Bench.Markdown(rows, 10, 3, "--no-eager");

        Assert.Contains("**TorchSharp-eager column skipped:** --no-eager.", md, StringComparison.Ordinal);
        Assert.Contains("| 96x64 | m | inference only | 200.0 | 5.0 | 90 | cpu, tensor 96x64 |", md, StringComparison.Ordinal);
        Assert.Contains("| 96x64 | m | 0.50 | 0.50 | n/a | n/a |", md, StringComparison.Ordinal);
        Assert.Contains("| Conv | 4.25 | 100.0 | 42.5 |", md, StringComparison.Ordinal);
        Assert.Contains("| 96x64 | m | 0.10 | 5.0 | 20.0 | 47 |", md, StringComparison.Ordinal);
        Assert.EndsWith(Bench.HowItIsMeasured, md, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task RunAsync_WithTrainer_AddsEagerRowsAndRatios()
    {
        string? trainer = FindTrainer();
        const string NotBuilt = "the trainer is not built (artifacts/train/video-train.dll; ./video test and ./video train build it) and $VIDEO_TRAINER is not set";
        Assert.False(trainer is null && Environment.GetEnvironmentVariable("CI") == "true", NotBuilt);
        Skip.If(trainer is null, NotBuilt);
        var catalog = ModelCatalog.Load(Repo.Models);
        var eager = EagerBaseline.ForTrainer(trainer!);
        var log = new StringWriter();

        var rows = await Bench.RunAsync([(96, 64)], [catalog.Find("great-wave"), catalog.Find("toon")], 10, Device.Cpu, log, CancellationToken.None, eager, eagerFrames: 3, allocator: Allocator);

        Skip.If(eager.SkipReason?.Contains("predates `eager-bench`", StringComparison.Ordinal) == true, $"the trainer at {trainer} predates eager-bench");
        Assert.DoesNotContain("column skipped", log.ToString(), StringComparison.Ordinal);
        string md = Bench.Markdown(rows, 10, 3, eager.SkipReason);
        Assert.Matches(@"\| 96x64 \| great-wave \| eager \(TorchSharp\) \| \d+\.\d \| \d+\.\d \| \d+ \| fast, 2 threads, tensor 96x64, median \d+\.\d ms, p90 \d+\.\d ms; max abs diff vs ONNX Runtime \d\.\de-\d+ \|", md);
        Assert.Contains("| 96x64 | toon | eager (TorchSharp) | - | - |", md, StringComparison.Ordinal);
        Assert.Contains("n/a (not a trainer architecture)", md, StringComparison.Ordinal);
        Assert.Matches(@"\| 96x64 \| great-wave \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \|", md);

        Assert.True(rows.Single(r => r.Model == "great-wave" && r.Case == Bench.EagerCase).Fps > 0);
        var infer = rows.Single(r => r.Model == "great-wave" && r.Case == Bench.InferenceCase);
        Assert.True(infer.GFlopPerFrame > 0);
        Assert.Equal(infer.GFlopPerFrame!.Value * infer.Fps, infer.GFlops!.Value, 6);
        Assert.True(infer.PeakFraction > 0);
        Assert.Equal(2, rows.Count(r => r.Case.StartsWith(Bench.PeakCase + ": ", StringComparison.Ordinal)));
    }

    /// <summary>$VIDEO_TRAINER, else artifacts/train/video-train.dll in the repository (as the launcher builds it).</summary>
    private static string? FindTrainer()
    {
        if (Environment.GetEnvironmentVariable("VIDEO_TRAINER") is { Length: > 0 } env && File.Exists(env))
        {
            return env;
        }

        string candidate = Path.Combine(Repo.Root, "artifacts", "train", "video-train.dll");
        return File.Exists(candidate) ? candidate : null;
    }
}
