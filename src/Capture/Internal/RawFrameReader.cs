namespace Video.Capture.Internal;

/// <summary>Reads packed frames from a raw-video pipe (ffmpeg's <c>-f rawvideo pipe:1</c>) into pooled frames.</summary>
internal static class RawFrameReader
{
    /// <summary>
    /// The next whole frame, read into a frame rented from <paramref name="pool"/> (the caller owns it); or null when the
    /// stream ended first, with the bytes of the incomplete frame (0 at a clean end).
    /// </summary>
    public static async ValueTask<(Frame? Frame, int PartialBytes)> ReadAsync(Stream stream, FramePool pool, CancellationToken cancellationToken)
    {
        var frame = await pool.RentAsync(cancellationToken).ConfigureAwait(false);
        int read;
        try
        {
            read = await stream.ReadAtLeastAsync(frame.Memory, frame.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            frame.Dispose();
            throw;
        }

        if (read == frame.Length)
        {
            return (frame, 0);
        }

        frame.Dispose();
        return (null, read);
    }
}
