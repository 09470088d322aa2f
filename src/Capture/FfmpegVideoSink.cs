using Video.Capture.Internal;

namespace Video.Capture;

/// <summary>
/// Encodes RGB24 frames with ffmpeg into a video file (H.264 in mp4/mov/mkv/avi, VP9 in webm), a PNG
/// sequence (a directory) or a single image, carrying over the audio of another medium.
/// </summary>
/// <remarks>
/// Output goes to a hidden temporary name beside the target and is renamed only by
/// <see cref="CompleteAsync"/>, so a failed or cancelled run leaves nothing behind.
/// </remarks>
public sealed class FfmpegVideoSink : IFrameSink
{
    private readonly ToolProcess _ffmpeg;
    private readonly OutputTarget _target;
    private readonly int _frameBytes;
    private bool _completed;
    private long _written;

    private FfmpegVideoSink(OutputTarget target, ToolProcess ffmpeg, int frameBytes, string? audioNote)
    {
        _target = target;
        _ffmpeg = ffmpeg;
        _frameBytes = frameBytes;
        AudioNote = audioNote;
    }

    /// <summary>What happened to the audio (copied, re-encoded, dropped), for the summary line.</summary>
    public string? AudioNote { get; }

    /// <summary>Frames written so far.</summary>
    public long FramesWritten => _written;

    /// <summary>
    /// Starts an encoder for <paramref name="outputPath"/>. <paramref name="audioFrom"/> is the medium
    /// whose first audio stream is carried over (copied when the container allows it, else re-encoded).
    /// </summary>
    public static FfmpegVideoSink Create(string outputPath, int width, int height, Rational frameRate, MediaInfo? audioFrom)
    {
        // A killed run's temporary outputs would otherwise pile up beside this one.
        StalePartialOutputs.Remove(Path.GetDirectoryName(Path.GetFullPath(outputPath.TrimEnd('/'))) ?? "/");
        var target = OutputTarget.Prepare(outputPath, audioFrom?.Path);
        var args = new List<string>
        {
            "-nostdin", "-hide_banner", "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", PixelFormat.Rgb24.FfmpegName(), "-s", $"{width}x{height}", "-framerate", frameRate.ToString(), "-i", "pipe:0",
        };

        string? audioNote = null;
        bool withAudio = audioFrom is { HasAudio: true } && target.Kind.CarriesAudio();
        if (withAudio)
        {
            args.AddRange(["-i", audioFrom!.Path, "-map", "0:v:0", "-map", "1:a:0"]);
            string? transcode = target.Kind.AudioTranscoder(audioFrom.AudioCodec!);
            if (transcode is null)
            {
                args.AddRange(["-c:a", "copy"]);
                audioNote = $"audio copied ({audioFrom.AudioCodec})";
            }
            else
            {
                args.AddRange(["-c:a", transcode, "-b:a", "160k"]);
                audioNote = $"audio re-encoded {audioFrom.AudioCodec} -> {transcode} ({target.Kind.ToString().ToLowerInvariant()} cannot hold {audioFrom.AudioCodec})";
            }
        }
        else if (audioFrom is { HasAudio: true })
        {
            audioNote = "audio dropped (image output)";
        }

        args.AddRange(target.Kind.VideoEncoderArguments(width, height));
        args.AddRange(target.Kind.MuxerArguments(target.TemporaryPath));
        var ffmpeg = ToolProcess.Start("ffmpeg", args, redirectStdin: true, redirectStdout: false);
        return new FfmpegVideoSink(target, ffmpeg, width * height * 3, audioNote);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(Frame frame, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (frame.Length != _frameBytes || frame.Format != PixelFormat.Rgb24)
        {
            throw new ArgumentException($"frame is {frame.Width}x{frame.Height} {frame.Format}, encoder expects {_frameBytes} bytes of Rgb24", nameof(frame));
        }

        await _ffmpeg.WriteFrameAsync(frame, _target.FinalPath, cancellationToken).ConfigureAwait(false);
        _written++;
    }

    public async Task CompleteAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_written == 0)
        {
            throw new MediaException($"nothing to write to {_target.FinalPath}: no frames");
        }

        try
        {
            await _ffmpeg.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
            _ffmpeg.StandardInput.Close();
        }
        catch (IOException)
        {
            // The exit code below tells what went wrong.
        }

        int code = await _ffmpeg.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (code != 0)
        {
            throw new MediaException($"cannot write {_target.FinalPath}: {_ffmpeg.FirstErrorLine}");
        }

        // ffmpeg's matroska/webm muxer exits 0 when the disk fills while it writes the trailer, leaving a file
        // that holds a fraction of the frames: its stderr is the only sign, so an output it reports is not published.
        if (WriteError(_ffmpeg.Stderr) is { } error)
        {
            throw new MediaException($"cannot write {_target.FinalPath}: {error.Replace(_target.TemporaryPath, _target.FinalPath, StringComparison.Ordinal)}");
        }

        _target.Publish();
        _completed = true;
    }

    /// <summary>
    /// The first line of ffmpeg's stderr (run with <c>-v error</c>) that says the output was not written whole,
    /// or null: a full disk, a failed trailer, a failed close or an I/O error while writing packets.
    /// </summary>
    internal static string? WriteError(string stderr)
    {
        string[] signs = ["No space left on device", "Error writing trailer", "Error closing file", "av_interleaved_write_frame", "Input/output error", "Disk quota exceeded", "File too large"];
        foreach (var line in stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (signs.Any(sign => line.Contains(sign, StringComparison.Ordinal)))
            {
                return line;
            }
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _ffmpeg.DisposeAsync().ConfigureAwait(false);
        if (!_completed)
        {
            _target.Discard();
            _completed = true;
        }
    }
}
