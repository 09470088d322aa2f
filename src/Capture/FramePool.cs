namespace Video.Capture;

/// <summary>
/// A bounded pool of same-sized frames. Every frame a pipeline touches comes from here, so once the
/// pool is warm a run allocates no pixel memory per frame.
/// </summary>
/// <remarks>
/// Thread safe. <see cref="RentAsync"/> waits while all <see cref="Capacity"/> frames are out, which is
/// what bounds memory when a producer outruns its consumers. The memory comes from a
/// <see cref="FrameAllocator"/> (<see cref="FrameAllocator.CreatePool"/>); <see cref="Dispose"/> gives back
/// the free frames' memory, and frames still out give theirs back when they are disposed, so a leak-checking
/// allocator reports any frame that was never returned.
/// </remarks>
public sealed class FramePool : IDisposable
{
    private readonly Stack<Frame> _free;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _available;
    private readonly FrameAllocator _allocator;
    private int _created;
    private int _outstanding;
    private bool _disposed;

    internal FramePool(FrameAllocator allocator, int width, int height, PixelFormat format, int capacity)
    {
        FrameAllocator.CheckSize(width, height);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _allocator = allocator;
        Width = width;
        Height = height;
        Format = format;
        Capacity = capacity;
        _available = new SemaphoreSlim(capacity, capacity);
        _free = new Stack<Frame>(capacity);
    }

    public int Width { get; }

    public int Height { get; }

    public PixelFormat Format { get; }

    /// <summary>The most frames that can be rented at once.</summary>
    public int Capacity { get; }

    /// <summary>Frames rented and not yet returned.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>Frames allocated so far (at most <see cref="Capacity"/>).</summary>
    public int Created => Volatile.Read(ref _created);

    /// <summary>Rents a frame, waiting while the pool is exhausted. The caller owns the frame.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Frame> RentAsync(CancellationToken cancellationToken = default)
    {
        if (!_available.Wait(0))
        {
            await _available.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return Take();
    }

    /// <summary>Rents a frame if one is free now.</summary>
    public bool TryRent(out Frame? frame)
    {
        if (!_available.Wait(0))
        {
            frame = null;
            return false;
        }

        frame = Take();
        return true;
    }

    /// <summary>Gives the free frames' memory back to the allocator; frames still out give theirs back when disposed.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            while (_free.TryPop(out var frame))
            {
                frame.ReleaseBuffer();
            }
        }
    }

    internal void Return(Frame frame)
    {
        frame.Index = 0;
        frame.Timestamp = TimeSpan.Zero;
        frame.CaptureTimestamp = 0;
        lock (_gate)
        {
            if (_disposed)
            {
                frame.ReleaseBuffer();
            }
            else
            {
                _free.Push(frame);
            }
        }

        Interlocked.Decrement(ref _outstanding);
        _available.Release();
    }

    private Frame Take()
    {
        Frame? frame;
        lock (_gate)
        {
            _free.TryPop(out frame);
        }

        if (frame is null)
        {
            PixelBuffer<byte> buffer;
            try
            {
                buffer = _allocator.Allocate<byte>(Width * Format.BytesPerPixel() * Height);
            }
            catch
            {
                _available.Release();
                throw;
            }

            Interlocked.Increment(ref _created);
            frame = new Frame(this, buffer, Width, Height, Format);
        }

        frame.MarkRented();
        Interlocked.Increment(ref _outstanding);
        return frame;
    }
}
