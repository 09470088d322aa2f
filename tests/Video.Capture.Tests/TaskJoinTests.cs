using System.Threading.Channels;
using Video.Capture;

namespace Video.Capture.Tests;

public class TaskJoinTests
{
    [Fact]
    public async Task WhenAllAsync_FailureAndTheCancellationsItCaused_ThrowsTheFailureWithItsOwnStack()
    {
        using var cts = new CancellationTokenSource();
        var channel = Channel.CreateUnbounded<int>();
        var cancelled = Task.Run(() => Task.Delay(Timeout.Infinite, cts.Token));
        var closed = Task.Run(async () => await channel.Reader.ReadAsync());
        var failing = Task.Run(async () =>
        {
            await Task.Yield();
            try
            {
                ThrowFromStage();
            }
            finally
            {
                channel.Writer.Complete();
                await cts.CancelAsync();
            }
        });

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => TaskJoin.WhenAllAsync([cancelled, closed, failing]));

        Assert.Equal("the stage broke", e.Message);
        Assert.Contains(nameof(ThrowFromStage), e.StackTrace, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WhenAllAsync_OnlyCancellations_ThrowsTheFirstCancellation()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var a = Task.FromCanceled(cts.Token);
        var b = Task.FromException(new OperationCanceledException("second"));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => TaskJoin.WhenAllAsync([a, b]));
    }

    [Fact]
    public async Task WhenAllAsync_CallerNamedConsequence_IsPassedOver()
    {
        var consequence = Task.FromException(new TimeoutException("caused"));
        var cause = Task.FromException(new IOException("the cause"));

        var e = await Assert.ThrowsAsync<IOException>(() => TaskJoin.WhenAllAsync([consequence, cause], x => x is TimeoutException));

        Assert.Equal("the cause", e.Message);
    }

    [Fact]
    public async Task WhenAllAsync_AllSucceed_Returns()
    {
        int done = 0;
        await TaskJoin.WhenAllAsync([Task.Run(() => Interlocked.Increment(ref done)), Task.Run(() => Interlocked.Increment(ref done))]);
        Assert.Equal(2, done);
    }

    private static void ThrowFromStage() => throw new InvalidOperationException("the stage broke");
}
