using Video.Inference.Onnx;
using Video.Tests.Shared;

namespace Video.Streaming.Tests;

/// <summary>The <c>video stylize</c> command end to end, as a user runs it.</summary>
public class StylizeCliTests
{
    [Fact]
    public void Stylize_ClipWithAudio_WritesSameFrameCountWithAudio()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 192, 108, "30000/1001", 1.5, audio: true);
        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "stylize", clip, "-o", "out.mp4", "--device", "cpu");
        Assert.True(code == 0, stderr);
        Assert.Contains("wrote out.mp4: 45 frames", stdout, StringComparison.Ordinal);
        Assert.Matches(@"\d+ frames in [\d.]+ s: [\d.]+ fps", stdout);
        var probe = Media.Probe(dir.File("out.mp4"));
        Assert.Equal(45, probe.Frames);
        Assert.True(probe.HasAudio);
        Assert.Equal((192, 108), (probe.Width, probe.Height));
        Assert.Equal(["in.mp4", "out.mp4"], dir.Entries());
    }

    [Fact]
    public void Stylize_WebmWithOpusToMp4_KeepsAudio()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.webm"), 128, 96, "24", 1, audio: true);
        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "stylize", clip, "-o", "out.mp4", "--device", "cpu", "--size", "64x48");
        Assert.True(code == 0, stderr);
        Assert.Contains("audio copied (opus)", stdout, StringComparison.Ordinal);
        Assert.Contains("inference at 64x48", stdout, StringComparison.Ordinal);
        Assert.True(Media.Probe(dir.File("out.mp4")).HasAudio);
    }

    [Fact]
    public void Stylize_SingleImage_WritesAnImage()
    {
        using var dir = new TempDir();
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64", "-frames:v", "1", dir.File("photo.png")]);
        var (code, _, stderr) = CliProcess.Run(dir.Path, "stylize", "photo.png", "--device", "cpu");
        Assert.True(code == 0, stderr);
        var probe = Media.Probe(dir.File("photo-toon.png"));
        Assert.Equal((96, 64), (probe.Width, probe.Height));
    }

    [Fact]
    public void Stylize_ModelGivenAsManifestPath_NeedsNoModelsDirectory()
    {
        // `--model path.json` reads that manifest; it used to fail when no models directory was found beside the program.
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("elsewhere"));
        ProceduralModels.WriteAffine(dir.File("elsewhere/half.onnx"), 0.5f, 0);
        File.WriteAllText(dir.File("elsewhere/half.json"), """{ "name": "half", "family": "fast", "model": "half.onnx", "input": { "name": "input" }, "output": { "name": "output" } }""");
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "color=c=white:size=32x32", "-frames:v", "1", dir.File("photo.png")]);

        var (code, _, stderr) = CliProcess.Run(dir.Path, new Dictionary<string, string> { ["VIDEO_MODELS"] = dir.File("no-such-dir") }, TimeSpan.FromSeconds(180),
            "stylize", "photo.png", "-o", "out.png", "--model", dir.File("elsewhere/half.json"), "--device", "cpu");

        Assert.True(code == 0, stderr);
        using var frame = Video.Capture.FrameMats.LoadRgb(dir.File("out.png"));
        Assert.InRange(frame.Pixels[0], 120, 136);
    }

    [Fact]
    public void Stylize_FolderOfPhotos_KeepsEachPhotosSizeNameAndFormat()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("photos"));
        Photo(dir.File("photos/a.png"), 160, 120, "testsrc2");
        Photo(dir.File("photos/b.png"), 100, 76, "mandelbrot");
        Photo(dir.File("photos/c.jpg"), 64, 96, "rgbtestsrc");
        File.WriteAllText(dir.File("photos/broken.png"), "not an image\n");
        File.WriteAllText(dir.File("photos/notes.txt"), "not an image either, and not named like one\n");

        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "stylize", "photos", "-o", "out/", "--device", "cpu", "-q");

        Assert.True(code == 0, stderr);
        Assert.Contains("wrote out/: 3 photos, each at its own size under its own name (skipped 1 not readable as images: broken.png)", stdout, StringComparison.Ordinal);
        Assert.Equal(["a.png", "b.png", "c.jpg"], Directory.EnumerateFileSystemEntries(dir.File("out")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var (name, width, height, codec) in new[] { ("a.png", 160, 120, "png"), ("b.png", 100, 76, "png"), ("c.jpg", 64, 96, "mjpeg") })
        {
            var probe = Media.Probe(dir.File("out/" + name));
            Assert.Equal((name, width, height, codec), (name, probe.Width, probe.Height, probe.Codec));
        }

        // Not just the size: a photo of the folder is exactly what stylizing it alone gives.
        var alone = CliProcess.Run(dir.Path, "stylize", "photos/b.png", "-o", "b-alone.png", "--device", "cpu", "-q");
        Assert.True(alone.ExitCode == 0, alone.Stderr);
        using var expected = Video.Capture.FrameMats.LoadRgb(dir.File("b-alone.png"));
        using var actual = Video.Capture.FrameMats.LoadRgb(dir.File("out/b.png"));
        Assert.True(expected.Pixels.SequenceEqual(actual.Pixels), "out/b.png differs from photos/b.png stylized alone");
        Assert.Equal(["b-alone.png", "out", "photos"], dir.Entries());
    }

    [Fact]
    public void Stylize_FolderWithSequence_IsOneVideoAtTheFirstImagesSize()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("frames"));
        Photo(dir.File("frames/f1.png"), 96, 64, "testsrc2");
        Photo(dir.File("frames/f2.png"), 96, 64, "mandelbrot");
        Photo(dir.File("frames/f3.png"), 48, 80, "rgbtestsrc");

        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "stylize", "frames", "--sequence", "--fps", "10", "-o", "clip.mp4", "--device", "cpu", "-q");

        Assert.True(code == 0, stderr);
        Assert.Contains("wrote clip.mp4: 3 frames 96x64 at 10 fps", stdout, StringComparison.Ordinal);
        var probe = Media.Probe(dir.File("clip.mp4"));
        Assert.Equal((3L, 96, 64, 10.0), (probe.Frames, probe.Width, probe.Height, probe.Fps));
    }

    [Fact]
    public void Stylize_AdainModelWithMixedStylesAndAlpha_TakesTheStyleColours()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("models"));
        ProceduralModels.WritePixelAdain(dir.File("models"), "px");
        File.WriteAllText(dir.File("models/px.json"), """
            { "name": "px", "family": "adain", "model": "px.onnx", "input": { "name": "input" }, "output": { "name": "output" },
              "adain": { "styleEncoder": "px.style.onnx" } }
            """);
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "color=c=red:size=32x32", "-frames:v", "1", dir.File("red.png")]);
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "color=c=blue:size=32x32", "-frames:v", "1", dir.File("blue.png")]);
        string clip = Media.Generate(dir.File("in.mp4"), 96, 64, "25", 0.4, audio: false);

        var (code, _, stderr) = CliProcess.Run(dir.Path, "stylize", clip, "-o", "out.png/", "--models", "models", "--model", "px",
            "--style", "red.png=3", "--style", "blue.png=1", "--alpha", "1", "--device", "cpu");
        Assert.True(code == 0, stderr);
        using var frame = Video.Capture.FrameMats.LoadRgb(dir.File("out.png/frame_000005.png"));
        double r = 0, b = 0;
        for (int i = 0; i < frame.Length; i += 3)
        {
            r += frame.Pixels[i];
            b += frame.Pixels[i + 2];
        }

        // Mixed statistics: mean ≈ 0.75 red + 0.25 blue.
        Assert.InRange(r / (frame.Length / 3), 170, 210);
        Assert.InRange(b / (frame.Length / 3), 45, 85);
    }

    [Fact]
    public void Models_ListsTheDefaultModelWithProvenance()
    {
        var (code, stdout, stderr) = CliProcess.Run(Path.GetTempPath(), "models");
        Assert.True(code == 0, stderr);
        Assert.Matches(@"toon\s+cartoon\s+[\d.]+ MB\s+any size.*method procedural.*\(default\)", stdout);
    }

    public static TheoryData<string, string[], string> BadInputs => new()
    {
        { "missing input", ["stylize", "/nonexistent/clip.mp4", "-o", "out.mp4"], "input not found: /nonexistent/clip.mp4" },
        { "empty input", ["stylize", "empty.mp4", "-o", "out.mp4"], "input is empty" },
        { "not a video", ["stylize", "notes.mp4", "-o", "out.mp4"], "cannot read notes.mp4: Invalid data found when processing input" },
        { "truncated video", ["stylize", "cut.mp4", "-o", "out.mp4"], "cut.mp4 is truncated or corrupt: decoded" },
        { "unknown model", ["stylize", "good.mp4", "-o", "out.mp4", "--model", "nope"], "unknown model 'nope' (installed:" },
        { "malformed manifest", ["stylize", "good.mp4", "-o", "out.mp4", "--model", "models/broken.json"], "malformed manifest" },
        { "model not matching manifest", ["stylize", "good.mp4", "-o", "out.mp4", "--model", "models/mismatch.json"], "does not match its manifest: input 'image' not found" },
        { "unwritable output", ["stylize", "good.mp4", "-o", "/proc/out.mp4"], "cannot write /proc/out.mp4" },
        { "output directory missing", ["stylize", "good.mp4", "-o", "nodir/out.mp4"], "directory" },
        { "output equals input", ["stylize", "good.mp4", "-o", "./good.mp4"], "output ./good.mp4 is the input" },
        { "bad size", ["stylize", "good.mp4", "-o", "out.mp4", "--size", "big"], "--size 'big' is not WIDTHxHEIGHT" },
        { "bad device", ["stylize", "good.mp4", "-o", "out.mp4", "--device", "tpu"], "tpu" },
        { "style for a non-AdaIN model", ["stylize", "good.mp4", "-o", "out.mp4", "--style", "good.mp4"], "--style needs an AdaIN model" },
        { "sequence of a file", ["stylize", "good.mp4", "-o", "out.mp4", "--sequence"], "--sequence reads a folder of images as one video, and good.mp4 is not a folder" },
        { "folder of photos to a video", ["stylize", "photos", "-o", "out.mp4"], "photos is a folder of photos, each stylized at its own size into a folder: use -o DIR/, or --sequence" },
        { "folder of photos to a file without extension", ["stylize", "photos", "-o", "out"], "photos is a folder of photos, each stylized at its own size into a folder: use -o DIR/" },
        { "frame rate for a folder of photos", ["stylize", "photos", "-o", "out/", "--fps", "10"], "--fps is the frame rate of an image sequence: add --sequence" },
        { "folder without a readable photo", ["stylize", "junk", "-o", "out/"], "none of the 1 images in junk could be read" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Stylize_BadInput_PrintsOneLineExitsNonZeroAndWritesNothing(string name, string[] args, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("empty.mp4"), []);
        File.WriteAllText(dir.File("notes.mp4"), "not a video\n");
        string good = Media.Generate(dir.File("good.mp4"), 128, 72, "25", 2, audio: false);
        Media.Run("ffmpeg", ["-v", "error", "-i", good, "-c", "copy", "-movflags", "+faststart", dir.File("fs.mp4")]);
        byte[] bytes = File.ReadAllBytes(dir.File("fs.mp4"));
        File.WriteAllBytes(dir.File("cut.mp4"), bytes[..(bytes.Length * 2 / 3)]);
        Directory.CreateDirectory(dir.File("models"));
        File.WriteAllText(dir.File("models/broken.json"), "{ \"name\": \"broken\", ");
        ProceduralModels.WriteAffine(dir.File("models/mismatch.onnx"), 1, 0);
        File.WriteAllText(dir.File("models/mismatch.json"), """{ "name": "mismatch", "family": "fast", "model": "mismatch.onnx", "input": { "name": "image" }, "output": { "name": "output" } }""");
        Directory.CreateDirectory(dir.File("photos"));
        Photo(dir.File("photos/a.png"), 32, 24, "testsrc2");
        Directory.CreateDirectory(dir.File("junk"));
        File.WriteAllText(dir.File("junk/x.png"), "not an image\n");
        var before = dir.Entries();

        var (code, stdout, stderr) = CliProcess.Run(dir.Path, [.. args, .. args.Contains("--device") ? Array.Empty<string>() : ["--device", "cpu"]]);

        Assert.True(code is not 0, $"{name}: exit code 0");
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"{name}: expected one line on stderr, got:\n{stderr}");
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.StartsWith("video: ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal(before, dir.Entries());
    }

    /// <summary>One still of a lavfi test source, in the format its extension names.</summary>
    private static void Photo(string path, int width, int height, string lavfiSource) =>
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", $"{lavfiSource}=size={width}x{height}", "-frames:v", "1", path]);
}
