using System.Diagnostics;
using Video.Capture;
using Video.Tests.Shared;

namespace Video.Capture.Tests;

/// <summary>Issue 18: an output reported as written is whole (case 5), and killed runs leave nothing that piles up (case 6).</summary>
public sealed class OutputIntegrityTests : FrameLeakCheckedTest
{
    [SkippableTheory]
    [InlineData("out.mkv")]
    [InlineData("out.webm")]
    public async Task Complete_DiskFullWhileWriting_FailsAndPublishesNothing(string name)
    {
        using var dir = new TempDir();
        string mount = dir.File("full");
        Directory.CreateDirectory(mount);
        Skip.IfNot(Run("mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", mount), "cannot mount a 200 KiB tmpfs here (needs root in a container that allows mount)");
        try
        {
            var e = await Assert.ThrowsAsync<MediaException>(async () =>
            {
                await using var sink = FfmpegVideoSink.Create(Path.Combine(mount, name), 320, 240, new Rational(25, 1), null);
                using var frame = Allocator.AllocateFrame(320, 240);
                var random = new Random(18);
                for (int i = 0; i < 75; i++)
                {
                    // Noise does not compress: 75 frames are megabytes of video against 200 KiB of disk.
                    random.NextBytes(frame.Pixels);
                    await sink.WriteAsync(frame);
                }

                await sink.CompleteAsync();
            });
            Assert.StartsWith($"cannot write {Path.Combine(mount, name)}: ", e.Message, StringComparison.Ordinal);
            Assert.Contains("No space left on device", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
            Assert.Empty(Directory.EnumerateFileSystemEntries(mount));
        }
        finally
        {
            Run("umount", mount);
        }
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("frame=   75 fps=0.0 q=-0.0 Lsize=  1kB", null)]
    [InlineData("Error writing trailer of /d/.out.mkv.partial-1a2b3c4d.mkv: No space left on device", "Error writing trailer of /d/.out.mkv.partial-1a2b3c4d.mkv: No space left on device")]
    [InlineData("[matroska @ 0x1] x\nav_interleaved_write_frame(): No space left on device\nLast message repeated 16 times", "av_interleaved_write_frame(): No space left on device")]
    public void WriteError_FfmpegStderr_FindsTheWriteFailure(string stderr, string? expected)
    {
        Assert.Equal(expected, FfmpegVideoSink.WriteError(stderr));
    }

    [Fact]
    public async Task Create_StalePartialOutputsBeside_RemovesOnlyOldUnopenedOnes()
    {
        using var dir = new TempDir();
        var old = DateTime.UtcNow - TimeSpan.FromHours(1);
        string stale = Touch(dir.File(".out.mp4.partial-0123abcd.mp4"), old);
        string staleSequence = dir.File(".frames.partial-89abcdef");
        Directory.CreateDirectory(staleSequence);
        Touch(Path.Combine(staleSequence, "frame_000000.png"), old);
        Directory.SetLastWriteTimeUtc(staleSequence, old);
        string fresh = Touch(dir.File(".other.mp4.partial-11112222.mp4"), DateTime.UtcNow);
        string held = Touch(dir.File(".held.mp4.partial-33334444.mp4"), old);
        string unrelated = Touch(dir.File(".notes.partial-old.txt"), old);
        using (var open = new FileStream(held, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            await using (var sink = FfmpegVideoSink.Create(dir.File("out.mp4"), 16, 16, new Rational(25, 1), null))
            {
                using var frame = Allocator.AllocateFrame(16, 16);
                await sink.WriteAsync(frame);
                await sink.CompleteAsync();
            }
        }

        Assert.False(File.Exists(stale), "a stale partial file stayed");
        Assert.False(Directory.Exists(staleSequence), "a stale partial PNG sequence stayed");
        Assert.True(File.Exists(fresh), "a recent partial file (maybe a concurrent run's) was removed");
        Assert.True(File.Exists(held), "a partial file held open by a process was removed");
        Assert.True(File.Exists(unrelated), "a file not named like our partial outputs was removed");
        Assert.True(File.Exists(dir.File("out.mp4")));
    }

    private static string Touch(string path, DateTime writeTimeUtc)
    {
        File.WriteAllBytes(path, [1, 2, 3]);
        File.SetLastWriteTimeUtc(path, writeTimeUtc);
        return path;
    }

    private static bool Run(string tool, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in args)
            {
                psi.ArgumentList.Add(a);
            }

            using var p = Process.Start(psi)!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
