using Video.Capture;
using Video.Capture.Live;
using Video.Tests.Shared;

namespace Video.Capture.Tests.Live;

/// <summary>Naming live inputs and outputs, and the ffmpeg arguments a camera and a virtual camera get.</summary>
public class LiveInputOutputTests
{
    [Fact]
    public void Input_MissingCamera_SaysSoInOneLine()
    {
        var e = Assert.Throws<VideoException>(() => LiveInput.Parse("camera:7"));
        Assert.StartsWith("no camera at /dev/video7 (", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("camera:x")]
    [InlineData("camera:99")]
    public void Input_BadCameraNumber_IsRejected(string text)
    {
        var e = Assert.Throws<VideoException>(() => LiveInput.Parse(text));
        Assert.Contains("camera:N takes a device number", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Input_Camera_AsksTheDriverForSizeRateAndFormat()
    {
        var camera = LiveInput.Camera("/dev/video0") with { PixelFormat = "mjpeg" };
        var args = camera.FfmpegInputArguments((1280, 720), 30);
        Assert.Equal(["-f", "v4l2", "-thread_queue_size", "64", "-input_format", "mjpeg", "-video_size", "1280x720", "-framerate", "30", "-i", "/dev/video0"], args);
        Assert.False(camera.Reconnects);
        Assert.False(camera.CanProbe);
    }

    [Theory]
    [InlineData("rtmp://127.0.0.1:1935/live/cam", true)]
    [InlineData("rtsp://10.0.0.2/stream", true)]
    [InlineData("udp://127.0.0.1:9000", true)]
    [InlineData("srt://127.0.0.1:9000?mode=caller", false)]
    public void Input_NetworkUrl_ReconnectsAndProbesExceptSrt(string url, bool probes)
    {
        var input = LiveInput.Parse(url);
        Assert.Equal(LiveInputKind.Network, input.Kind);
        Assert.True(input.Reconnects);
        Assert.Equal(probes, input.CanProbe);
        Assert.Contains("-i", input.FfmpegInputArguments((640, 360), 30));
    }

    [Fact]
    public void Input_UrlWithStreamKey_KeepsTheKeyOutOfItsName()
    {
        var input = LiveInput.Parse("rtmp://127.0.0.1/live/cam?key=secret123");
        Assert.DoesNotContain("secret123", input.DisplayName, StringComparison.Ordinal);
    }

    [Fact]
    public void Input_UnknownScheme_IsRejected()
    {
        var e = Assert.Throws<VideoException>(() => LiveInput.Parse("ftp://host/clip.mp4"));
        Assert.Contains("'ftp' streams are not read live", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Input_TestPatternAndLoopedFile_PlayAtTheirRate()
    {
        var pattern = LiveInput.Parse("testsrc");
        Assert.Equal(LiveInputKind.TestPattern, pattern.Kind);
        Assert.Contains("testsrc2=size=320x180:rate=25", pattern.FfmpegInputArguments((320, 180), 25));

        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("clip.mp4"), 64, 48, "25", 0.2, audio: false);
        var file = LiveInput.Parse(clip) with { Loop = true };
        Assert.Equal(["-re", "-stream_loop", "-1", "-i", clip], file.FfmpegInputArguments((64, 48), 25));
    }

    [Fact]
    public void Output_MissingVirtualCamera_SaysHowToLoadIt()
    {
        var e = Assert.Throws<VideoException>(() => LiveOutput.Parse("/dev/video9"));
        Assert.Contains("modprobe v4l2loopback video_nr=9", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_RawFrameStandIns_DifferFromTheVirtualCameraOnlyInTheLastArguments()
    {
        using var dir = new TempDir();
        var camera = LiveOutput.VirtualCamera("/dev/video9").FfmpegOutputArguments("/dev/video9", 30, withAudio: true);
        foreach (var (prefix, format) in new[] { ("y4m:", "yuv4mpegpipe"), ("rawvideo:", "rawvideo"), ("framemd5:", "framemd5") })
        {
            string path = dir.File("out");
            var standIn = LiveOutput.Parse(prefix + path);
            Assert.Equal(LiveOutputKind.RawFrames, standIn.Kind);
            var args = standIn.FfmpegOutputArguments(path, 30, withAudio: true);
            Assert.Equal(camera.Take(camera.Count - 2), args.Take(args.Count - 2));
            Assert.Equal(["v4l2", "/dev/video9"], camera.TakeLast(2));
            Assert.Equal([format, path], args.TakeLast(2));
        }

        // A camera carries no audio even when the input has some.
        Assert.DoesNotContain("1:a:0", camera);
    }

    [Theory]
    [InlineData("rtmp://127.0.0.1/live/out", LiveOutputKind.Rtmp, "flv")]
    [InlineData("srt://127.0.0.1:9000?mode=listener", LiveOutputKind.MpegTs, "mpegts")]
    [InlineData("udp://127.0.0.1:9000", LiveOutputKind.MpegTs, "mpegts")]
    public void Output_NetworkUrl_EncodesForLowDelayWithAudio(string url, LiveOutputKind kind, string muxer)
    {
        var output = LiveOutput.Parse(url);
        Assert.Equal(kind, output.Kind);
        Assert.True(output.CarriesAudio);
        var args = output.FfmpegOutputArguments(url, 30, withAudio: true);
        Assert.Equal(["-f", muxer, url], args.TakeLast(3));
        Assert.Contains("zerolatency", args);
        Assert.Contains("1:a:0", args);
    }

    [Fact]
    public void Output_HlsAndRecording_NeedAnExistingDirectory()
    {
        Assert.Contains("does not exist", Assert.Throws<VideoException>(() => LiveOutput.Parse("/nonexistent/dir/live.m3u8")).Message, StringComparison.Ordinal);
        using var dir = new TempDir();
        Assert.Equal(LiveOutputKind.Hls, LiveOutput.Parse(dir.File("live.m3u8")).Kind);
        Assert.Equal(LiveOutputKind.File, LiveOutput.Parse(dir.File("rec.mkv")).Kind);
        Assert.Contains("unknown output", Assert.Throws<VideoException>(() => LiveOutput.Parse(dir.File("rec.gif"))).Message, StringComparison.Ordinal);
    }
}
