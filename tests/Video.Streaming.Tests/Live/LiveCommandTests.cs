using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Video.Inference;
using Video.Inference.Temporal;
using Video.Streaming.Cli;
using Video.Streaming.Live;
using Video.Tests.Shared;

namespace Video.Streaming.Tests.Live;

/// <summary>
/// <c>video live</c> end to end with stand-ins only for the hardware: a test pattern or a looping clip for the camera,
/// ffmpeg's raw-frame muxers for the virtual camera, nginx-rtmp on 127.0.0.1 for the network.
/// </summary>
[Collection(LiveTests.Collection)]
public class LiveCommandTests
{
    private const int FrameBytesYuv420 = 640 * 360 * 3 / 2;

    [Fact]
    public async Task CameraStandIn_ToVirtualCameraStandIn_WritesWholeFramesAtTheCameraRate()
    {
        using var dir = new TempDir();
        string raw = dir.File("camera.yuv");
        var summary = await RunAsync(new LiveRequest("testsrc", "rawvideo:" + raw, new LiveSettings { Model = "toon" }) { Fps = 30, Duration = TimeSpan.FromSeconds(5) });

        long bytes = new FileInfo(raw).Length;
        Assert.Equal(0, bytes % FrameBytesYuv420);
        long frames = bytes / FrameBytesYuv420;

        // The virtual camera gets the input's steady rate (a dropped frame repeats the last one), from the first frame on:
        // never more than 30 a second, and at least a second's worth even on a loaded machine.
        double seconds = summary.Status.Elapsed.TotalSeconds;
        Assert.InRange(frames, 30, (long)(30 * (seconds + 1)));
        Assert.True(summary.Status.FramesOut > 10, $"{summary.Status.FramesOut} frames stylized");
        Assert.InRange(summary.Latency.P50, 0.1, 1000);
        Assert.True(summary.Latency.P50 <= summary.Latency.P99);
    }

    [Fact]
    public async Task LoopingRealClip_ToY4m_IsStylizedAtItsSize()
    {
        string clip = SharedData.Videos()[0];
        using var dir = new TempDir();
        string y4m = dir.File("camera.y4m");
        var summary = await RunAsync(new LiveRequest(clip, "y4m:" + y4m, new LiveSettings { Model = "toon" }) { Size = (320, 180), Loop = true, Duration = TimeSpan.FromSeconds(4) });

        var probe = Media.Probe(y4m);
        Assert.Equal((320, 180), (probe.Width, probe.Height));
        Assert.True(probe.Frames > 20, $"{probe.Frames} frames");
        Assert.Equal(0, summary.Status.Reconnects);
    }

    [Fact]
    public async Task TestPattern_ToHls_WritesAPlaylistOfPlayableSegmentsWithAudio()
    {
        using var dir = new TempDir();
        string playlist = dir.File("live.m3u8");
        await RunAsync(new LiveRequest("testsrc", playlist, new LiveSettings { Model = "toon" }) { Size = (320, 180), Fps = 30, Duration = TimeSpan.FromSeconds(5) });

        var segments = File.ReadAllLines(playlist).Where(l => l.EndsWith(".ts", StringComparison.Ordinal)).ToList();
        Assert.True(segments.Count >= 2, $"{segments.Count} segments in the playlist");
        var probe = Media.Probe(dir.File(segments[^1]));
        Assert.Equal((320, 180), (probe.Width, probe.Height));
        Assert.True(probe.HasAudio, "the test pattern's tone must be in the segments");
    }

    [Fact]
    public async Task Rtmp_InAndOut_FramesArriveAtTheRateWithAudio()
    {
        using var nginx = new NginxRtmp();
        using var dir = new TempDir();
        using var publisher = nginx.Publish("in", seconds: 40);
        Assert.True(nginx.Record("in", dir.File("probe.flv"), 0.5, TimeSpan.FromSeconds(20)), "the publisher never appeared");

        var live = RunAsync(new LiveRequest(nginx.Url("in"), nginx.Url("out"), new LiveSettings { Model = "toon" }) { Duration = TimeSpan.FromSeconds(25) });
        string recorded = dir.File("out.flv");
        bool got = await Task.Run(() => nginx.Record("out", recorded, 4, TimeSpan.FromSeconds(20)));
        var summary = await live;
        publisher.Kill();

        Assert.True(got, "nothing could be recorded from the stylized RTMP stream");
        var probe = Media.Probe(recorded);
        Assert.True(probe.HasAudio, "the input's audio must go out with the frames");
        Assert.Equal((640, 360), (probe.Width, probe.Height));
        Assert.Equal(30, probe.Fps, 0.5);
        // Four seconds recorded at the input's rate: a frame the model could not keep up with is repeated, not skipped.
        Assert.InRange(probe.Frames, 90, 130);
        Assert.True(summary.Status.FramesOut > 100, $"{summary.Status.FramesOut} frames stylized");
    }

