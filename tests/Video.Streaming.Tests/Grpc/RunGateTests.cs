using Video.Streaming.Grpc.Internal;

namespace Video.Streaming.Tests.Grpc;

/// <summary><see cref="RunGate"/>: the bound on pixels in model runs at once (issue 18, item 8).</summary>
public sealed class RunGateTests
{
    private static readonly TimeSpan T = GrpcTestServer.Timeout;

    [Fact]
    public async Task EnterAsync_MoreThanFits_WaitsFirstComeFirstServed()
    {
        var gate = new RunGate(800);
        var first = await gate.EnterAsync(480, CancellationToken.None);
        var second = gate.EnterAsync(480, CancellationToken.None).AsTask();
        var small = gate.EnterAsync(160, CancellationToken.None).AsTask();

        // 160 more would fit, but the small run came after one that is waiting: it does not overtake it.
        Assert.False(second.IsCompleted);
        Assert.False(small.IsCompleted);
        Assert.Equal(480, gate.InUse);

        first.Dispose();
        first.Dispose(); // harmless
        using var b = await second.WaitAsync(T);
        using var c = await small.WaitAsync(T);
        Assert.Equal(640, gate.InUse);
        Assert.Equal(640, gate.PeakInUse);
        Assert.Equal(3, gate.Entered);
    }

    [Fact]
    public async Task EnterAsync_WaitingRunCancelled_LeavesTheQueueAndLetsTheNextIn()
    {
        var gate = new RunGate(800);
        using var first = await gate.EnterAsync(480, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var cancelled = gate.EnterAsync(480, cts.Token).AsTask();
        var small = gate.EnterAsync(160, CancellationToken.None).AsTask();
        Assert.False(small.IsCompleted);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(T));
        using var c = await small.WaitAsync(T);
        Assert.Equal(640, gate.InUse);
    }

    [Fact]
    public async Task EnterAsync_RunLargerThanTheCapacity_TakesAllOfIt()
    {
        var gate = new RunGate(800);
        var large = await gate.EnterAsync(8_294_400, CancellationToken.None);
        Assert.Equal(800, gate.InUse);
        var next = gate.EnterAsync(100, CancellationToken.None).AsTask();
        Assert.False(next.IsCompleted);
        large.Dispose();
        using var n = await next.WaitAsync(T);
        Assert.Equal(100, gate.InUse);
    }

    [Fact]
    public async Task EnterAsync_SmallRunWhileFull_GoesByWithoutWaiting()
    {
        var gate = new RunGate(800);
        using var large = await gate.EnterAsync(800, CancellationToken.None);
        var waiting = gate.EnterAsync(200, CancellationToken.None).AsTask();
        var small = gate.EnterAsync(99, CancellationToken.None).AsTask();
        Assert.True(small.IsCompletedSuccessfully, "a run under an eighth of the capacity waited");
        Assert.False(waiting.IsCompleted);
        (await small).Dispose();
        Assert.Equal(800, gate.InUse);
        Assert.Equal(1, gate.Bypassed);
        large.Dispose();
        using var w = await waiting.WaitAsync(T);
    }
}
