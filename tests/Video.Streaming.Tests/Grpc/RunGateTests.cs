using Video.Streaming.Grpc.Internal;

namespace Video.Streaming.Tests.Grpc;

/// <summary><see cref="RunGate"/>: the bound on pixels in model runs at once (issue 18, item 8).</summary>
public sealed class RunGateTests
{
    private static readonly TimeSpan T = GrpcTestServer.Timeout;

    [Fact]
    public async Task EnterAsync_MoreThanFits_WaitsFirstComeFirstServed()
    {
        var gate = new RunGate(100);
        var first = await gate.EnterAsync(60, CancellationToken.None);
        var second = gate.EnterAsync(60, CancellationToken.None).AsTask();
        var small = gate.EnterAsync(10, CancellationToken.None).AsTask();

        // 10 more would fit, but the small run came after one that is waiting: it does not overtake it.
        Assert.False(second.IsCompleted);
        Assert.False(small.IsCompleted);
        Assert.Equal(60, gate.InUse);

        first.Dispose();
        first.Dispose(); // harmless
        using var b = await second.WaitAsync(T);
        using var c = await small.WaitAsync(T);
        Assert.Equal(70, gate.InUse);
        Assert.Equal(70, gate.PeakInUse);
        Assert.Equal(3, gate.Entered);
    }

    [Fact]
    public async Task EnterAsync_WaitingRunCancelled_LeavesTheQueueAndLetsTheNextIn()
    {
        var gate = new RunGate(100);
        using var first = await gate.EnterAsync(60, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var cancelled = gate.EnterAsync(60, cts.Token).AsTask();
        var small = gate.EnterAsync(10, CancellationToken.None).AsTask();
        Assert.False(small.IsCompleted);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(T));
        using var c = await small.WaitAsync(T);
        Assert.Equal(70, gate.InUse);
    }

    [Fact]
    public async Task EnterAsync_RunLargerThanTheCapacity_TakesAllOfIt()
    {
        var gate = new RunGate(100);
        var large = await gate.EnterAsync(8_294_400, CancellationToken.None);
        Assert.Equal(100, gate.InUse);
        var next = gate.EnterAsync(1, CancellationToken.None).AsTask();
        Assert.False(next.IsCompleted);
        large.Dispose();
        using var n = await next.WaitAsync(T);
        Assert.Equal(1, gate.InUse);
    }
}
