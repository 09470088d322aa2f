namespace Video.Capture;

/// <summary>A producer of frames: a video file, a network stream, an image folder, a camera.</summary>
/// <remarks>
/// A source is read once, by one reader, through <see cref="ReadAllAsync"/>. Each frame it yields is handed
/// over: the reader disposes it. Not thread safe.
/// </remarks>
public interface IFrameSource : IAsyncDisposable
{
    /// <summary>Size, rate and streams of the medium.</summary>
    MediaInfo Info { get; }

    /// <summary>True for sources that produce in real time and must drop rather than wait (cameras, network streams).</summary>
    bool IsLive { get; }

    /// <summary>
    /// The frames of the medium, in order, each decoded into a frame rented from <paramref name="pool"/> and
    /// handed to the reader. Throws <see cref="MediaException"/> when the medium is corrupt or truncated.
    /// A file source waits for a free frame when the pool is exhausted; a live source's reader should
    /// drop its oldest queued frame instead (see <see cref="IsLive"/>). A source may rent one frame ahead to
    /// learn that the medium has ended, so a reader that holds every frame needs one spare in the pool.
    /// </summary>
    IAsyncEnumerable<Frame> ReadAllAsync(FramePool pool, CancellationToken cancellationToken = default);
}

/// <summary>A consumer of frames: an encoder writing a file or a stream, an image writer, a virtual camera.</summary>
/// <remarks>
/// Output is written to a temporary place and only published by <see cref="CompleteAsync"/>; disposing
/// a sink that was not completed removes everything it wrote. Not thread safe.
/// </remarks>
public interface IFrameSink : IAsyncDisposable
{
    /// <summary>Writes one frame. The frame is borrowed for the call; the caller still owns it.</summary>
    ValueTask WriteAsync(Frame frame, CancellationToken cancellationToken = default);

    /// <summary>Finishes the output and publishes it under its final name.</summary>
    Task CompleteAsync(CancellationToken cancellationToken = default);
}
