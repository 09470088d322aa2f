using System.Runtime.CompilerServices;

namespace Video.Capture;

/// <summary>
/// The default <see cref="FrameAllocator"/>: keeps returned buffers by type and length and hands them out
/// again, so runs and streams of the same size reuse memory instead of allocating it.
/// </summary>
/// <remarks>
/// Rented plus reserved plus kept bytes never exceed <see cref="BudgetBytes"/>: a rent or reservation that would
/// exceed it first drops the kept buffers, then fails with <see cref="FrameBudgetException"/>. Kept buffers are also capped at
/// <see cref="RetainBytes"/>. Thread safe; renting a kept buffer allocates nothing.
/// </remarks>
public class PooledFrameAllocator : FrameAllocator
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(Type Type, int Length), Stack<object>> _kept = new();
    private long _rentedBytes;
    private long _keptBytes;
    private long _reservedBytes;
    private long _droppedBytes;
    private int _rentedBuffers;

    /// <summary>Creates an allocator; <paramref name="budgetBytes"/> defaults to <see cref="DefaultBudgetBytes"/>.</summary>
    public PooledFrameAllocator(long? budgetBytes = null, long? retainBytes = null)
    {
        BudgetBytes = budgetBytes ?? DefaultBudgetBytes();
        ArgumentOutOfRangeException.ThrowIfLessThan(BudgetBytes, 1, nameof(budgetBytes));
        RetainBytes = Math.Min(retainBytes ?? BudgetBytes / 2, BudgetBytes);
    }

    public override long BudgetBytes { get; }

    /// <summary>The most bytes of returned buffers kept for reuse.</summary>
    public long RetainBytes { get; }

    public override long BytesRented => Interlocked.Read(ref _rentedBytes);

    public override int BuffersRented => Volatile.Read(ref _rentedBuffers);

    /// <summary>Bytes of returned buffers kept for reuse.</summary>
    public long BytesKept => Interlocked.Read(ref _keptBytes);

    /// <summary>Three quarters of the memory available to the process (its container limit, if any).</summary>
    public static long DefaultBudgetBytes() => Math.Max(256L << 20, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4 * 3);

    public sealed override PixelBuffer<T> Allocate<T>(int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        long bytes = (long)length * Unsafe.SizeOf<T>();
        PixelBuffer<T>? buffer = null;
        lock (_gate)
        {
            if (_kept.TryGetValue((typeof(T), length), out var stack) && stack.TryPop(out var kept))
            {
                buffer = (PixelBuffer<T>)kept;
                _keptBytes -= bytes;
            }
            else
            {
                MakeRoomLocked(bytes, "frame memory budget exceeded");
            }

            _rentedBytes += bytes;
            _rentedBuffers++;
        }

        buffer ??= new PixelBuffer<T>(this, GC.AllocateUninitializedArray<T>(length, pinned: true));
        buffer.MarkRented();
        OnRented(buffer);
        return buffer;
    }

    public sealed override IDisposable Reserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_gate)
        {
            MakeRoomLocked(bytes, "memory budget exceeded by a model run's working memory");
            _rentedBytes += bytes;
            _reservedBytes += bytes;
        }

        return new Reservation(this, bytes);
    }

    /// <summary>Bytes reserved by <see cref="Reserve"/> and not yet given back (part of <see cref="BytesRented"/>).</summary>
    public long BytesReserved => Interlocked.Read(ref _reservedBytes);

    /// <summary>Drops the kept buffers when <paramref name="bytes"/> more would not fit beside them; throws when they do not fit at all.</summary>
    private void MakeRoomLocked(long bytes, string failure)
    {
        if (_rentedBytes + _keptBytes + bytes > BudgetBytes)
        {
            DropKeptLocked();
        }

        if (_rentedBytes + bytes > BudgetBytes)
        {
            throw new FrameBudgetException(
                $"{failure}: {Mib(bytes)} more would make {Mib(_rentedBytes + bytes)} of {Mib(BudgetBytes)} (use smaller frames, fewer streams or a larger budget)");
        }
    }

    private void Unreserve(long bytes)
    {
        lock (_gate)
        {
            _rentedBytes -= bytes;
            _reservedBytes -= bytes;
        }
    }

    protected internal sealed override void Return<T>(PixelBuffer<T> buffer)
    {
        OnReturned(buffer);
        long bytes = buffer.ByteLength;
        lock (_gate)
        {
            _rentedBytes -= bytes;
            _rentedBuffers--;
            if (_keptBytes + bytes <= RetainBytes)
            {
                var key = (typeof(T), buffer.Length);
                if (!_kept.TryGetValue(key, out var stack))
                {
                    stack = new Stack<object>();
                    _kept[key] = stack;
                }

                stack.Push(buffer);
                _keptBytes += bytes;
            }
        }
    }

    /// <summary>Drops every kept buffer (the memory goes back to the garbage collector).</summary>
    public void Trim()
    {
        lock (_gate)
        {
            DropKeptLocked();
        }
    }

    /// <summary>Bytes of kept buffers dropped so far (to make room or by <see cref="Trim"/>): garbage until the next full collection.</summary>
    public long BytesDropped => Interlocked.Read(ref _droppedBytes);

    private void DropKeptLocked()
    {
        _kept.Clear();
        _droppedBytes += _keptBytes;
        _keptBytes = 0;
    }

    /// <summary>Called after a buffer is handed out (tests track outstanding buffers here).</summary>
    protected virtual void OnRented(object buffer)
    {
    }

    /// <summary>Called when a buffer comes back, before it is kept or dropped.</summary>
    protected virtual void OnReturned(object buffer)
    {
    }

    private sealed class Reservation(PooledFrameAllocator owner, long bytes) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Unreserve(bytes);
            }
        }
    }

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024):0.#} MiB";
}
