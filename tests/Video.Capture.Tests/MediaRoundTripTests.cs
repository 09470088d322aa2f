using Video.Capture;
using Video.Tests.Shared;

namespace Video.Capture.Tests;

/// <summary>Decode → encode round trips through ffmpeg, checked with ffprobe.</summary>
public class MediaRoundTripTests : FrameLeakCheckedTest
{
    public static TheoryData<string, string, string, bool> GeneratedClips => new()
    {
        { "in.mp4", "25", "out.mp4", true },
        { "in.mp4", "30000/1001", "out.webm", true },
        { "in.webm", "24", "out.mp4", true },
        { "in.mp4", "15", "out.mkv", false },
        { "in.mp4", "25", "out.mov", true },
    };

    [Theory]
    [MemberData(nameof(GeneratedClips))]
    public async Task RoundTrip_GeneratedClip_KeepsFramesRateSizeAndAudio(string input, string rate, string output, bool audio)
    {
        using var dir = new TempDir();
        string src = Media.Generate(dir.File(input), 160, 96, rate, 1.2, audio);
        await CopyAsync(src, dir.File(output));
        AssertSameShape(src, dir.File(output));
        Assert.DoesNotContain(dir.Entries(), e => e.Contains("partial", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task RoundTrip_EverySharedClip_KeepsFramesRateSizeAndAudio()
    {
        var clips = SharedData.Videos();
        Assert.NotEmpty(clips);
        using var dir = new TempDir();
        foreach (var clip in clips)
        {
            string output = dir.File(Path.GetFileNameWithoutExtension(clip) + ".mp4");
            await CopyAsync(clip, output);
            AssertSameShape(clip, output);
        }
    }

    [Fact]
    public async Task Read_GeneratedClip_TimestampsAreMonotonicAtTheFrameRate()
    {
        using var dir = new TempDir();
        string src = Media.Generate(dir.File("in.mp4"), rate: "30000/1001", seconds: 1, audio: false);
        await using var source = await FrameSources.OpenAsync(src);
        using var pool = Allocator.CreatePool(source.Info.Width, source.Info.Height, PixelFormat.Rgb24, 2);
        var times = new List<TimeSpan>();
        await foreach (var frame in source.ReadAllAsync(pool))
        {
            using (frame)
            {
                Assert.Equal(times.Count, frame.Index);
                times.Add(frame.Timestamp);
            }
        }

        Assert.Equal(30, times.Count);
        Assert.Equal(0, pool.Outstanding);
        for (int i = 1; i < times.Count; i++)
        {
            Assert.InRange((times[i] - times[i - 1]).TotalSeconds, 1001 / 30000.0 - 1e-6, 1001 / 30000.0 + 1e-6);
        }
    }

    [Fact]
    public async Task Read_DecodedPixels_MatchTheEncodedColour()
    {
        using var dir = new TempDir();
        string src = dir.File("red.mp4");
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "color=c=0xC83214:size=64x32:rate=10", "-t", "0.5", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p", src]);
        await using var source = await FrameSources.OpenAsync(src);
        using var pool = Allocator.CreatePool(64, 32, PixelFormat.Rgb24, 1);
        await using var frames = source.ReadAllAsync(pool).GetAsyncEnumerator();
        Assert.True(await frames.MoveNextAsync());
        using var frame = frames.Current;
        Assert.NotNull(frame);
        var px = frame!.Row(16).Slice(32 * 3, 3).ToArray();
        Assert.InRange(px[0], 0xC8 - 3, 0xC8 + 3);
        Assert.InRange(px[1], 0x32 - 3, 0x32 + 3);
        Assert.InRange(px[2], 0x14 - 3, 0x14 + 3);
    }

    [Fact]
    public async Task Write_PngSequence_WritesOnePngPerFrame()
    {
        using var dir = new TempDir();
        string src = Media.Generate(dir.File("in.mp4"), seconds: 0.4, audio: true);
        string outDir = dir.File("frames") + "/";
        await CopyAsync(src, outDir);
        var pngs = Directory.GetFiles(outDir, "*.png");
        Assert.Equal(10, pngs.Length);
        Assert.Contains(pngs, p => p.EndsWith("frame_000000.png", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Read_ImageFolder_YieldsEachImageResizedToTheFirst()
    {
        using var dir = new TempDir();
        string images = Directory.CreateDirectory(dir.File("imgs")).FullName;
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=1", "-frames:v", "3", Path.Combine(images, "a%02d.png")]);
        Media.Run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=1", "-frames:v", "1", Path.Combine(images, "b.jpg")]);
        File.WriteAllText(Path.Combine(images, "c.png"), "not an image");

        await using var source = await FrameSources.OpenAsync(images, new Rational(10, 1));
        using var pool = Allocator.CreatePool(64, 48, PixelFormat.Rgb24, 2);
        int n = 0;
        await foreach (var frame in source.ReadAllAsync(pool))
        {
            using (frame)
            {
                Assert.Equal(TimeSpan.FromSeconds(n / 10.0), frame.Timestamp);
                n++;
            }
        }

        Assert.Equal(4, n);
        Assert.Equal(1, ((ImageSequenceSource)source).Skipped);
    }

    internal async Task CopyAsync(string input, string output)
    {
        await using var source = await FrameSources.OpenAsync(input);
        var info = source.Info;
        await using var sink = FfmpegVideoSink.Create(output, info.Width, info.Height, info.FrameRate, info);
        using var pool = Allocator.CreatePool(info.Width, info.Height, PixelFormat.Rgb24, 2);
        await foreach (var frame in source.ReadAllAsync(pool))
        {
            using (frame)
            {
                await sink.WriteAsync(frame);
            }
        }

        await sink.CompleteAsync();
        Assert.Equal(0, pool.Outstanding);
    }

    private static void AssertSameShape(string input, string output)
    {
        var a = Media.Probe(input);
        var b = Media.Probe(output);
        string what = $"{Path.GetFileName(input)} -> {Path.GetFileName(output)}";
        Assert.True(a.Frames == b.Frames, $"{what}: {a.Frames} frames in, {b.Frames} out");
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        Assert.True(Math.Abs(a.Fps - b.Fps) < 1e-3, $"{what}: {a.Fps} fps in, {b.Fps} out");
        Assert.True(a.HasAudio == b.HasAudio, $"{what}: audio in {a.HasAudio}, out {b.HasAudio}");
        Assert.True(Math.Abs(a.Frames / a.Fps - b.Duration) <= 1.0 / a.Fps + 1e-3, $"{what}: {a.Frames / a.Fps:0.000} s of frames in, {b.Duration:0.000} s out");
        var times = Media.FrameTimes(output);
        Assert.Equal(b.Frames, times.Count);
        for (int i = 1; i < times.Count; i++)
        {
            Assert.True(times[i] > times[i - 1], $"{what}: timestamp {i} ({times[i]}) is not after {times[i - 1]}");
        }
    }
}
