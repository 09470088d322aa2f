using Video.Capture;

namespace Video.Tests.Shared;

/// <summary>
/// What every <see cref="IFrameSource"/> promises, run against each implementation by a subclass that opens
/// one: frames in order at the declared size, each handed over to the reader, none kept when the reader stops
/// early or cancels, and cancellation honoured.
/// </summary>
public abstract class FrameSourceContract : FrameLeakCheckedTest
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);
    private readonly TempDir _dir = new();

    /// <summary>Opens a source of exactly <see cref="Frames"/> frames of <see cref="Width"/> x <see cref="Height"/>.</summary>
    protected abstract Task<IFrameSource> OpenAsync(TempDir dir);

    protected virtual int Frames => 5;

    protected virtual int Width => 48;

    protected virtual int Height => 32;

    [SkippableFact]
    public async Task ReadAllAsync_ToTheEnd_YieldsEveryFrameInOrderAtTheDeclaredSize()
    {
        await using var source = await OpenAsync(_dir);
        Assert.Equal((Width, Height), (source.Info.Width, source.Info.Height));
        using var pool = Allocator.CreatePool(Width, Height, PixelFormat.Rgb24, 2);
        var indices = new List<long>();
        var last = TimeSpan.MinValue;
        await foreach (var frame in source.ReadAllAsync(pool).WithCancellation(CancellationToken.None))
        {
            using (frame)
            {
                Assert.Equal((Width, Height, PixelFormat.Rgb24), (frame.Width, frame.Height, frame.Format));
                Assert.True(frame.Timestamp > last, $"frame {frame.Index} at {frame.Timestamp} does not follow {last}");
                last = frame.Timestamp;
                indices.Add(frame.Index);
            }
        }

        Assert.Equal(Enumerable.Range(0, Frames).Select(i => (long)i), indices);
        Assert.Equal(0, pool.Outstanding);
    }

    [SkippableFact]
    public async Task ReadAllAsync_ReaderHoldsFrames_EachFrameIsItsOwn()
    {
        await using var source = await OpenAsync(_dir);
        // One more than the frames: a decoder rents a frame before it learns that the stream has ended.
        using var pool = Allocator.CreatePool(Width, Height, PixelFormat.Rgb24, Frames + 1);
        var held = new List<Frame>();
        try
        {
            await foreach (var frame in source.ReadAllAsync(pool))
            {
                held.Add(frame);
            }

            Assert.Equal(Frames, held.Count);
            Assert.Equal(Frames, held.Distinct().Count());
            Assert.Equal(Frames, pool.Outstanding);
        }
        finally
        {
            held.ForEach(f => f.Dispose());
        }
    }

    [SkippableFact]
    public async Task ReadAllAsync_ReaderStopsEarly_KeepsNoFrame()
    {
        await using var source = await OpenAsync(_dir);
        using var pool = Allocator.CreatePool(Width, Height, PixelFormat.Rgb24, 2);
        int read = 0;
        await foreach (var frame in source.ReadAllAsync(pool))
        {
            frame.Dispose();
            if (++read == 2)
            {
                break;
            }
        }

        Assert.Equal(2, read);
        Assert.Equal(0, pool.Outstanding);
    }

    [SkippableFact]
    public async Task ReadAllAsync_Cancelled_ThrowsAndKeepsNoFrame()
    {
        await using var source = await OpenAsync(_dir);
        using var pool = Allocator.CreatePool(Width, Height, PixelFormat.Rgb24, 2);
        using var cts = new CancellationTokenSource();
        int read = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var frame in source.ReadAllAsync(pool).WithCancellation(cts.Token))
            {
                frame.Dispose();
                if (++read == 1)
                {
                    await cts.CancelAsync();
                }
            }
        }).WaitAsync(Timeout);

        Assert.Equal(1, read);
        Assert.Equal(0, pool.Outstanding);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _dir.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// What every <see cref="IFrameSink"/> promises, run against each implementation by a subclass that creates
/// one: frames are borrowed, output appears only once completed, and a sink disposed without completing
/// leaves nothing behind.
/// </summary>
public abstract class FrameSinkContract : FrameLeakCheckedTest
{
    private readonly TempDir _dir = new();

    protected const int Width = 48;

    protected const int Height = 32;

    /// <summary>Where the sink publishes its output in <paramref name="dir"/>.</summary>
    protected abstract string OutputPath(TempDir dir);

    protected abstract IFrameSink Create(string outputPath);

    /// <summary>The frames the published output holds.</summary>
    protected abstract long CountFrames(string outputPath);

    [SkippableFact]
    public async Task WriteAsync_ThenComplete_PublishesEveryFrameAndLeavesFramesWithTheCaller()
    {
        string path = OutputPath(_dir);
        await using (var sink = Create(path))
        {
            for (int i = 0; i < 3; i++)
            {
                using var frame = Allocator.AllocateFrame(Width, Height);
                frame.Pixels.Fill((byte)(40 * i));
                frame.Index = i;
                await sink.WriteAsync(frame);

                // Borrowed for the call: the frame is still the caller's.
                Assert.Equal((byte)(40 * i), frame.Pixels[0]);
            }

            Assert.False(Exists(path));
            await sink.CompleteAsync();
        }

        Assert.True(Exists(path));
        Assert.Equal(3L, CountFrames(path));
    }

    [SkippableFact]
    public async Task DisposeAsync_NotCompleted_LeavesNothingBehind()
    {
        string path = OutputPath(_dir);
        await using (var sink = Create(path))
        {
            using var frame = Allocator.AllocateFrame(Width, Height);
            frame.Pixels.Clear();
            await sink.WriteAsync(frame);
        }

        Assert.False(Exists(path));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(path))!));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _dir.Dispose();
        }

        base.Dispose(disposing);
    }

    private static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);
}
