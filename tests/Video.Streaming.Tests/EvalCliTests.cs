using System.Text.Json;
using Video.Evaluation;
using Video.Tests.Shared;

namespace Video.Streaming.Tests;

/// <summary>
/// <c>video eval flicker</c>, <c>flicker-table</c>, <c>temporal-apply</c> and <c>video stylize --temporal</c> as a user runs them: one smoke test
/// per command; the measurement and the table themselves are tested in process in Video.Evaluation.Tests.
/// </summary>
public class EvalCliTests
{
    [Fact]
    public void EvalFlicker_FlickeringVersusSteady_PrintsFloorFiguresAndRatio()
    {
        using var dir = new TempDir();
        var (clip, steady, flickering) = Clips(dir);

        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "eval", "flicker", clip, flickering, "--vs", steady, "--json");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(24, json.GetProperty("pairs").GetInt32());
        double floor = json.GetProperty("original").GetProperty("eWarp").GetDouble();
        double flicker = json.GetProperty("stylized").GetProperty("eWarp").GetDouble();
        double calm = json.GetProperty("vs").GetProperty("eWarp").GetDouble();
        Assert.True(flicker > 1.3 * calm, $"flickering {flicker} vs steady {calm}");
        Assert.Equal(flicker / calm, json.GetProperty("ratio").GetDouble(), 6);
        Assert.True(floor < flicker);

        (code, stdout, stderr) = CliProcess.Run(dir.Path, "eval", "flicker", clip, steady);
        Assert.True(code == 0, stderr);
        Assert.Contains("original (floor)", stdout, StringComparison.Ordinal);
        Assert.Contains("stylized", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("ratio", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EvalTemporalApply_FlickeringClip_LowersItsWarpError()
    {
        using var dir = new TempDir();
        var (clip, _, flickering) = Clips(dir);
        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "eval", "temporal-apply", clip, flickering, "-o", "filtered.mp4");
        Assert.True(code == 0, stderr);
        Assert.Contains("wrote filtered.mp4: 25 frames", stdout, StringComparison.Ordinal);

        var report = await Flicker.ReportAsync(clip, dir.File("filtered.mp4"), flickering, FlickerMeter.DefaultFlowWidth, CancellationToken.None);
        Assert.True(report.Ratio < 0.5, $"ratio {report.Ratio}");
    }

    [Fact]
    public void EvalTemporalBench_SmallFrames_PrintsOneLinePerMode()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "eval", "temporal-bench", "--size", "160x96", "--frames", "10");
        Assert.True(code == 0, stderr);
        Assert.Contains("temporal filter at 160x96, strength 0.8, 10 frames per mode (interleaved)", stdout, StringComparison.Ordinal);
        foreach (var mode in new[] { "ema", "flow", "flow, no clamp", "flow, no full-size check" })
        {
            Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape(mode)} +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +10$", stdout);
        }
    }

    [Fact]
    public void StylizeTemporalFlow_Clip_WritesEveryFrameAndTimesTheStage()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 160, 96, "25", 1, audio: false);
        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "stylize", clip, "-o", "out.mp4", "--device", "cpu", "-q", "--temporal", "flow", "--temporal-strength", "0.7");
        Assert.True(code == 0, stderr);
        Assert.Matches(@"temporal [\d.]+", stdout);
        Assert.Equal(25, Media.Probe(dir.File("out.mp4")).Frames);
    }

    [Theory]
    [InlineData("--temporal-strength", "1.5", 1, "video: error: --temporal-strength 1.5 is out of range [0, 1)")]
    [InlineData("--temporal", "blur", 2, "video: ")]
    public void StylizeTemporal_BadValue_OneLineNonZeroAndNothingWritten(string option, string value, int exit, string start)
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 96, 64, "25", 0.4, audio: false);
        var (code, _, stderr) = CliProcess.Run(dir.Path, "stylize", clip, "-o", "out.mp4", "--device", "cpu", option, value);
        Assert.Equal(exit, code);
        Assert.StartsWith(start, stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Equal(["in.mp4"], dir.Entries());
    }

    [Fact]
    public void EvalFlicker_MissingClip_OneLineAndExitOne()
    {
        // The measurement's other input errors are checked in process (Video.Evaluation.Tests); this is how the CLI reports one.
        using var dir = new TempDir();
        string a = Media.Generate(dir.File("a.mp4"), 96, 64, "25", 0.4, audio: false);
        var (code, _, stderr) = CliProcess.Run(dir.Path, "eval", "flicker", a, "missing.mp4");
        Assert.Equal(1, code);
        Assert.StartsWith("video: error: ", stderr, StringComparison.Ordinal);
        Assert.Contains("missing.mp4", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void EvalFlickerTable_WithoutVariantOrWithBadFormat_SaysNotTrainedOrFailsInOneLine()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 96, 64, "25", 0.4, audio: false);
        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "eval", "flicker-table", "--clips", clip, "--model", "toon", "--frames", "4", "--device", "cpu", "--out", "res", "--format", "mp4", "-q");
        Assert.True(code == 0, stderr);
        Assert.Contains("| toon | in.mp4 | 96x64, 3 |", stdout, StringComparison.Ordinal);
        Assert.Contains("not trained", stdout, StringComparison.Ordinal);
        Assert.Contains("versions stored as H.264 CRF 20", stdout, StringComparison.Ordinal);
        Assert.Equal(4, Media.Probe(dir.File("res/in-toon-flow.mp4")).Frames);

        // An unknown --format is a usage error (exit code 2), also in one line.
        (code, _, stderr) = CliProcess.Run(dir.Path, ["eval", "flicker-table", "--out", "bad", "--clips", clip, "--model", "toon", "--format", "gif"]);
        Assert.Equal(2, code);
        Assert.Contains("Argument 'gif' not recognized", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.False(Directory.Exists(dir.File("bad")), "nothing written on bad input");
    }

    /// <summary>A textured moving clip, a steady "stylized" version (inverted) and a flickering one (inverted, brightness alternating).</summary>
    private static (string Clip, string Steady, string Flickering) Clips(TempDir dir)
    {
        string clip = Media.Generate(dir.File("in.mp4"), 160, 96, "25", 1, audio: false);
        Media.Run("ffmpeg", ["-v", "error", "-i", clip, "-vf", "negate", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv444p", dir.File("steady.mp4")]);
        Media.Run("ffmpeg", ["-v", "error", "-i", clip, "-vf", "negate,format=yuv444p,geq=lum='clip(lum(X,Y)+14*mod(N,2),0,255)':cb='cb(X,Y)':cr='cr(X,Y)'", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv444p", dir.File("flicker.mp4")]);
        return (clip, dir.File("steady.mp4"), dir.File("flicker.mp4"));
    }
}
