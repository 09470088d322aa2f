using System.Runtime.CompilerServices;
using Video.Capture.Internal;

namespace Video.Capture;

/// <summary>
/// Decodes anything ffmpeg reads (files in mp4, webm, mkv, mov, avi…, network URLs) into RGB24 frames
/// through a raw-video pipe. Every decoded frame is delivered (no frame-rate conversion).
/// </summary>
/// <remarks>
/// A frame's timestamp is its index over the stream's frame rate. When the container declared a
/// frame count (or a duration) and fewer frames decode, <see cref="ReadAllAsync"/> throws at the end: the
/// file is truncated or corrupt.
/// </remarks>
public sealed class FfmpegVideoSource : IFrameSource
{
    private readonly ToolProcess _ffmpeg;
    private readonly bool _strictCount;
    private long _index;
    private bool _ended;

    private FfmpegVideoSource(MediaInfo info, ToolProcess ffmpeg, bool isLive)
    {
        Info = info;
        IsLive = isLive;
        _ffmpeg = ffmpeg;
        _strictCount = !isLive && info.FrameCount is not null;
    }

    public MediaInfo Info { get; }

    public bool IsLive { get; }

    /// <summary>Frames delivered so far.</summary>
    public long FramesRead => _index;

    /// <summary>Probes <paramref name="path"/> and starts decoding it.</summary>
    public static async Task<FfmpegVideoSource> OpenAsync(string path, bool isLive = false, CancellationToken cancellationToken = default)
    {
        var info = await MediaProbe.ProbeAsync(path, cancellationToken).ConfigureAwait(false);
        var args = new List<string> { "-nostdin", "-hide_banner", "-v", "error" };
        if (isLive)
        {
            args.AddRange(["-fflags", "nobuffer"]);
        }

        args.AddRange(["-i", path, "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", PixelFormat.Rgb24.FfmpegName(), "pipe:1"]);
        var process = ToolProcess.Start("ffmpeg", args);
        return new FfmpegVideoSource(info, process, isLive);
    }

    public async IAsyncEnumerable<Frame> ReadAllAsync(FramePool pool, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (pool.Width != Info.Width || pool.Height != Info.Height || pool.Format != PixelFormat.Rgb24)
        {
            throw new ArgumentException($"pool frames are {pool.Width}x{pool.Height} {pool.Format}, source is {Info.Width}x{Info.Height} Rgb24", nameof(pool));
        }

        while (!_ended)
        {
            var (frame, partial) = await RawFrameReader.ReadAsync(_ffmpeg.StandardOutput, pool, cancellationToken).ConfigureAwait(false);
            if (frame is not null)
            {
                frame.Index = _index;
                frame.Timestamp = TimeSpan.FromSeconds(_index / Info.FrameRate.Value);
                _index++;
                yield return frame;
                continue;
            }

            _ended = true;
            await FinishAsync(partial, cancellationToken).ConfigureAwait(false);
        }
    }

    public ValueTask DisposeAsync() => _ffmpeg.DisposeAsync();

    private async Task FinishAsync(int partialBytes, CancellationToken cancellationToken)
    {
        int code = await _ffmpeg.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (code != 0)
        {
            throw new MediaException($"cannot decode {Info.Path}: {_ffmpeg.FirstErrorLine}");
        }

        if (partialBytes != 0)
        {
            throw new MediaException($"cannot decode {Info.Path}: the last frame is incomplete");
        }

        if (_index == 0)
        {
            throw new MediaException($"cannot decode {Info.Path}: no frame could be decoded ({_ffmpeg.FirstErrorLine})");
        }

        if (!_strictCount)
        {
            return;
        }

        if (Info.FrameCountExact && _index < Info.FrameCount)
        {
            throw new MediaException($"{Info.Path} is truncated or corrupt: decoded {_index} of {Info.FrameCount} frames");
        }

        // Packet counts over-count VP8/VP9 (hidden alt-ref frames), so judge those by the declared duration instead.
        double expected = (Info.Duration?.TotalSeconds ?? 0) * Info.FrameRate.Value;
        if (!Info.FrameCountExact && _index < (expected * 0.9) - 1)
        {
            throw new MediaException($"{Info.Path} is truncated or corrupt: decoded {_index} frames, its duration implies about {expected:0}");
        }
    }
}
