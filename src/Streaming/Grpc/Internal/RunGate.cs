using Microsoft.Extensions.Options;

namespace Video.Streaming.Grpc.Internal;

/// <summary>
/// Bounds the frame pixels in large model runs at once (<see cref="StreamingOptions.RunPixels"/>): a run of P pixels
/// waits until P more fit; runs under an eighth of the capacity go by. ONNX Runtime's working memory for a run grows
/// with its pixels (server sessions give it back after each run, <c>StylizerOptions.ReleaseRunMemory</c>); the memory
/// budget counts it (<see cref="ModelHost.EnterRunAsync(long, CancellationToken)"/>), and this gate keeps the large
/// runs from crowding each other and the small ones (docs/reliability.md, item 8).
/// </summary>
/// <remarks>
/// First come, first served: a run waits while an earlier one is waiting, so a large run is not overtaken for good by
/// small ones. A run larger than the capacity takes all of it. Dispose the lease when the run is done. Thread safe.
/// </remarks>
internal sealed class RunGate
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _waiting = new();
    private long _inUse;
    private long _peak;
    private long _entered;
    private long _bypassed;

    public RunGate(IOptions<StreamingOptions> options)
        : this(options.Value.RunPixels ?? ((long)options.Value.MaxFrameWidth * options.Value.MaxFrameHeight))
    {
    }

    internal RunGate(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    /// <summary>Pixels that may be in runs at once.</summary>
    public long Capacity { get; }

    /// <summary>Pixels in runs now.</summary>
    public long InUse
    {
        get
        {
            lock (_gate)
            {
                return _inUse;
            }
        }
    }

    /// <summary>The most pixels that were in runs at once.</summary>
    public long PeakInUse => Interlocked.Read(ref _peak);

    /// <summary>Runs let in so far (small runs not counted).</summary>
    public long Entered => Interlocked.Read(ref _entered);

    /// <summary>Small runs that went by without waiting.</summary>
    public long Bypassed => Interlocked.Read(ref _bypassed);

    /// <summary>Runs below this many pixels (an eighth of the capacity) do not wait: their working memory is small, and
    /// holding them behind a large run starved live streams of small frames (docs/reliability.md, item 8).</summary>
    public long SmallRun => Capacity / 8;

    /// <summary>Waits until a run of <paramref name="pixels"/> fits (small runs never wait); the lease gives them back when disposed.</summary>
    public async ValueTask<Lease> EnterAsync(long pixels, CancellationToken cancellationToken)
    {
        if (pixels < SmallRun)
        {
            Interlocked.Increment(ref _bypassed);
            return new Lease(this, 0);
        }

        long take = Math.Clamp(pixels, 1, Capacity);
        Waiter waiter;
        lock (_gate)
        {
            if (_waiting.Count == 0 && _inUse + take <= Capacity)
            {
                TakeLocked(take);
                return new Lease(this, take);
            }

            waiter = new Waiter(take);
            waiter.Node = _waiting.AddLast(waiter);
        }

        using (cancellationToken.Register(() => Cancel(waiter, cancellationToken)))
        {
            await waiter.Granted.Task.ConfigureAwait(false);
        }

        return new Lease(this, take);
    }

    private void TakeLocked(long take)
    {
        _inUse += take;
        _entered++;
        if (_inUse > _peak)
        {
            Interlocked.Exchange(ref _peak, _inUse);
        }
    }

    private void Cancel(Waiter waiter, CancellationToken cancellationToken)
    {
        List<Waiter> granted;
        lock (_gate)
        {
            if (waiter.Node?.List is null)
            {
                return; // already let in: the caller gets its lease and disposes it
            }

            _waiting.Remove(waiter.Node);
            waiter.Node = null;
            granted = GrantLocked(); // the head may have been what held the others back
        }

        waiter.Granted.TrySetCanceled(cancellationToken);
        granted.ForEach(w => w.Granted.TrySetResult());
    }

    private void Release(long take)
    {
        List<Waiter> granted;
        lock (_gate)
        {
            _inUse -= take;
            granted = GrantLocked();
        }

        granted.ForEach(w => w.Granted.TrySetResult());
    }

    private List<Waiter> GrantLocked()
    {
        var granted = new List<Waiter>();
        while (_waiting.First is { } head && _inUse + head.Value.Take <= Capacity)
        {
            _waiting.RemoveFirst();
            head.Value.Node = null;
            TakeLocked(head.Value.Take);
            granted.Add(head.Value);
        }

        return granted;
    }

    /// <summary>A run's hold on its pixels; disposing it (once is enough, more is harmless) lets the next runs in.</summary>
    internal sealed class Lease(RunGate gate, long pixels) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0 && pixels > 0)
            {
                gate.Release(pixels);
            }
        }
    }

    private sealed class Waiter(long take)
    {
        public long Take { get; } = take;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }
    }
}
