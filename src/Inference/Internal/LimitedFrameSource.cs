using Video.Capture;

namespace Video.Inference.Internal;

/// <summary>The first <c>N</c> frames of another source (for quick evaluation runs on long clips).</summary>
/// <remarks>Owns the inner source: disposing this disposes it. Not thread safe, like any source.</remarks>
internal sealed class LimitedFrameSource(IFrameSource inner, long maxFrames) : IFrameSource
{
    private long _read;

    public MediaInfo Info { get; } = inner.Info with
    {
        FrameCount = inner.Info.FrameCount is { } n ? Math.Min(n, maxFrames) : maxFrames,
    };

    public bool IsLive => inner.IsLive;

    public async ValueTask<Frame?> ReadAsync(FramePool pool, CancellationToken cancellationToken = default)
    {
        if (_read >= maxFrames)
        {
            return null;
        }

        var frame = await inner.ReadAsync(pool, cancellationToken).ConfigureAwait(false);
        if (frame is not null)
        {
            _read++;
        }

        return frame;
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
