using Video.Capture.Internal;

namespace Video.Capture.Live;

/// <summary>
/// Writes stylized RGB24 frames to a live output (virtual camera, RTMP, SRT/UDP/TCP MPEG-TS, HLS, a recording, a
/// preview window) through ffmpeg (ffplay for the preview), with the live input's audio beside them.
/// </summary>
/// <remarks>
/// Frames and audio are both timed by their arrival (<c>-use_wallclock_as_timestamps</c>), and the output runs at the
/// input's constant rate: a frame the pipeline dropped is filled by repeating the previous one, so players and
/// virtual-camera clients see a steady rate. A recording goes to a hidden temporary name and is published by
/// <see cref="CompleteAsync"/> (also after Ctrl+C); disposing an incomplete sink removes it.
/// </remarks>
public sealed class LiveSink : IFrameSink
{
    private static readonly TimeSpan CompletionTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan AudioTimeout = TimeSpan.FromSeconds(2);
    private readonly ToolProcess _process;
    private readonly OutputTarget? _recording;
    private readonly int _frameBytes;
    private bool _completed;
    private long _written;

    private LiveSink(LiveOutput output, ToolProcess process, OutputTarget? recording, int frameBytes, bool audio)
    {
        Output = output;
        _process = process;
        _recording = recording;
        _frameBytes = frameBytes;
        CarriesAudio = audio;
    }

    /// <summary>Where this writes.</summary>
    public LiveOutput Output { get; }

    /// <summary>True when the input's audio goes out with the frames.</summary>
    public bool CarriesAudio { get; }

    /// <summary>Frames written so far.</summary>
    public long FramesWritten => Interlocked.Read(ref _written);

    /// <summary>
    /// Starts the writer for <paramref name="output"/> at <paramref name="width"/>×<paramref name="height"/> and
    /// <paramref name="frameRate"/>. <paramref name="audioUrl"/> is a <see cref="LiveSource.AudioUrl"/>, carried
    /// when the output can hold audio.
    /// </summary>
    public static LiveSink Create(LiveOutput output, int width, int height, Rational frameRate, string? audioUrl)
    {
        string rate = frameRate.ToString();
        if (output.Kind == LiveOutputKind.Preview)
        {
            var ffplay = ToolProcess.Start(
                "ffplay",
                ["-hide_banner", "-v", "error", "-window_title", "video live", "-fflags", "nobuffer", "-framedrop",
                 "-f", "rawvideo", "-pixel_format", PixelFormat.Rgb24.FfmpegName(), "-video_size", $"{width}x{height}", "-framerate", rate, "-i", "pipe:0"],
                redirectStdin: true,
                redirectStdout: false);
            return new LiveSink(output, ffplay, null, width * height * 3, audio: false);
        }

        var recording = output.Kind == LiveOutputKind.File ? OutputTarget.Prepare(output.Location, null) : null;
        bool audio = audioUrl is not null && output.CarriesAudio;
        var args = new List<string>
        {
            "-nostdin", "-hide_banner", "-v", "error", "-y",
            "-use_wallclock_as_timestamps", "1",
            "-f", "rawvideo", "-pix_fmt", PixelFormat.Rgb24.FfmpegName(), "-s", $"{width}x{height}", "-framerate", rate, "-i", "pipe:0",
        };
        if (audio)
        {
            // A short probe (ffmpeg's default waits for 5 s of audio, holding the frames back meanwhile); a large socket
            // buffer that does not fail on overrun, so audio waiting while the encoder starts is kept; and an end to the
            // audio after a silence of AudioTimeout, without which a writer whose source has ended never finishes.
            args.AddRange([
                "-use_wallclock_as_timestamps", "1", "-thread_queue_size", "1024", "-analyzeduration", "200000", "-probesize", "32768",
                "-f", "mpegts", "-i", $"{audioUrl}?fifo_size=1000000&overrun_nonfatal=1&timeout={(long)AudioTimeout.TotalMicroseconds}",
            ]);
        }

        args.AddRange(output.FfmpegOutputArguments(recording?.TemporaryPath ?? output.Location, frameRate.Value, audio));
        var ffmpeg = ToolProcess.Start("ffmpeg", args, redirectStdin: true, redirectStdout: false);
        return new LiveSink(output, ffmpeg, recording, width * height * 3, audio);
    }

    /// <summary>
    /// A sink that starts <see cref="Create"/>'s writer when the first frame arrives. By then the source's ffmpeg runs and
    /// its audio flows, so the writer finds the audio at once (it gives up on an audio input silent for 2 s).
    /// </summary>
    public static IFrameSink CreateOnFirstFrame(LiveOutput output, int width, int height, Rational frameRate, string? audioUrl) =>
        new Deferred(() => Create(output, width, height, frameRate, audioUrl));

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(Frame frame, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (frame.Length != _frameBytes || frame.Format != PixelFormat.Rgb24)
        {
            throw new ArgumentException($"frame is {frame.Width}x{frame.Height} {frame.Format}, the output expects {_frameBytes} bytes of Rgb24", nameof(frame));
        }

        await _process.WriteFrameAsync(frame, Output.DisplayName, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _written);
    }

    /// <summary>Ends the output: closes the writer's input, waits for it, and publishes a recording.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The exit code below tells what went wrong.
        }

        // A writer with audio ends once the audio has been silent for AudioTimeout (the source stops sending when it is no
        // longer read); if audio still flows it is told to finish (SIGINT: it flushes its encoders and writes the
        // trailer). A writer stuck on its network peer must not hold the run open either: it gets a bounded time.
        int? code = await WaitAsync(CarriesAudio ? AudioTimeout + TimeSpan.FromSeconds(1) : CompletionTimeout, cancellationToken).ConfigureAwait(false);
        if (code is null && CarriesAudio)
        {
            _process.Interrupt();
            code = await WaitAsync(CompletionTimeout, cancellationToken).ConfigureAwait(false);
        }

        if (code is null)
        {
            _process.Kill();
            throw new MediaException($"cannot finish {Output.DisplayName}: the writer did not end within {CompletionTimeout.TotalSeconds:0} s of the last frame");
        }

        // A viewer window closed by the user is not a failure of the run.
        if (code != 0 && Output.Kind != LiveOutputKind.Preview)
        {
            throw new MediaException($"cannot write {Output.DisplayName}: {_process.FirstErrorLine}");
        }

        if (_recording is { } r)
        {
            if (FramesWritten == 0)
            {
                throw new MediaException($"nothing to write to {Output.Location}: no frames");
            }

            r.Publish();
        }

        _completed = true;
    }

    /// <summary>The writer's exit code, or null when it is still running after <paramref name="limit"/>.</summary>
    private async Task<int?> WaitAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        try
        {
            return await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync().ConfigureAwait(false);
        if (!_completed)
        {
            _recording?.Discard();
            _completed = true;
        }
    }

    /// <summary>Starts its sink on the first frame; an output that never got one completes as "no frames".</summary>
    private sealed class Deferred(Func<LiveSink> create) : IFrameSink
    {
        private LiveSink? _sink;

        public ValueTask WriteAsync(Frame frame, CancellationToken cancellationToken = default) =>
            (_sink ??= create()).WriteAsync(frame, cancellationToken);

        public Task CompleteAsync(CancellationToken cancellationToken = default) =>
            _sink?.CompleteAsync(cancellationToken) ?? throw new MediaException("no frame arrived from the input: nothing was written");

        public ValueTask DisposeAsync() => _sink?.DisposeAsync() ?? ValueTask.CompletedTask;
    }
}
