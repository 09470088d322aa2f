using System.Runtime.CompilerServices;
using Video.Capture;

namespace Video.Tests.Shared;

/// <summary>
/// An in-memory source of flat frames whose bytes are <c>index * 7</c> (no decoder process, so allocation counts
/// are the reader's own). With <see cref="IsLive"/> set it stands in for a camera.
/// </summary>
public sealed class SyntheticSource(int width, int height, int frames, bool isLive = false) : IFrameSource
{
    public MediaInfo Info { get; } = new("synthetic", width, height, new Rational(30, 1), isLive ? null : frames, null, "synthetic", null);

    public bool IsLive => isLive;

    /// <summary>Called after each frame is yielded and the reader asked for the next (the reader has taken it).</summary>
    public Action<long>? AfterYield { get; init; }

    public async IAsyncEnumerable<Frame> ReadAllAsync(FramePool pool, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (int i = 0; i < frames; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var frame = await pool.RentAsync(cancellationToken).ConfigureAwait(false);
            frame.Pixels.Fill((byte)(i * 7));
            frame.Index = i;
            frame.Timestamp = TimeSpan.FromSeconds(i / 30.0);
            yield return frame;
            AfterYield?.Invoke(i);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
