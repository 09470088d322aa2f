using Video.Capture;
using Video.Tests.Shared;

namespace Video.Capture.Tests;

public class FrameAllocatorTests : FrameLeakCheckedTest
{
    [Fact]
    public void Allocate_ReturnedBuffer_IsHandedOutAgain()
    {
        var first = Allocator.Allocate<float>(16);
        first.Dispose();
        first.Dispose();
        using var second = Allocator.Allocate<float>(16);
        Assert.Same(first, second);
        Assert.Equal(64, Allocator.BytesRented);
        Assert.Equal(1, Allocator.BuffersRented);
    }

    [Fact]
    public void Allocate_OverBudget_ThrowsOneLineBudgetError()
    {
        var allocator = new PooledFrameAllocator(budgetBytes: 1000);
        using var held = allocator.Allocate<byte>(600);
        var e = Assert.Throws<FrameBudgetException>(() => allocator.Allocate<byte>(600));
        Assert.StartsWith("frame memory budget exceeded", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(600, allocator.BytesRented);
    }

    [Fact]
    public void Allocate_KeptBuffersInTheWay_AreDroppedBeforeTheBudgetFails()
    {
        var allocator = new PooledFrameAllocator(budgetBytes: 1000, retainBytes: 1000);
        allocator.Allocate<byte>(600).Dispose();
        Assert.Equal(600, allocator.BytesKept);
        using var other = allocator.Allocate<byte>(700);
        Assert.Equal(0, allocator.BytesKept);
    }

    [Fact]
    public void Reserve_CountsAgainstTheBudgetUntilDisposed_AndDropsKeptBuffersFirst()
    {
        var allocator = new PooledFrameAllocator(budgetBytes: 1000, retainBytes: 1000);
        allocator.Allocate<byte>(500).Dispose();
        Assert.Equal(500, allocator.BytesKept);

        var run = allocator.Reserve(600);
        Assert.Equal(0, allocator.BytesKept);
        Assert.Equal(500, allocator.BytesDropped);
        Assert.Equal(600, allocator.BytesRented);
        Assert.Equal(600, allocator.BytesReserved);
        var e = Assert.Throws<FrameBudgetException>(() => allocator.Allocate<byte>(500));
        Assert.StartsWith("frame memory budget exceeded", e.Message, StringComparison.Ordinal);
        var r = Assert.Throws<FrameBudgetException>(() => allocator.Reserve(500));
        Assert.StartsWith("memory budget exceeded by a model run", r.Message, StringComparison.Ordinal);

        run.Dispose();
        run.Dispose();
        Assert.Equal(0, allocator.BytesRented);
        Assert.Equal(0, allocator.BytesReserved);
        using var frame = allocator.Allocate<byte>(900);
    }

    [Fact]
    public async Task CreatePool_FramesReturnTheirMemoryWhenThePoolAndFramesAreDone()
    {
        var pool = Allocator.CreatePool(8, 4, PixelFormat.Rgb24, capacity: 2);
        var kept = await pool.RentAsync();
        (await pool.RentAsync()).Dispose();
        pool.Dispose();
        Assert.Equal(1, Allocator.Outstanding);
        kept.Dispose();
    }

    [Fact]
    public void CreatePool_BudgetExceeded_LeavesThePoolUsable()
    {
        var allocator = new PooledFrameAllocator(budgetBytes: 100);
        using var pool = allocator.CreatePool(8, 4, PixelFormat.Rgb24, capacity: 2);
        Assert.True(pool.TryRent(out var frame));
        Assert.Throws<FrameBudgetException>(() => pool.TryRent(out _));
        frame!.Dispose();
        Assert.True(pool.TryRent(out var again));
        again!.Dispose();
    }

    [Fact]
    public void AssertNoneOutstanding_AFrameNotReturned_FailsNamingWhereItWasRented()
    {
        var allocator = new TestFrameAllocator();
        var frame = allocator.AllocateFrame(4, 4);
        var e = Assert.ThrowsAny<Exception>(allocator.AssertNoneOutstanding);
        Assert.Contains("never returned", e.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(AssertNoneOutstanding_AFrameNotReturned_FailsNamingWhereItWasRented), e.Message, StringComparison.Ordinal);
        frame.Dispose();
        allocator.AssertNoneOutstanding();
    }
}
