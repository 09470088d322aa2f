using Video.Tests.Shared;

namespace Video.Streaming.Tests;

/// <summary>Issue 18, cases 4 and 6: image inputs of <c>video stylize</c> are checked before they are decoded, and a folder run says what it skipped.</summary>
public sealed class StylizeHardeningTests
{
    [Fact]
    public void Stylize_PngDeclaring20000x20000_OneLineSizeErrorBeforeDecoding()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("big.png"), HugePng.Create(20000, 20000));
        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "stylize", "big.png", "-o", "out.png", "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Equal("video: error: big.png: 20000x20000 (400 Mpx) is over the image limit of 67.1 Mpx (8192x8192) with sides up to 16384; scale it down first", stderr.Trim());
        Assert.Equal(string.Empty, stdout);
        Assert.Equal(["big.png"], dir.Entries());
    }

    [Fact]
    public void Stylize_FolderWithTruncatedJpeg_SkipsItAndSaysWhy()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("photos"));
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64", "-frames:v", "1", dir.File("photos/a.png")]);
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120", "-frames:v", "1", dir.File("full.jpg")]);
        byte[] jpeg = File.ReadAllBytes(dir.File("full.jpg"));
        File.WriteAllBytes(dir.File("photos/cut.jpg"), jpeg[..(jpeg.Length * 2 / 3)]);
        File.WriteAllText(dir.File("photos/broken.png"), "not an image\n");

        var (code, stdout, stderr) = CliProcess.Run(dir.Path, "stylize", "photos", "-o", "out/", "--device", "cpu", "-q");

        Assert.True(code == 0, stderr);
        Assert.Contains("wrote out/: 1 photos", stdout, StringComparison.Ordinal);
        Assert.Contains("skipped broken.png: not a readable image", stdout, StringComparison.Ordinal);
        Assert.Contains("skipped cut.jpg: truncated JPEG (no end-of-image marker): it cannot be read whole", stdout, StringComparison.Ordinal);
        Assert.Equal(["a.png"], Directory.EnumerateFileSystemEntries(dir.File("out")).Select(Path.GetFileName));
    }

    [Fact]
    public void Stylize_TruncatedJpeg_OneLineError()
    {
        using var dir = new TempDir();
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120", "-frames:v", "1", dir.File("full.jpg")]);
        byte[] jpeg = File.ReadAllBytes(dir.File("full.jpg"));
        File.WriteAllBytes(dir.File("cut.jpg"), jpeg[..(jpeg.Length / 2)]);
        var (code, _, stderr) = CliProcess.Run(dir.Path, "stylize", "cut.jpg", "-o", "out.png", "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Equal("video: error: cut.jpg: truncated JPEG (no end-of-image marker): it cannot be read whole", stderr.Trim());
    }
}
