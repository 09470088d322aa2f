using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace Video.Capture;

/// <summary>Joins the concurrent stages of a pipeline and reports the failure that started it, not the ones it caused.</summary>
public static class TaskJoin
{
    /// <summary>
    /// Awaits every task. When some failed, rethrows, with its own stack trace, the first failure in the order given that
    /// is not a consequence of another: a cancellation, a closed channel, or what <paramref name="isConsequence"/> names.
    /// When every failure is such a consequence, the first one is rethrown.
    /// </summary>
    public static async Task WhenAllAsync(IReadOnlyList<Task> tasks, Func<Exception, bool>? isConsequence = null)
    {
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch when (RootCause(tasks, isConsequence) is { } root)
        {
            ExceptionDispatchInfo.Capture(root).Throw();
        }
    }

    /// <summary>The first failure of <paramref name="tasks"/>, in order, that is not a consequence of another; <see langword="null"/> when there is none.</summary>
    public static Exception? RootCause(IEnumerable<Task> tasks, Func<Exception, bool>? isConsequence = null) =>
        tasks.Where(t => t.IsFaulted)
            .SelectMany(t => t.Exception!.InnerExceptions)
            .FirstOrDefault(e => e is not (OperationCanceledException or ChannelClosedException) && isConsequence?.Invoke(e) != true);

    /// <summary>
    /// Runs one stage of a pipeline on the thread pool. When <paramref name="body"/> ends, <paramref name="output"/> is
    /// completed; when it fails, <paramref name="output"/> is completed with the error, the other stages are cancelled
    /// through <paramref name="cts"/>, and the error is rethrown (for <see cref="WhenAllAsync"/> to report).
    /// </summary>
    public static Task RunStage<T>(CancellationTokenSource cts, ChannelWriter<T>? output, Func<Task> body) => Task.Run(async () =>
    {
        try
        {
            await body().ConfigureAwait(false);
            output?.TryComplete();
        }
        catch (Exception e)
        {
            output?.TryComplete(e);
            await cts.CancelAsync().ConfigureAwait(false);
            throw;
        }
    });
}

/// <summary>Handing frames over through channels without losing one: a frame a channel does not take is disposed.</summary>
public static class FrameChannel
{
    /// <summary>Writes <paramref name="frame"/> (at once when there is room), disposing it if the channel was completed or the write failed.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask WriteOrDisposeAsync(ChannelWriter<Frame> writer, Frame frame)
    {
        if (writer.TryWrite(frame))
        {
            return;
        }

        try
        {
            await writer.WriteAsync(frame).ConfigureAwait(false);
        }
        catch
        {
            frame.Dispose();
            throw;
        }
    }

    /// <summary>Disposes every frame still in <paramref name="reader"/> (after a pipeline stopped).</summary>
    public static void Drain(ChannelReader<Frame> reader)
    {
        while (reader.TryRead(out var frame))
        {
            frame.Dispose();
        }
    }
}