    [Fact]
    public async Task Rtmp_SourceDiesAndComesBack_IsReconnected()
    {
        using var nginx = new NginxRtmp();
        using var dir = new TempDir();
        var first = nginx.Publish("cam", seconds: 6);
        Assert.True(nginx.Record("cam", dir.File("probe.flv"), 0.5, TimeSpan.FromSeconds(20)), "the publisher never appeared");
        var live = RunAsync(new LiveRequest(nginx.Url("cam"), "framemd5:" + dir.File("out.md5"), new LiveSettings { Model = "toon" })
        {
            Duration = TimeSpan.FromSeconds(20),
            ReconnectFor = TimeSpan.FromSeconds(20),
        });

        // The first publisher ends; a second one takes the same stream name two seconds later.
        await first.WaitForExitAsync();
        first.Dispose();
        await Task.Delay(2000);
        using var second = nginx.Publish("cam", seconds: 30);
        var summary = await live;
        second.Kill();

        Assert.True(summary.Status.Reconnects >= 1, "the lost stream must be reconnected");
        // Frames came from both publishers: more than the first one's six seconds could give.
        Assert.True(summary.Status.FramesIn > 6 * 30, $"{summary.Status.FramesIn} frames in");
    }

    [Fact]
    public async Task ControlEndpoint_ChangesSettingsAndRejectsBadOnesInOneLine()
    {
        var catalog = ModelCatalog.Load(Repo.Models);
        await using var session = new LiveSession(catalog, new StylizerOptions { Device = Device.Cpu }, 160, 96);
        await session.SwitchAsync(new LiveSettings { Model = "toon" });
        await using var control = await LiveControlServer.StartAsync(session, 0);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{control.Port}/") };

        var unknown = await http.PostAsJsonAsync("settings", new { model = "no-such-model" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        string error = (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
        Assert.Contains("no-such-model", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);

        var badAlpha = await http.PostAsJsonAsync("settings", new { alpha = 2.5 });
        Assert.Equal(HttpStatusCode.BadRequest, badAlpha.StatusCode);
        var notJson = await http.PostAsync("settings", new StringContent("model=toon"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.Equal("toon", session.Settings.Model);

        var ok = await http.PostAsJsonAsync("settings", new { model = "starry-night", temporal = "flow" });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("starry-night", session.Settings.Model);
        Assert.Equal(TemporalMode.Flow, session.Settings.Temporal.Mode);

        var status = await http.GetFromJsonAsync<JsonElement>("status");
        Assert.Equal("starry-night", status.GetProperty("settings").GetProperty("model").GetString());
        var models = await http.GetFromJsonAsync<JsonElement>("models");
        Assert.Contains(models.EnumerateArray(), m => m.GetProperty("name").GetString() == "toon");
    }

    [Fact]
    public void Keys_CycleModelsTemporalAndClampStrength()
    {
        var now = new LiveSettings { Model = "toon", Alpha = 0.95f };
        var full = now with { Alpha = 1f };
        string[] models = ["toon", "starry-night", "the-scream"];
        Assert.Equal("starry-night", LiveKeys.ChangeFor('m', now, models, [])!.Model);
        Assert.Equal("the-scream", LiveKeys.ChangeFor('M', now, models, [])!.Model);
        Assert.Equal(1f, LiveKeys.ChangeFor('+', now, models, [])!.Alpha);
        Assert.Equal(0.9f, LiveKeys.ChangeFor('-', full, models, [])!.Alpha!.Value, 3);
        Assert.Equal("ema", LiveKeys.ChangeFor('t', now, models, [])!.Temporal);
        Assert.Null(LiveKeys.ChangeFor('s', now, models, []));
        Assert.Null(LiveKeys.ChangeFor('x', now, models, []));
    }

    [Theory]
    [InlineData("camera:3", "y4m:out.y4m", "no camera at /dev/video3")]
    [InlineData("testsrc", "/dev/video5", "modprobe v4l2loopback")]
    [InlineData("testsrc", "y4m:out.y4m --model nope", "unknown model")]
    [InlineData("testsrc", "y4m:out.y4m --alpha 3", "alpha 3 is outside [0, 1]")]
    public void Cli_BadInput_FailsWithOneLine(string input, string output, string expected)
    {
        using var dir = new TempDir();
        var (code, _, stderr) = CliProcess.Run(dir.Path, ["live", "-i", input, "-o", .. output.Split(' '), "--seconds", "2"]);
        Assert.Equal(1, code);
        string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("video: error:", StringComparison.Ordinal));
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.Empty(dir.Entries());
    }

    private static Task<LiveSummary> RunAsync(LiveRequest request) =>
        LiveCommand.RunAsync(request with { ModelsDirectory = Repo.Models, Device = Device.Cpu, Status = false, Audio = request.Audio }, TextWriter.Null, TextWriter.Null, CancellationToken.None);
}
