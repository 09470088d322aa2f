using Video.Capture;
using Video.Inference;
using Video.Tests.Shared;

namespace Video.Inference.Tests;

public class StylizeJobTests : FrameLeakCheckedTest
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task RunAsync_VideoWithFrameLimitAndNoAudio_WritesOnlyThoseFramesStylizedAndNoAudio()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 160, 96, "25", 1.6, audio: true);
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir, gain: 0f, bias: 0.5f), new StylizerOptions { Device = Device.Cpu });
        var job = new StylizeJob(clip, dir.File("out.mp4")) { Allocator = Allocator, MaxFrames = 10, KeepAudio = false };

        var result = await job.RunAsync(stylizer).WaitAsync(Timeout);

        Assert.Equal(10, result.Stats.FramesOut);
        Assert.Equal((160, 96), (result.Width, result.Height));
        Assert.Equal((160, 96), result.TensorSize);
        Assert.Equal(25, result.FrameRate.Value, 3);
        Assert.Null(result.Photos);
        var probe = Media.Probe(dir.File("out.mp4"));
        Assert.Equal(10, probe.Frames);
        Assert.False(probe.HasAudio);

        // The model maps every pixel to mid grey, so the output must be flat grey (within H.264's rounding), not the test pattern.
        await using var source = await FrameSources.OpenAsync(dir.File("out.mp4"));
        using var pool = Allocator.CreatePool(160, 96, PixelFormat.Rgb24, 2);
        await using var frames = source.ReadAllAsync(pool).GetAsyncEnumerator();
        Assert.True(await frames.MoveNextAsync());
        using var frame = frames.Current;
        Assert.NotNull(frame);
        Assert.All(frame.Pixels.ToArray(), b => Assert.InRange(b, 122, 134));
    }

    [Fact]
    public async Task RunAsync_VideoByDefault_KeepsEveryFrameAndTheAudio()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 96, 64, "25", 0.8, audio: true);
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu });

        var result = await new StylizeJob(clip, dir.File("out.mkv")) { Allocator = Allocator }.RunAsync(stylizer).WaitAsync(Timeout);

        var probe = Media.Probe(dir.File("out.mkv"));
        Assert.Equal(20, result.Stats.FramesOut);
        Assert.Equal(20, probe.Frames);
        Assert.True(probe.HasAudio);
    }

    [Fact]
    public async Task RunAsync_PhotoFolder_WritesEachPhotoAtItsOwnSizeUnderItsOwnName()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("photos"));
        Photo(dir.File("photos/a.png"), 40, 30);
        Photo(dir.File("photos/b.jpg"), 24, 48);
        File.WriteAllText(dir.File("photos/broken.png"), "not an image\n");
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir, gain: 0f, bias: 0.5f), new StylizerOptions { Device = Device.Cpu });
        var job = new StylizeJob(dir.File("photos"), dir.File("out") + "/") { Allocator = Allocator };

        Assert.True(job.IsPhotoFolder);
        var result = await job.RunAsync(stylizer).WaitAsync(Timeout);

        Assert.NotNull(result.Photos);
        Assert.Equal(["a.png", "b.jpg"], result.Photos.Written);
        Assert.Equal(["broken.png"], result.Photos.Skipped);
        Assert.Equal(2, result.Stats.FramesOut);
        using (var a = FrameMats.LoadRgb(dir.File("out/a.png"), Allocator))
        {
            Assert.Equal((40, 30), (a.Width, a.Height));
            Assert.All(a.Pixels.ToArray(), b => Assert.InRange(b, 127, 128));
        }

        using var jpg = FrameMats.LoadRgb(dir.File("out/b.jpg"), Allocator);
        Assert.Equal((24, 48), (jpg.Width, jpg.Height));
    }

    [Fact]
    public async Task RunAsync_SequenceFolder_WritesOneVideoOfEveryImageAtTheFirstOnesSize()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("frames"));
        Photo(dir.File("frames/f1.png"), 64, 48);
        Photo(dir.File("frames/f2.png"), 64, 48);
        Photo(dir.File("frames/f3.png"), 32, 80);
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu });
        var job = new StylizeJob(dir.File("frames"), dir.File("clip.mp4")) { Allocator = Allocator, Sequence = true, ImageRate = new Rational(10, 1) };

        Assert.False(job.IsPhotoFolder);
        var result = await job.RunAsync(stylizer).WaitAsync(Timeout);

        var probe = Media.Probe(dir.File("clip.mp4"));
        Assert.Equal(3, result.Stats.FramesOut);
        Assert.Equal((3L, 64, 48), (probe.Frames, probe.Width, probe.Height));
        Assert.Equal(10, probe.Fps, 3);
    }

    [Fact]
    public void Validate_BadCombinations_ThrowWithTheReasonAndWriteNothing()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 64, 48, "25", 0.2, audio: false);
        Directory.CreateDirectory(dir.File("photos"));
        Photo(dir.File("photos/a.png"), 16, 16);

        Assert.Contains("is not a folder", Assert.Throws<VideoException>(() => new StylizeJob(clip, dir.File("o.mp4")) { Sequence = true }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("use -o DIR/", Assert.Throws<VideoException>(() => new StylizeJob(dir.File("photos"), dir.File("o.mp4")).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("add --sequence", Assert.Throws<VideoException>(() => new StylizeJob(dir.File("photos"), dir.File("o") + "/") { ImageRate = new Rational(5, 1) }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("not positive", Assert.Throws<VideoException>(() => new StylizeJob(clip, dir.File("o.mp4")) { MaxFrames = 0 }.Validate()).Message, StringComparison.Ordinal);
        Assert.ThrowsAny<VideoException>(() => new StylizeJob(dir.File("missing.mp4"), dir.File("o.mp4")).ValidateInput());
        Assert.ThrowsAny<VideoException>(() => new StylizeJob(clip, dir.File("o.xyz")).Validate());
        Assert.Equal(["in.mp4", "photos"], dir.Entries());
    }

    [Fact]
    public async Task RunAsync_StyleImagesForAModelWithItsStyleBuiltIn_ThrowsBeforeWriting()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 64, 48, "25", 0.2, audio: false);
        Photo(dir.File("style.png"), 16, 16);
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu });
        var job = new StylizeJob(clip, dir.File("out.mp4")) { Allocator = Allocator, StyleImages = [(dir.File("style.png"), 1f)] };

        var e = await Assert.ThrowsAsync<VideoException>(() => job.RunAsync(stylizer).WaitAsync(Timeout));

        Assert.Contains("--style needs an AdaIN model", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("out.mp4")));
    }

    [Fact]
    public async Task RunOverStylizedAsync_ClipStylizedEarlier_FiltersEveryFrameAndCountsBlends()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 96, 64, "25", 0.8, audio: false);
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu });
        await new StylizeJob(clip, dir.File("styled.mp4")) { Allocator = Allocator }.RunAsync(stylizer).WaitAsync(Timeout);
        var ema = new Video.Inference.Temporal.TemporalOptions { Mode = Video.Inference.Temporal.TemporalMode.Ema };

        var result = await new StylizeJob(clip, dir.File("filtered.mp4")) { Allocator = Allocator, Pipeline = new PipelineOptions { Temporal = ema } }
            .RunOverStylizedAsync(dir.File("styled.mp4")).WaitAsync(Timeout);

        Assert.Equal(20, result.Stats.FramesOut);
        Assert.Equal(20, Media.Probe(dir.File("filtered.mp4")).Frames);
        Assert.InRange(result.FramesBlended, 1, 20);
        Assert.Contains(result.Stats.StageMilliseconds(), s => s.Stage == "temporal");
    }

    [Fact]
    public async Task RunOverStylizedAsync_ClipsOfDifferentSizes_ThrowsAndWritesNothing()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 96, 64, "25", 0.2, audio: false);
        string other = Media.Generate(dir.File("other.mp4"), 64, 48, "25", 0.2, audio: false);

        var e = await Assert.ThrowsAsync<VideoException>(() => new StylizeJob(clip, dir.File("out.mp4")) { Allocator = Allocator }.RunOverStylizedAsync(other).WaitAsync(Timeout));

        Assert.Contains("is 64x48 but", e.Message, StringComparison.Ordinal);
        Assert.Equal(["in.mp4", "other.mp4"], dir.Entries());
    }

    [Theory]
    [InlineData("clip.mp4", false, "clip-toon.mp4")]
    [InlineData("photo.png", false, "photo-toon.png")]
    [InlineData("rtsp://camera/live", false, "stream-toon.mp4")]
    public void DefaultOutput_ByInputKind_NamesInputAndModel(string input, bool sequence, string expected) =>
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, expected), StylizeJob.DefaultOutput(input, "toon", sequence));

    [Fact]
    public void DefaultOutput_Folder_IsAFolderUnlessReadAsASequence()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("photos"));
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "photos-toon/"), StylizeJob.DefaultOutput(dir.File("photos"), "toon", sequence: false));
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "photos-toon.mp4"), StylizeJob.DefaultOutput(dir.File("photos") + "/", "toon", sequence: true));
    }

    private static void Photo(string path, int width, int height) =>
        Media.Run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", $"testsrc2=size={width}x{height}", "-frames:v", "1", path]);
}
