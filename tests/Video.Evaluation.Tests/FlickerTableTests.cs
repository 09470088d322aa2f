using System.Text.Json;
using Video.Capture;
using Video.Inference;
using Video.Tests.Shared;

namespace Video.Evaluation.Tests;

/// <summary><see cref="FlickerTable"/> and <see cref="FlickerStrips"/> on a tiny clip with the shipped <c>toon</c> model (the CLI smoke test is in Video.Streaming.Tests).</summary>
public class FlickerTableTests
{
    [Fact]
    public async Task RunAsync_TinyClipWithTemporalLossVariant_GivesRowsTableAndStrips()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 160, 96, "25", 1, audio: false);
        Directory.CreateDirectory(dir.File("tl"));
        foreach (var f in new[] { "toon.json", "toon.onnx" })
        {
            File.Copy(Path.Combine(Repo.Models, f), Path.Combine(dir.File("tl"), f));
        }

        var request = Request(dir, clip, 10) with { TemporalLossDirectory = dir.File("tl"), StripsDirectory = dir.File("strips") };
        var rows = await FlickerTable.RunAsync(request, TextWriter.Null, CancellationToken.None);
        var (markdown, jsonText) = await FlickerTable.SaveAsync(rows, request, CancellationToken.None);

        var row = Assert.Single(rows);
        Assert.Equal(("toon", "in.mp4", 9), (row.Model, row.Clip, row.Pairs));
        Assert.True(row.Off > 0 && row.Flow > 0, $"off {row.Off} flow {row.Flow}");
        Assert.Equal(row.Flow / row.Off, row.Ratio!.Value, 6);

        // The variant here is the same model, so its E_warp (filter off) is the per-frame one.
        Assert.Equal(row.Off, row.TemporalLoss!.Value, 5);

        // Each version is a lossless PNG sequence (the default format).
        foreach (var version in new[] { "off", "flow", "tloss" })
        {
            var files = Directory.GetFiles(dir.File($"res/in-toon-{version}"), "*.png");
            Assert.Equal(10, files.Length);
            Assert.Equal((160, 96), (Media.Probe(files[0]).Width, Media.Probe(files[0]).Height));
        }

        Assert.Equal(markdown, File.ReadAllText(dir.File("res/table.md")));
        Assert.Contains("| toon | in.mp4 | 160x96, 9 |", markdown, StringComparison.Ordinal);
        Assert.Contains("(1.00×)", markdown, StringComparison.Ordinal);
        var json = JsonDocument.Parse(File.ReadAllText(dir.File("res/table.json"))).RootElement;
        Assert.Equal(jsonText, File.ReadAllText(dir.File("res/table.json")));
        Assert.Equal(10, json.GetProperty("frames").GetInt32());
        Assert.Equal(row.Flow, Assert.Single(json.GetProperty("rows").EnumerateArray().ToList()).GetProperty("flow").GetDouble());

        // Strip: 6 frames of 256 px side by side; rows off, flow, temporal-loss variant.
        var strip = Media.Probe(dir.File("strips/in-toon.png"));
        Assert.Equal((6 * 256, 3 * 154), (strip.Width, strip.Height));

        // The command the table prints reproduces the row.
        var again = await Flicker.ReportAsync(clip, row.FlowPath, row.OffPath, FlickerMeter.DefaultFlowWidth, CancellationToken.None, maxFrames: 10);
        Assert.Equal(row.Flow, again.StylizedWarpError, 9);
    }

    [Fact]
    public async Task RunAsync_BadInput_ThrowsBeforeWritingAnything()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 96, 64, "25", 0.4, audio: false);
        foreach (var (request, expected) in new (Func<FlickerTableRequest> Request, string Expected)[]
        {
            (() => Request(dir, clip, 4) with { Models = ["no-such-model"] }, "unknown model 'no-such-model'"),
            (() => Request(dir, clip, 4) with { Clips = FlickerTable.ResolveClips([dir.File("missing.mp4")]) }, "missing.mp4"),
            (() => Request(dir, clip, 1), "--frames 1 is out of range"),
            (() => Request(dir, clip, 4) with { StripCrop = "big" }, "--strip-crop 'big' is not W:H:X:Y"),
        })
        {
            var e = await Assert.ThrowsAnyAsync<VideoException>(async () => await FlickerTable.RunAsync(request(), TextWriter.Null, CancellationToken.None));
            Assert.Contains(expected, e.Message, StringComparison.Ordinal);
            Assert.False(Directory.Exists(dir.File("res")), "nothing written on bad input");
        }
    }

    private static FlickerTableRequest Request(TempDir dir, string clip, long frames) => new()
    {
        Clips = [clip],
        Models = ["toon"],
        ModelsDirectory = Repo.Models,
        OutputDirectory = dir.File("res"),
        Frames = frames,
        Device = Device.Cpu,
    };
}
