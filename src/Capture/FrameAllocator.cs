using System.Runtime.CompilerServices;

namespace Video.Capture;

/// <summary>
/// The one source of pixel and tensor memory: frames, frame pools, tensor slots and encode buffers all
/// rent their buffers here, under one budget.
/// </summary>
/// <remarks>
/// A buffer is owned by whoever holds its <see cref="PixelBuffer{T}"/>; disposing it gives the memory back.
/// Buffers are pinned, so their addresses may be handed to native code (OpenCV, ONNX Runtime) for as long
/// as the buffer is held. Implementations are thread safe. The host registers one instance with
/// <c>AddCapture()</c>; code that runs outside a host uses <see cref="Default"/>.
/// </remarks>
public abstract class FrameAllocator
{
    private static FrameAllocator _default = new PooledFrameAllocator();

    /// <summary>The process-wide allocator used where none is passed in.</summary>
    public static FrameAllocator Default
    {
        get => Volatile.Read(ref _default);
        set => Volatile.Write(ref _default, value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>The most bytes that may be held at once (rented plus kept for reuse).</summary>
    public abstract long BudgetBytes { get; }

    /// <summary>Bytes rented and not yet returned.</summary>
    public abstract long BytesRented { get; }

    /// <summary>Buffers rented and not yet returned.</summary>
    public abstract int BuffersRented { get; }

    /// <summary>
    /// Rents a pinned buffer of exactly <paramref name="length"/> elements (contents undefined). Throws
    /// <see cref="FrameBudgetException"/> when it would take the allocator over its budget.
    /// </summary>
    public abstract PixelBuffer<T> Allocate<T>(int length)
        where T : unmanaged;

    /// <summary>
    /// Counts <paramref name="bytes"/> of memory the caller takes elsewhere (ONNX Runtime's working memory for a run)
    /// against the budget until the returned lease is disposed, so frames and that memory together stay within it.
    /// Throws <see cref="FrameBudgetException"/> when they would not fit.
    /// </summary>
    public abstract IDisposable Reserve(long bytes);

    /// <summary>Rents a frame on its own (not from a pool); disposing it returns its memory here.</summary>
    public Frame AllocateFrame(int width, int height, PixelFormat format = PixelFormat.Rgb24)
    {
        CheckSize(width, height);
        var frame = new Frame(null, Allocate<byte>(width * format.BytesPerPixel() * height), width, height, format);
        frame.MarkRented();
        return frame;
    }

    /// <summary>A bounded pool of <paramref name="capacity"/> same-sized frames whose memory comes from here.</summary>
    public FramePool CreatePool(int width, int height, PixelFormat format, int capacity) => new(this, width, height, format, capacity);

    /// <summary>Takes back a buffer; called once by <see cref="PixelBuffer{T}.Dispose"/>.</summary>
    protected internal abstract void Return<T>(PixelBuffer<T> buffer)
        where T : unmanaged;

    internal static void CheckSize(int width, int height)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"frame size {width}x{height} is not positive");
        }
    }
}

/// <summary>A pinned buffer rented from a <see cref="FrameAllocator"/>.</summary>
/// <remarks>
/// Owned by one party at a time; <see cref="Dispose"/> returns it to its allocator, and disposing twice is
/// harmless. Spans and memory taken from it are valid only until then. Not thread safe.
/// </remarks>
public sealed class PixelBuffer<T> : System.Buffers.IMemoryOwner<T>
    where T : unmanaged
{
    private readonly T[] _array;
    private bool _rented;

    /// <summary>Wraps <paramref name="pinnedArray"/> for <paramref name="owner"/>; for allocator implementations.</summary>
    public PixelBuffer(FrameAllocator owner, T[] pinnedArray)
    {
        Owner = owner;
        _array = pinnedArray;
    }

    /// <summary>The allocator the buffer returns to.</summary>
    public FrameAllocator Owner { get; }

    /// <summary>Number of elements.</summary>
    public int Length => _array.Length;

    /// <summary>Size in bytes.</summary>
    public long ByteLength => (long)_array.Length * Unsafe.SizeOf<T>();

    /// <summary>True between a rent and its return.</summary>
    public bool IsRented => _rented;

    /// <summary>The elements.</summary>
    public Span<T> Span
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            ThrowIfReturned();
            return _array;
        }
    }

    /// <summary>The elements as memory (pinned for as long as the buffer is rented).</summary>
    public Memory<T> Memory
    {
        get
        {
            ThrowIfReturned();
            return _array;
        }
    }

    /// <summary>Returns the buffer to its allocator. Harmless when called again.</summary>
    public void Dispose()
    {
        if (!_rented)
        {
            return;
        }

        _rented = false;
        Owner.Return(this);
    }

    /// <summary>Marks the buffer rented; for allocator implementations, when handing it out.</summary>
    public void MarkRented() => _rented = true;

    private void ThrowIfReturned()
    {
        if (!_rented)
        {
            throw new ObjectDisposedException(nameof(PixelBuffer<T>), "the buffer was returned to its allocator");
        }
    }
}

/// <summary>Renting a buffer would take the frame allocator over its budget.</summary>
public sealed class FrameBudgetException : VideoException
{
    public FrameBudgetException(string message)
        : base(message)
    {
    }
}
