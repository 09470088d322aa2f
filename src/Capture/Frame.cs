using System.Runtime.CompilerServices;

namespace Video.Capture;

/// <summary>
/// One video frame: packed pixels in pooled memory plus its size, stride, format, index and timestamp.
/// </summary>
/// <remarks>
/// A frame is owned by exactly one party at a time. Passing a frame to a method that takes a
/// <see cref="Frame"/> (or a successful channel write) hands it over; a <see cref="Span{T}"/> borrowed
/// from <see cref="Pixels"/> is valid only until the owner disposes the frame. <see cref="Dispose"/>
/// returns the memory to its <see cref="FramePool"/> (or, for a frame rented on its own, to its
/// <see cref="FrameAllocator"/>); disposing twice is harmless. Not thread safe.
/// </remarks>
public sealed class Frame : IDisposable
{
    private readonly FramePool? _pool;
    private readonly PixelBuffer<byte> _buffer;
    private bool _rented;

    internal Frame(FramePool? pool, PixelBuffer<byte> buffer, int width, int height, PixelFormat format)
    {
        _pool = pool;
        _buffer = buffer;
        Width = width;
        Height = height;
        Format = format;
        Stride = width * format.BytesPerPixel();
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Bytes from one row to the next.</summary>
    public int Stride { get; }

    /// <summary>Pixel layout.</summary>
    public PixelFormat Format { get; }

    /// <summary>Zero-based position of the frame in its source.</summary>
    public long Index { get; set; }

    /// <summary>Presentation time relative to the start of the source.</summary>
    public TimeSpan Timestamp { get; set; }

    /// <summary>
    /// When a live source finished reading the frame, as a <see cref="System.Diagnostics.Stopwatch"/> timestamp; 0 when
    /// not stamped. Carried through stylization so the end-to-end latency is measured at the output.
    /// </summary>
    public long CaptureTimestamp { get; set; }

    /// <summary>Size in bytes of <see cref="Pixels"/>.</summary>
    public int Length => _buffer.Length;

    /// <summary>All pixel bytes, row after row.</summary>
    public Span<byte> Pixels
    {
        get
        {
            ThrowIfReturned();
            return _buffer.Span;
        }
    }

    /// <summary>The pixel bytes as memory, for asynchronous reads and writes (pinned for its lifetime).</summary>
    public Memory<byte> Memory
    {
        get
        {
            ThrowIfReturned();
            return _buffer.Memory;
        }
    }

    /// <summary>One row of pixels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Row(int y) => Pixels.Slice(y * Stride, Width * Format.BytesPerPixel());

    /// <summary>Returns the frame's memory to its pool. Harmless when called again.</summary>
    public void Dispose()
    {
        if (!_rented)
        {
            return;
        }

        _rented = false;
        if (_pool is null)
        {
            _buffer.Dispose();
        }
        else
        {
            _pool.Return(this);
        }
    }

    internal void MarkRented() => _rented = true;

    /// <summary>Gives the memory back to the allocator when the frame's pool no longer keeps it.</summary>
    internal void ReleaseBuffer() => _buffer.Dispose();

    private void ThrowIfReturned()
    {
        if (!_rented)
        {
            throw new ObjectDisposedException(nameof(Frame), "the frame was returned to its pool");
        }
    }
}
