using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Video.Capture.Internal;

namespace Video.Capture.Live;

/// <summary>How a <see cref="LiveSource"/> opens and keeps its input.</summary>
public sealed record LiveSourceOptions
{
    /// <summary>Carry the input's audio (when it has any) to the sink, through <see cref="LiveSource.AudioUrl"/>.</summary>
    public bool Audio { get; init; } = true;

    /// <summary>How long a network input may stay lost, reconnecting with back-off, before the source ends.</summary>
    public TimeSpan ReconnectFor { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait for a network input's description before it counts as unreachable.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Receives one line per event worth telling the user (a lost input, a reconnection).</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>
/// A live input (camera, network stream, file played at its rate, test pattern) read by ffmpeg into RGB24 frames of
/// one fixed size, each stamped with the moment it was read (<see cref="Frame.CaptureTimestamp"/>).
/// </summary>
/// <remarks>
/// <para>
/// The reader never holds frames back: a pipeline reading a live source drops its oldest queued frame when it is behind
/// (<see cref="IsLive"/>). A network input that drops is opened again with back-off (0.5 s doubling to 5 s) for up to
/// <see cref="LiveSourceOptions.ReconnectFor"/>; the frames simply resume, and <see cref="Reconnects"/> counts it.
/// </para>
/// <para>
/// The input's audio is not decoded here: the same ffmpeg process sends it, as MPEG-TS over UDP on 127.0.0.1
/// (<see cref="AudioUrl"/>), to the sink's ffmpeg, which times it and the stylized frames by their arrival. A
/// reconnection resends to the same port, so the sink never has to reopen it.
/// </para>
/// </remarks>
public sealed class LiveSource : IFrameSource
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan LastBackoff = TimeSpan.FromSeconds(5);
    private readonly LiveInput _input;
    private readonly LiveSourceOptions _options;
    private readonly int? _audioPort;
    private readonly long _started = Stopwatch.GetTimestamp();
    private ToolProcess? _ffmpeg;
    private long _framesRead;
    private int _reconnects;

    private LiveSource(LiveInput input, MediaInfo info, int? audioPort, LiveSourceOptions options)
    {
        _input = input;
        Info = info;
        _audioPort = audioPort;
        _options = options;
    }

    /// <summary>The frame size and rate every frame has (the codec name is <c>live</c>, and no frame count is known).</summary>
    public MediaInfo Info { get; }

    /// <summary>Always true: frames arrive at the input's pace whether or not they are read.</summary>
    public bool IsLive => true;

    /// <summary>The input this reads.</summary>
    public LiveInput Input => _input;

    /// <summary>Where the input's audio arrives (MPEG-TS over UDP on 127.0.0.1), or null when none is carried.</summary>
    public string? AudioUrl => _audioPort is { } port ? $"udp://127.0.0.1:{port}" : null;

    /// <summary>Frames read so far (including those a slow reader later dropped).</summary>
    public long FramesRead => Interlocked.Read(ref _framesRead);

    /// <summary>Times a lost network input was opened again.</summary>
    public int Reconnects => Volatile.Read(ref _reconnects);

    /// <summary>
    /// Opens <paramref name="input"/>: probes files and network streams (size, rate, audio) unless size and rate were
    /// given, and reserves the audio port. Cameras, test patterns and SRT streams take the requested size and rate
    /// (default 640×360 at 30 fps).
    /// </summary>
    /// <exception cref="MediaException">A network input did not answer in time, or a file is not a video.</exception>
    public static async Task<LiveSource> OpenAsync(LiveInput input, LiveSourceOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LiveSourceOptions();
        (int Width, int Height) size = input.Size ?? (640, 360);
        double rate = input.FrameRate ?? 30;
        bool audio = input.Kind == LiveInputKind.TestPattern;
        if (input.CanProbe)
        {
            var probed = await ProbeAsync(input, options.ProbeTimeout, cancellationToken).ConfigureAwait(false);
            size = input.Size ?? (probed.Width, probed.Height);
            rate = input.FrameRate ?? probed.FrameRate.Value;
            audio = probed.HasAudio;
        }

        if (rate is <= 0 or > 240 || double.IsNaN(rate))
        {
            throw new MediaException($"{input.DisplayName} reports {rate:0.###} fps; give the rate with --fps");
        }

        // 4:2:0 encoders downstream need even sizes.
        size = (size.Width & ~1, size.Height & ~1);
        var frameRate = Rational.Parse(rate.ToString("0.###", CultureInfo.InvariantCulture));
        var info = new MediaInfo(input.DisplayName, size.Width, size.Height, frameRate, null, null, "live", audio && options.Audio ? "aac" : null);
        return new LiveSource(input, info, audio && options.Audio ? FreeUdpPort() : null, options);
    }

    /// <summary>The whole ffmpeg command line for one connection (for tests and the user's log).</summary>
    public IReadOnlyList<string> FfmpegArguments()
    {
        var args = new List<string> { "-nostdin", "-hide_banner", "-v", "error" };
        args.AddRange(_input.FfmpegInputArguments((Info.Width, Info.Height), Info.FrameRate.Value));
        args.AddRange([
            "-map", "0:v:0", "-vf", $"scale={Info.Width}:{Info.Height}", "-fps_mode", "passthrough",
            "-f", "rawvideo", "-pix_fmt", PixelFormat.Rgb24.FfmpegName(), "pipe:1",
        ]);
        if (_audioPort is { } port)
        {
            // Flushed at once, so the audio leaves as soon as it is demuxed.
            string map = _input.Kind == LiveInputKind.TestPattern ? "1:a:0" : "0:a:0";
            args.AddRange([
                "-map", map, "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
                "-flush_packets", "1", "-muxdelay", "0", "-f", "mpegts", $"udp://127.0.0.1:{port}?pkt_size=1316",
            ]);
        }

        return args;
    }

    public async IAsyncEnumerable<Frame> ReadAllAsync(FramePool pool, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (pool.Width != Info.Width || pool.Height != Info.Height || pool.Format != PixelFormat.Rgb24)
        {
            throw new ArgumentException($"pool frames are {pool.Width}x{pool.Height} {pool.Format}, source is {Info.Width}x{Info.Height} Rgb24", nameof(pool));
        }

        long lastFrame = Stopwatch.GetTimestamp();
        var backoff = FirstBackoff;
        while (true)
        {
            _ffmpeg = ToolProcess.Start("ffmpeg", FfmpegArguments());
            long before = FramesRead;
            while (true)
            {
                var (frame, _) = await RawFrameReader.ReadAsync(_ffmpeg.StandardOutput, pool, cancellationToken).ConfigureAwait(false);
                if (frame is null)
                {
                    break;
                }

                long now = Stopwatch.GetTimestamp();
                frame.CaptureTimestamp = now;
                frame.Timestamp = Stopwatch.GetElapsedTime(_started, now);
                frame.Index = Interlocked.Increment(ref _framesRead) - 1;
                lastFrame = now;
                yield return frame;
            }

            int code = await _ffmpeg.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            string why = code == 0 ? "the stream ended" : _ffmpeg.FirstErrorLine;
            await _ffmpeg.DisposeAsync().ConfigureAwait(false);
            _ffmpeg = null;
            if (!_input.Reconnects)
            {
                if (code != 0 || FramesRead == 0)
                {
                    throw new MediaException($"cannot read {_input.DisplayName}: {(FramesRead == 0 && code == 0 ? "no frame could be decoded" : why)}");
                }

                yield break;
            }

            if (FramesRead > before)
            {
                backoff = FirstBackoff;
            }

            if (Stopwatch.GetElapsedTime(lastFrame) + backoff > _options.ReconnectFor)
            {
                if (FramesRead == 0)
                {
                    throw new MediaException($"cannot read {_input.DisplayName}: {why}");
                }

                _options.Log?.Invoke($"{_input.DisplayName}: lost for {_options.ReconnectFor.TotalSeconds:0} s ({why}); stopping");
                yield break;
            }

            _options.Log?.Invoke($"{_input.DisplayName}: lost ({why}); reconnecting in {backoff.TotalSeconds:0.0} s");
            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, LastBackoff.Ticks));
            Interlocked.Increment(ref _reconnects);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_ffmpeg is { } ffmpeg)
        {
            await ffmpeg.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<MediaInfo> ProbeAsync(LiveInput input, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            return await MediaProbe.ProbeAsync(input.Location, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MediaException($"cannot read {input.DisplayName}: no answer within {timeout.TotalSeconds:0} s");
        }
    }

    /// <summary>A UDP port on 127.0.0.1 that is free now (the sink listens on it for the audio).</summary>
    private static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
