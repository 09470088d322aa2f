using System.Runtime.CompilerServices;
using Video.Capture;

namespace Video.Inference.Internal;

/// <summary>The first <c>N</c> frames of another source (for quick evaluation runs on long clips).</summary>
/// <remarks>Owns the inner source: disposing this disposes it. Not thread safe, like any source.</remarks>
internal sealed class LimitedFrameSource(IFrameSource inner, long maxFrames) : IFrameSource
{
    public MediaInfo Info { get; } = inner.Info with
    {
        FrameCount = inner.Info.FrameCount is { } n ? Math.Min(n, maxFrames) : maxFrames,
    };

    public bool IsLive => inner.IsLive;

    public async IAsyncEnumerable<Frame> ReadAllAsync(FramePool pool, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (maxFrames <= 0)
        {
            yield break;
        }

        long read = 0;
        await foreach (var frame in inner.ReadAllAsync(pool, cancellationToken).ConfigureAwait(false))
        {
            yield return frame;
            if (++read >= maxFrames)
            {
                yield break;
            }
        }
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
