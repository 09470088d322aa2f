namespace Video.Capture;

/// <summary>A producer of frames: a video file, a network stream, an image folder, a camera.</summary>
/// <remarks>Not thread safe: one reader at a time.</remarks>
public interface IFrameSource : IAsyncDisposable
{
    /// <summary>Size, rate and streams of the medium.</summary>
    MediaInfo Info { get; }

    /// <summary>True for sources that produce in real time and must drop rather than wait (cameras, network streams).</summary>
    bool IsLive { get; }

    /// <summary>
    /// Reads the next frame into a frame rented from <paramref name="pool"/> and hands it to the caller;
    /// returns null at the end. Throws <see cref="MediaException"/> when the medium is corrupt or truncated.
    /// </summary>
    ValueTask<Frame?> ReadAsync(FramePool pool, CancellationToken cancellationToken = default);
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
