using Video.Capture;
using Video.Tests.Shared;

namespace Video.Capture.Tests;

public class FramePoolTests : FrameLeakCheckedTest
{
    [Fact]
    public async Task RentAsync_ReturnedFrames_AreReusedAndCounted()
    {
        using var pool = Allocator.CreatePool(8, 4, PixelFormat.Rgb24, capacity: 2);
        var a = await pool.RentAsync();
        var b = await pool.RentAsync();
        Assert.Equal(2, pool.Outstanding);
        Assert.Equal(8 * 3, a.Stride);
        Assert.Equal(8 * 4 * 3, a.Length);

        a.Dispose();
        var c = await pool.RentAsync();
        Assert.Same(a, c);
        Assert.Equal(2, pool.Created);

        b.Dispose();
        c.Dispose();
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void Dispose_Twice_ReturnsOnce()
    {
        using var pool = Allocator.CreatePool(2, 2, PixelFormat.Rgb24, capacity: 1);
        Assert.True(pool.TryRent(out var frame));
        frame!.Dispose();
        frame.Dispose();
        Assert.Equal(0, pool.Outstanding);
        Assert.True(pool.TryRent(out var again));
        Assert.False(pool.TryRent(out _));
        again!.Dispose();
    }

    [Fact]
    public async Task RentAsync_Exhausted_WaitsUntilAFrameReturns()
    {
        using var pool = Allocator.CreatePool(2, 2, PixelFormat.Rgb24, capacity: 1);
        var held = await pool.RentAsync();

        // Nothing but returning `held` can complete this rent, so it is checked at once rather than after a sleep.
        var pending = pool.RentAsync().AsTask();
        Assert.False(pending.IsCompleted);
        Assert.Equal(1, pool.Outstanding);

        held.Dispose();
        var next = await pending.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Same(held, next);
        next.Dispose();
    }

    [Fact]
    public void Pixels_AfterDispose_Throws()
    {
        using var pool = Allocator.CreatePool(2, 2, PixelFormat.Rgb24, capacity: 1);
        Assert.True(pool.TryRent(out var frame));
        frame!.Dispose();
        Assert.Throws<ObjectDisposedException>(() => frame.Pixels.Length);
    }
}
