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
}
