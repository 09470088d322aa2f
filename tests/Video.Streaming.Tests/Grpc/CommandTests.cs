using System.Diagnostics;
using System.Text.RegularExpressions;
using Video.Streaming.Client;
using Video.Streaming.Protos.V1;
using Video.Tests.Shared;

namespace Video.Streaming.Tests.Grpc;

/// <summary><c>video serve</c>, <c>video client</c> and <c>video loadtest</c> as a user runs them.</summary>
[Collection(GrpcCollection.Name)]
public sealed partial class CommandTests
{
    private static readonly TimeSpan T = GrpcTestServer.Timeout;

    [Fact]
    public async Task ServeAndClient_GeneratedClip_RoundTripsThroughTheRealHost()
    {
        using var dir = new TempDir();
        string input = Media.Generate(dir.File("in.mp4"), 160, 96, "10", seconds: 1.0, audio: true);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "video.dll"), "serve", "--port", "0", "--metrics-port", "-1", "--device", "cpu", "--models", Repo.Models, "--api-key", "k1" })
        {
            psi.ArgumentList.Add(a);
        }

        using var server = Process.Start(psi)!;
        _ = server.StandardError.ReadToEndAsync();
        try
        {
            string? address = null;
            while (await server.StandardOutput.ReadLineAsync().WaitAsync(T) is { } line)
            {
                address ??= AddressPattern().Match(line) is { Success: true } m ? m.Groups[1].Value : null;
                if (line.Contains("SERVING", StringComparison.Ordinal))
                {
                    break;
                }
            }

            Assert.NotNull(address);
            var (code, stdout, stderr) = await Task.Run(() => CliProcess.Run(dir.Path, "client", address!, input, "-o", dir.File("out.mp4"), "--api-key", "k1")).WaitAsync(T);
            Assert.True(code == 0, stderr);
            Assert.Contains("10 frames (10 sent, 10 stylized, 0 dropped", stdout, StringComparison.Ordinal);
            Assert.Equal(10, Media.Probe(dir.File("out.mp4")).Frames);

            var bad = await Task.Run(() => CliProcess.Run(dir.Path, "client", address!, input, "-o", dir.File("bad.mp4"), "--api-key", "nope")).WaitAsync(T);
            Assert.Equal(1, bad.ExitCode);
            Assert.Equal("video: error: server " + address + ": Unauthenticated: the API key is not valid for this server", bad.Stderr.Trim());
            Assert.False(File.Exists(dir.File("bad.mp4")));
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync().WaitAsync(T);
        }
    }

    [Fact]
    public async Task Serve_FrameMemoryMb_IsTheAllocatorsBudget()
    {
        using var dir = new TempDir();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "video.dll"), "serve", "--port", "0", "--metrics-port", "-1", "--device", "cpu", "--models", dir.Path, "--frame-memory-mb", "96" })
        {
            psi.ArgumentList.Add(a);
        }

        using var server = Process.Start(psi)!;
        _ = server.StandardError.ReadToEndAsync();
        try
        {
            string? line;
            while ((line = await server.StandardOutput.ReadLineAsync().WaitAsync(T)) is not null && !line.StartsWith("video serve: gRPC", StringComparison.Ordinal))
            {
                // Log lines (the empty models folder) come first.
            }

            Assert.NotNull(line);
            Assert.Contains(", frame memory 96 MiB; Ctrl+C stops", line, StringComparison.Ordinal);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync().WaitAsync(T);
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("2000000")]
    public void Serve_BadFrameMemoryMb_OneLineError(string mb)
    {
        using var dir = new TempDir();
        var (code, _, stderr) = CliProcess.Run(dir.Path, "serve", "--port", "0", "--metrics-port", "-1", "--frame-memory-mb", mb);
        Assert.Equal(1, code);
        Assert.Equal($"video: error: --frame-memory-mb {mb} is out of range (1..1048576)", stderr.Trim());
    }

    [Fact]
    public async Task LoadTest_TwoStreams_ReportsThroughputLatencyAndDrops()
    {
        await using var server = await GrpcTestServer.StartAsync();
        var result = await LoadTest.RunAsync(
            server.Client,
            new LoadTestOptions { Streams = 2, Duration = TimeSpan.FromSeconds(2), Fps = 20, Width = 64, Height = 48, Model = "identity", Policy = Policy.Latest },
            CancellationToken.None).WaitAsync(T);
        Assert.True(result.FramesReceived > 0);
        Assert.Equal(result.FramesSent, result.FramesReceived + result.FramesDropped);
        Assert.True(result.P50Ms > 0 && result.P50Ms <= result.P95Ms && result.P95Ms <= result.P99Ms);
        Assert.Equal("identity", result.Model);
        Assert.Contains("frames/s; latency p50", result.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadTest_BatchingOffAndOnSideBySide_ReportsBatchSizesAndRatios()
    {
        await using var off = await GrpcTestServer.StartAsync();
        // The batcher runs a batch as soon as every attached stream has a frame waiting, or when the delay since its
        // first frame has passed. With the longest delay allowed, the first rule decides: the three streams, each
        // sending every 50 ms, meet in batches of three without the test depending on their frames falling into
        // one short window.
        await using var on = await GrpcTestServer.StartAsync(o =>
        {
            o.BatchMax = 4;
            o.BatchDelay = TimeSpan.FromSeconds(1);
        });
        var rows = new List<(Cli.LoadtestCommand.Case, int, LoadTestResult)>();
        var c = new Cli.LoadtestCommand.Case(Policy.All, "toon", 64, 48, 3);
        foreach (var (server, index) in new[] { (off, 0), (on, 1) })
        {
            var result = await LoadTest.RunAsync(
                server.Client,
                new LoadTestOptions { Streams = c.Streams, Duration = TimeSpan.FromSeconds(2), Fps = 20, Width = c.Width, Height = c.Height, Model = c.Model, Policy = c.Policy, Warmup = TimeSpan.FromSeconds(0.5) },
                CancellationToken.None).WaitAsync(T);
            Assert.Equal(result.FramesSent, result.FramesReceived);
            Assert.True(result.Samples > 0 && result.Samples < result.FramesReceived, $"{result.Samples} latency samples of {result.FramesReceived} frames: the warm-up was not left out");
            rows.Add((c, index, result));
        }

        Assert.Equal(1.0, rows[0].Item3.MeanBatch);
        Assert.True(rows[1].Item3.MeanBatch > 1, $"mean batch {rows[1].Item3.MeanBatch} with 3 streams and batching on");
        string table = Cli.LoadtestCommand.Table(rows, ["batch off", "batch 4, 1 s"]);
        Assert.Contains("| all | toon | 64x48 | 3 | batch off |", table, StringComparison.Ordinal);
        Assert.Contains("Ratios to `batch off`", table, StringComparison.Ordinal);
        Assert.Matches(@"\| all \| toon \| 64x48 \| 3 \| batch 4, 1 s \| \d+\.\d\d \| \d+\.\d\d \|", table);
    }

    [Fact]
    public async Task LoadTest_MixOfModelsAndSizes_CasesRunSideBySideAndNoFrameLost()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using var dir = new TempDir();
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "color=c=red:size=32x32", "-frames:v", "1", dir.File("style.png")]);
        // Two streams over four cases (an AdaIN model among them): stream 0 starts at case 0, stream 1 at case 2, and each
        // moves on after a second, so all four cases run, two at a time.
        var mix = Cli.LoadtestCommand.MixCases(["identity", "px"], [(64, 48, 20), (32, 24, null)], 10);
        Assert.Equal(
            [new StreamCase("identity", 64, 48, 20), new StreamCase("px", 32, 24, 10), new StreamCase("identity", 32, 24, 10), new StreamCase("px", 64, 48, 20)],
            mix);
        var result = await LoadTest.RunAsync(
            server.Client,
            new LoadTestOptions { Streams = 2, Duration = TimeSpan.FromSeconds(4), SwitchEvery = TimeSpan.FromSeconds(1), Policy = Policy.All, Warmup = TimeSpan.FromSeconds(0.2), Mix = mix, StyleImage = dir.File("style.png") },
            CancellationToken.None).WaitAsync(T);

        Assert.Equal(mix.Select(c => (c.Model, c.Width, c.Height)), result.Cases.Select(r => (r.Model, r.Width, r.Height)));
        Assert.All(result.Cases, r => Assert.True(r.FramesReceived > 0 && r.FramesReceived == r.FramesSent, $"{r.Model} {r.Width}x{r.Height}: sent {r.FramesSent}, received {r.FramesReceived}"));
        Assert.Equal(result.Cases.Sum(r => r.FramesSent), result.FramesSent);
        Assert.Equal(result.FramesSent, result.FramesReceived);
        Assert.True(result.StreamsOpened >= 4, $"{result.StreamsOpened} streams opened");
        string table = Cli.LoadtestCommand.MixTable(result);
        Assert.Contains("| px | 32x24 |", table, StringComparison.Ordinal);
        Assert.Contains("| all 4 cases |", table, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--size", "64x48@0", "video: error: --size '64x48@0': the rate after @ must be frames per second in 0..240")]
    [InlineData("--size", "64x48@fast", "video: error: --size '64x48@fast': the rate after @ must be frames per second in 0..240")]
    [InlineData("--switch-every", "20", "video: error: --switch-every 20 must be more than --warmup and at most --seconds")]
    [InlineData("--switch-every", "0.5", "video: error: --switch-every 0.5 must be more than --warmup and at most --seconds")]
    [InlineData("--style", "missing.png", "video: error: ")]
    public void Loadtest_BadMixOption_OneLineError(string option, string value, string expected)
    {
        using var dir = new TempDir();
        var (code, _, stderr) = CliProcess.Run(dir.Path, "loadtest", "127.0.0.1:1", "--mix", "--seconds", "10", option, value);
        Assert.Equal(1, code);
        Assert.StartsWith(expected, stderr.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain('\n', stderr.Trim());
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"on (http://127\.0\.0\.1:\d+)")]
    private static partial Regex AddressPattern();
}
