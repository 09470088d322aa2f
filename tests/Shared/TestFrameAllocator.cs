using System.Collections.Concurrent;
using System.Diagnostics;
using Video.Capture;

namespace Video.Tests.Shared;

/// <summary>
/// A pooled frame allocator that remembers every buffer it hands out until it comes back, with the stack
/// that rented it, so a test can fail on a frame or tensor that was never returned.
/// </summary>
public sealed class TestFrameAllocator : PooledFrameAllocator
{
    private readonly ConcurrentDictionary<object, string> _outstanding = new(ReferenceEqualityComparer.Instance);
    private readonly ConcurrentDictionary<Type, int> _rents = new();

    public TestFrameAllocator(long budgetBytes = 1L << 30)
        : base(budgetBytes)
    {
    }

    /// <summary>Buffers rented and not returned.</summary>
    public int Outstanding => _outstanding.Count;

    /// <summary>How many buffers of <typeparamref name="T"/> were rented so far.</summary>
    public int Rents<T>() => _rents.GetValueOrDefault(typeof(T));

    /// <summary>Throws when any buffer is still out, naming where the first of them was rented.</summary>
    public void AssertNoneOutstanding()
    {
        var left = _outstanding.ToArray();
        if (left.Length > 0)
        {
            throw new Xunit.Sdk.XunitException($"{left.Length} frame buffer(s) were never returned; the first was rented at:{Environment.NewLine}{left[0].Value}");
        }
    }

    protected override void OnRented(object buffer)
    {
        _rents.AddOrUpdate(buffer.GetType().GetGenericArguments()[0], 1, (_, n) => n + 1);
        _outstanding[buffer] = new StackTrace(2, fNeedFileInfo: false).ToString();
    }

    protected override void OnReturned(object buffer)
    {
        if (!_outstanding.TryRemove(buffer, out _))
        {
            throw new InvalidOperationException("a buffer was returned that is not out");
        }
    }
}

/// <summary>
/// Base of tests that give their frames and tensors a <see cref="TestFrameAllocator"/>: after each test,
/// any buffer not returned fails it.
/// </summary>
public abstract class FrameLeakCheckedTest : IDisposable
{
    protected TestFrameAllocator Allocator { get; } = new();

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Allocator.AssertNoneOutstanding();
        }
    }
}
