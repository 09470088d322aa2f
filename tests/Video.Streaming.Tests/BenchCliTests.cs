using Video.Tests.Shared;

namespace Video.Streaming.Tests;

public class BenchCliTests
{
    [Fact]
    public void Bench_OneSmallSize_WritesEveryCaseToTheMarkdownTable()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "bench", "--sizes", "96x64", "--frames", "10", "--model", "toon", "--device", "cpu", "--out", "bench.md");
        Assert.True(code == 0, stderr);
        string md = File.ReadAllText(dir.File("bench.md"));
        foreach (var row in new[] { "| 96x64 | - | decode only |", "| 96x64 | - | decode + encode (floor) |", "| 96x64 | toon | inference only |", "| 96x64 | toon | pipeline |", "| 96x64 | toon | pipeline + temporal flow |" })
        {
            Assert.Contains(row, md, StringComparison.Ordinal);
        }

        Assert.Matches(@"\| 96x64 \| toon \| \d+\.\d\d \| \d+\.\d\d \|", md);
        Assert.Contains("| size | model | case |", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_BadFrameCount_OneLineError()
    {
        using var dir = new TempDir();
        var (code, _, stderr) = CliProcess.Run(dir.Path, "bench", "--frames", "1");
        Assert.Equal(1, code);
        Assert.Equal("video: error: --frames 1 is outside 10..10000", stderr.Trim());
    }
}
