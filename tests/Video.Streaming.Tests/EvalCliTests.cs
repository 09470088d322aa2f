using System.Text.Json;
using Video.Tests.Shared;

namespace Video.Streaming.Tests;

/// <summary><c>video eval flicker</c>, <c>video eval temporal-apply</c> and <c>video stylize --temporal</c> as a user runs them.</summary>
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
    public void EvalTemporalApply_FlickeringClip_LowersItsWarpError()
    {
        using var dir = new TempDir();
        var (clip, _, flickering) = Clips(dir);
        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "eval", "temporal-apply", clip, flickering, "-o", "filtered.mp4");
        Assert.True(code == 0, stderr);
        Assert.Contains("wrote filtered.mp4: 25 frames", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = CliProcess.Run(dir.Path, "eval", "flicker", clip, "filtered.mp4", "--vs", flickering, "--json");
        Assert.True(code == 0, stderr);
        double ratio = JsonDocument.Parse(stdout).RootElement.GetProperty("ratio").GetDouble();
        Assert.True(ratio < 0.5, $"ratio {ratio}");
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
    public void EvalFlicker_BadInputs_OneLineAndExitOne()
    {
        using var dir = new TempDir();
        string a = Media.Generate(dir.File("a.mp4"), 96, 64, "25", 0.8, audio: false);
        string small = Media.Generate(dir.File("small.mp4"), 64, 64, "25", 0.8, audio: false);
        string shorter = Media.Generate(dir.File("short.mp4"), 96, 64, "25", 0.4, audio: false);

        foreach (var (args, expected) in new (string[] Args, string Expected)[]
        {
            (["eval", "flicker", a, "missing.mp4"], "missing.mp4"),
            (["eval", "flicker", a, small], "is 64x64 but"),
            (["eval", "flicker", a, shorter], "has 10 frames but"),
            (["eval", "flicker", a, a, "--flow-width", "3"], "--flow-width 3 is out of range"),
        })
        {
            var (code, _, stderr) = CliProcess.Run(dir.Path, args);
            Assert.Equal(1, code);
            Assert.StartsWith("video: error: ", stderr, StringComparison.Ordinal);
            Assert.Contains(expected, stderr, StringComparison.Ordinal);
            Assert.Single(stderr.Trim().Split('\n'));
        }
    }

    [Fact]
    public void EvalFlickerTable_TinyClipWithTemporalLossVariant_PrintsRowsWritesTableAndStrips()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 160, 96, "25", 1, audio: false);
        Directory.CreateDirectory(dir.File("tl"));
        foreach (var f in new[] { "toon.json", "toon.onnx" })
        {
            File.Copy(Path.Combine(Repo.Models, f), Path.Combine(dir.File("tl"), f));
        }

        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "eval", "flicker-table", "--clips", clip, "--model", "toon", "--frames", "10", "--temporal-loss-models", "tl", "--device", "cpu", "--out", "res", "--strips", "strips", "--json", "-q");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(10, json.GetProperty("frames").GetInt32());
        var row = Assert.Single(json.GetProperty("rows").EnumerateArray().ToList());
        Assert.Equal("toon", row.GetProperty("model").GetString());
        Assert.Equal("in.mp4", row.GetProperty("clip").GetString());
        Assert.Equal(9, row.GetProperty("pairs").GetInt32());
        double off = row.GetProperty("off").GetDouble(), flow = row.GetProperty("flow").GetDouble();
        Assert.True(off > 0 && flow > 0, $"off {off} flow {flow}");
        Assert.Equal(flow / off, row.GetProperty("ratio").GetDouble(), 6);

        // The variant here is the same model, so its E_warp (filter off) is the per-frame one.
        Assert.Equal(off, row.GetProperty("temporalLoss").GetDouble(), 5);
        // Each version is a lossless PNG sequence (the default --format).
        foreach (var version in new[] { "off", "flow", "tloss" })
        {
            var files = Directory.GetFiles(dir.File($"res/in-toon-{version}"), "*.png");
            Assert.Equal(10, files.Length);
            Assert.Equal((160, 96), (Media.Probe(files[0]).Width, Media.Probe(files[0]).Height));
        }

        string table = File.ReadAllText(dir.File("res/table.md"));
        Assert.Contains("| toon | in.mp4 | 160x96, 9 |", table, StringComparison.Ordinal);
        Assert.Contains("(1.00×)", table, StringComparison.Ordinal);

        // Strip: 6 frames of 256 px side by side; rows off, flow, temporal-loss variant.
        var strip = Media.Probe(dir.File("strips/in-toon.png"));
        Assert.Equal((6 * 256, 3 * 154), (strip.Width, strip.Height));

        // The printed command reproduces the row.
        (code, stdout, stderr) = CliProcess.Run(dir.Path, "eval", "flicker", clip, "res/in-toon-flow/", "--vs", "res/in-toon-off/", "--frames", "10", "--json");
        Assert.True(code == 0, stderr);
        Assert.Equal(flow, JsonDocument.Parse(stdout).RootElement.GetProperty("stylized").GetProperty("eWarp").GetDouble(), 9);
    }

    [Fact]
    public void EvalFlickerTable_WithoutVariantOrWithBadInput_SaysNotTrainedOrFailsInOneLine()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 96, 64, "25", 0.4, audio: false);
        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "eval", "flicker-table", "--clips", clip, "--model", "toon", "--frames", "4", "--device", "cpu", "--out", "res", "--format", "mp4", "-q");
        Assert.True(code == 0, stderr);
        Assert.Contains("| toon | in.mp4 | 96x64, 3 |", stdout, StringComparison.Ordinal);
        Assert.Contains("not trained", stdout, StringComparison.Ordinal);
        Assert.Contains("versions stored as H.264 CRF 20", stdout, StringComparison.Ordinal);
        Assert.Equal(4, Media.Probe(dir.File("res/in-toon-flow.mp4")).Frames);

        foreach (var (args, expected) in new (string[] Args, string Expected)[]
        {
            (["--clips", clip, "--model", "no-such-model"], "unknown model 'no-such-model'"),
            (["--clips", "missing.mp4", "--model", "toon"], "missing.mp4"),
            (["--clips", clip, "--model", "toon", "--frames", "1"], "--frames 1 is out of range"),
            (["--clips", clip, "--model", "toon", "--strip-crop", "big"], "--strip-crop 'big' is not W:H:X:Y"),
        })
        {
            (code, _, stderr) = CliProcess.Run(dir.Path, ["eval", "flicker-table", "--out", "bad", .. args]);
            Assert.Equal(1, code);
            Assert.StartsWith("video: error: ", stderr, StringComparison.Ordinal);
            Assert.Contains(expected, stderr, StringComparison.Ordinal);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.False(Directory.Exists(dir.File("bad")), "nothing written on bad input");
        }

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
