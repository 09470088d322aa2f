using Video.Capture;
using Video.Tests.Shared;

namespace Video.Capture.Tests;

public class BadInputTests : FrameLeakCheckedTest
{
    [Fact]
    public async Task Open_MissingInput_ThrowsWithThePath()
    {
        var e = await Assert.ThrowsAsync<MediaException>(() => FrameSources.OpenAsync("/nonexistent/clip.mp4"));
        Assert.Equal("input not found: /nonexistent/clip.mp4", e.Message);
    }

    [Fact]
    public async Task Open_TextFileNamedMp4_ThrowsNotAVideo()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("notes.mp4"), "hello, this is not a video\n");
        var e = await Assert.ThrowsAsync<MediaException>(() => FrameSources.OpenAsync(dir.File("notes.mp4")));
        Assert.Contains("Invalid data", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task Open_EmptyFile_Throws()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("empty.mp4"), []);
        var e = await Assert.ThrowsAsync<MediaException>(() => FrameSources.OpenAsync(dir.File("empty.mp4")));
        Assert.StartsWith("input is empty", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_TruncatedVideo_ThrowsAndCountsTheFrames()
    {
        using var dir = new TempDir();
        string src = Media.Generate(dir.File("full.mp4"), 320, 240, "25", 2, audio: false);
        byte[] bytes = File.ReadAllBytes(src);
        // Keep the header (faststart puts moov first) and cut the media data in half.
        Media.Run("ffmpeg", ["-v", "error", "-i", src, "-c", "copy", "-movflags", "+faststart", dir.File("fs.mp4")]);
        bytes = File.ReadAllBytes(dir.File("fs.mp4"));
        File.WriteAllBytes(dir.File("cut.mp4"), bytes[..(bytes.Length / 2)]);

        var e = await Assert.ThrowsAsync<MediaException>(() => DrainAsync(dir.File("cut.mp4")));
        Assert.Matches(@"truncated or corrupt: decoded \d+ of 50 frames", e.Message);
    }

    [Fact]
    public async Task Read_TruncatedWebm_Throws()
    {
        using var dir = new TempDir();
        string src = Media.Generate(dir.File("full.webm"), 320, 240, "25", 3, audio: false);
        byte[] bytes = File.ReadAllBytes(src);
        File.WriteAllBytes(dir.File("cut.webm"), bytes[..(bytes.Length / 2)]);
        var e = await Assert.ThrowsAsync<MediaException>(() => DrainAsync(dir.File("cut.webm")));
        Assert.Contains("truncated or corrupt", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_TruncatedHeader_Throws()
    {
        using var dir = new TempDir();
        string src = Media.Generate(dir.File("full.mp4"), audio: false);
        byte[] bytes = File.ReadAllBytes(src);
        File.WriteAllBytes(dir.File("cut.mp4"), bytes[..(bytes.Length / 3)]);
        await Assert.ThrowsAsync<MediaException>(() => DrainAsync(dir.File("cut.mp4")));
    }

    [Fact]
    public void Create_OutputInMissingDirectory_ThrowsAndWritesNothing()
    {
        var e = Assert.Throws<MediaException>(() => FfmpegVideoSink.Create("/nonexistent-dir/out.mp4", 16, 16, new Rational(25, 1), null));
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_OutputUnderAFile_ThrowsUnwritable()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("plain"), "x");
        var e = Assert.Throws<MediaException>(() => FfmpegVideoSink.Create(dir.File("plain") + "/out.mp4", 16, 16, new Rational(25, 1), null));
        Assert.StartsWith("cannot write", e.Message, StringComparison.Ordinal);
        Assert.Equal(["plain"], dir.Entries());
    }

    [Fact]
    public void Create_OutputInReadOnlyDirectory_Throws()
    {
        // /proc refuses new files even for root.
        var e = Assert.Throws<MediaException>(() => FfmpegVideoSink.Create("/proc/out.mp4", 16, 16, new Rational(25, 1), null));
        Assert.StartsWith("cannot write /proc/out.mp4", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_OutputEqualsInput_Throws()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("clip.mp4"), audio: false, seconds: 0.2);
        var info = new MediaInfo(clip, 160, 96, new Rational(25, 1), 5, null, "h264", null);
        var e = Assert.Throws<MediaException>(() => FfmpegVideoSink.Create(dir.File("./clip.mp4"), 160, 96, info.FrameRate, info));
        Assert.Contains("is the input", e.Message, StringComparison.Ordinal);
        Assert.Equal(["clip.mp4"], dir.Entries());
    }

    [Fact]
    public void Create_UnknownExtension_Throws()
    {
        var e = Assert.Throws<MediaException>(() => FfmpegVideoSink.Create("/tmp/out.xyz", 16, 16, new Rational(25, 1), null));
        Assert.Contains("unsupported output type '.xyz'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dispose_WithoutComplete_LeavesNothingBehind()
    {
        using var dir = new TempDir();
        await using (var sink = FfmpegVideoSink.Create(dir.File("out.mp4"), 16, 16, new Rational(25, 1), null))
        {
            using var frame = Allocator.AllocateFrame(16, 16);
            await sink.WriteAsync(frame);
        }

        Assert.Empty(dir.Entries());
    }

    private async Task DrainAsync(string path)
    {
        await using var source = await FrameSources.OpenAsync(path);
        using var pool = Allocator.CreatePool(source.Info.Width, source.Info.Height, PixelFormat.Rgb24, 2);
        await foreach (var frame in source.ReadAllAsync(pool))
        {
            frame.Dispose();
        }
    }
}
