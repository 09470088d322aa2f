namespace Video.Capture;

/// <summary>
/// A bounded pool of same-sized frames. Every frame a pipeline touches comes from here, so once the
/// pool is warm a run allocates no pixel memory per frame.
/// </summary>
/// <remarks>
/// Thread safe. <see cref="RentAsync"/> waits while all <see cref="Capacity"/> frames are out, which is
/// what bounds memory when a producer outruns its consumers. <see cref="Outstanding"/> counts frames
/// rented and not yet disposed; tests assert it is zero after a run to catch leaks.
/// </remarks>
public sealed class FramePool : IDisposable
{
    private readonly Stack<Frame> _free;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _available;
    private int _created;
    private int _outstanding;

    public FramePool(int width, int height, PixelFormat format, int capacity)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"frame size {width}x{height} is not positive");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
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

    public void Dispose() => _available.Dispose();

    internal void Return(Frame frame)
    {
        frame.Index = 0;
        frame.Timestamp = TimeSpan.Zero;
        lock (_gate)
        {
            _free.Push(frame);
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
            Interlocked.Increment(ref _created);
            frame = new Frame(this, Width, Height, Format);
        }

        frame.MarkRented();
        Interlocked.Increment(ref _outstanding);
        return frame;
    }
}
