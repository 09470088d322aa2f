using System.Runtime.CompilerServices;

namespace Video.Capture;

/// <summary>
/// The default <see cref="FrameAllocator"/>: keeps returned buffers by type and length and hands them out
/// again, so runs and streams of the same size reuse memory instead of allocating it.
/// </summary>
/// <remarks>
/// Rented plus kept bytes never exceed <see cref="BudgetBytes"/>: a rent that would exceed it first drops
/// the kept buffers, then fails with <see cref="FrameBudgetException"/>. Kept buffers are also capped at
/// <see cref="RetainBytes"/>. Thread safe; renting a kept buffer allocates nothing.
/// </remarks>
public class PooledFrameAllocator : FrameAllocator
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(Type Type, int Length), Stack<object>> _kept = new();
    private long _rentedBytes;
    private long _keptBytes;
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
                if (_rentedBytes + _keptBytes + bytes > BudgetBytes)
                {
                    _kept.Clear();
                    _keptBytes = 0;
                }

                if (_rentedBytes + bytes > BudgetBytes)
                {
                    throw new FrameBudgetException(
                        $"frame memory budget exceeded: {Mib(bytes)} more would make {Mib(_rentedBytes + bytes)} of {Mib(BudgetBytes)} (use smaller frames, fewer streams or a larger budget)");
                }
            }

            _rentedBytes += bytes;
            _rentedBuffers++;
        }

        buffer ??= new PixelBuffer<T>(this, GC.AllocateUninitializedArray<T>(length, pinned: true));
        buffer.MarkRented();
        OnRented(buffer);
        return buffer;
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
            _kept.Clear();
            _keptBytes = 0;
        }
    }

    /// <summary>Called after a buffer is handed out (tests track outstanding buffers here).</summary>
    protected virtual void OnRented(object buffer)
    {
    }

    /// <summary>Called when a buffer comes back, before it is kept or dropped.</summary>
    protected virtual void OnReturned(object buffer)
    {
    }

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024):0.#} MiB";
}
