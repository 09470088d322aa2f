using Video.Capture;
using Video.Tests.Shared;

namespace Video.Evaluation.Tests;

/// <summary><see cref="Flicker"/> on real clips made by ffmpeg (the CLI smoke test is in Video.Streaming.Tests).</summary>
public class FlickerTests : FrameLeakCheckedTest
{
    [Fact]
    public async Task ReportAsync_FlickeringVersusSteady_GivesFloorFiguresAndRatio()
    {
        using var dir = new TempDir();
        var (clip, steady, flickering) = FlickerClips.Make(dir);

        var r = await Flicker.ReportAsync(clip, flickering, steady, FlickerMeter.DefaultFlowWidth, CancellationToken.None, allocator: Allocator);
        Assert.Equal(24, r.Pairs);
        Assert.True(r.StylizedWarpError > 1.3 * r.VersusWarpError!.Value, $"flickering {r.StylizedWarpError} vs steady {r.VersusWarpError}");
        Assert.Equal(r.StylizedWarpError / r.VersusWarpError.Value, r.Ratio!.Value, 6);
        Assert.True(r.OriginalWarpError < r.StylizedWarpError);

        var alone = await Flicker.ReportAsync(clip, steady, null, FlickerMeter.DefaultFlowWidth, CancellationToken.None, allocator: Allocator);
        Assert.Null(alone.Versus);
        Assert.Null(alone.Ratio);
        Assert.Equal(r.VersusWarpError.Value, alone.StylizedWarpError, 12);
    }

    [Fact]
    public async Task MeasureAsync_FirstFrames_MeasuresOnlyThose()
    {
        using var dir = new TempDir();
        var (clip, steady, flickering) = FlickerClips.Make(dir);
        var m = await Flicker.MeasureAsync(clip, [steady, flickering], FlickerMeter.DefaultFlowWidth, 10, FlickerMeter.DefaultCutError, CancellationToken.None, allocator: Allocator);
        Assert.Equal(9, m.Pairs + m.Cuts);
        Assert.Equal(2, m.WarpErrors.Count);
        Assert.Equal(9, m.PairDetails.Count);
    }

    [Fact]
    public async Task ReportAsync_BadInputs_ThrowWhatTheUserCanFix()
    {
        using var dir = new TempDir();
        string a = Media.Generate(dir.File("a.mp4"), 96, 64, "25", 0.8, audio: false);
        string small = Media.Generate(dir.File("small.mp4"), 64, 64, "25", 0.8, audio: false);
        string shorter = Media.Generate(dir.File("short.mp4"), 96, 64, "25", 0.4, audio: false);

        foreach (var (stylized, flowWidth, expected) in new (string, int, string)[]
        {
            (dir.File("missing.mp4"), FlickerMeter.DefaultFlowWidth, "missing.mp4"),
            (small, FlickerMeter.DefaultFlowWidth, "is 64x64 but"),
            (shorter, FlickerMeter.DefaultFlowWidth, "has 10 frames but"),
            (a, 3, "--flow-width 3 is out of range"),
        })
        {
            var e = await Assert.ThrowsAnyAsync<VideoException>(() => Flicker.ReportAsync(a, stylized, null, flowWidth, CancellationToken.None, allocator: Allocator));
            Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        }

        var tooFew = await Assert.ThrowsAnyAsync<VideoException>(() => Flicker.ReportAsync(a, a, null, FlickerMeter.DefaultFlowWidth, CancellationToken.None, maxFrames: 1, allocator: Allocator));
        Assert.Contains("--frames 1 is out of range", tooFew.Message, StringComparison.Ordinal);
    }
}

/// <summary>A textured moving clip, a steady "stylized" version (inverted) and a flickering one (inverted, brightness alternating).</summary>
internal static class FlickerClips
{
    public static (string Clip, string Steady, string Flickering) Make(TempDir dir)
    {
        string clip = Media.Generate(dir.File("in.mp4"), 160, 96, "25", 1, audio: false);
        Media.Run("ffmpeg", ["-v", "error", "-i", clip, "-vf", "negate", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv444p", dir.File("steady.mp4")]);
        Media.Run("ffmpeg", ["-v", "error", "-i", clip, "-vf", "negate,format=yuv444p,geq=lum='clip(lum(X,Y)+14*mod(N,2),0,255)':cb='cb(X,Y)':cr='cr(X,Y)'", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv444p", dir.File("flicker.mp4")]);
        return (clip, dir.File("steady.mp4"), dir.File("flicker.mp4"));
    }
}
