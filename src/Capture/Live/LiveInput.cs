using System.Globalization;

namespace Video.Capture.Live;

/// <summary>The kinds of live input <see cref="LiveInput.Parse"/> recognises.</summary>
public enum LiveInputKind
{
    /// <summary>A V4L2 camera: <c>/dev/videoN</c> or <c>camera:N</c>.</summary>
    Camera,

    /// <summary>A network stream: RTMP, RTSP, SRT, UDP, TCP, HTTP(S).</summary>
    Network,

    /// <summary>A video file played at its own rate (optionally looped), standing in for a live feed.</summary>
    File,

    /// <summary>ffmpeg's <c>testsrc2</c> pattern with a 440 Hz tone, at the requested size and rate.</summary>
    TestPattern,
}

/// <summary>
/// A live input named on the command line, and the ffmpeg input arguments that open it.
/// </summary>
/// <remarks>
/// Every kind is read by the same <see cref="LiveSource"/>; only these arguments differ, which is how a camera is
/// tested on a machine without one (a test pattern or a looping clip stands in).
/// </remarks>
public sealed record LiveInput
{
    /// <summary>Network schemes read as live streams.</summary>
    public static readonly IReadOnlyList<string> NetworkSchemes = ["rtmp", "rtmps", "rtsp", "srt", "udp", "rtp", "tcp", "http", "https"];

    private LiveInput(LiveInputKind kind, string location)
    {
        Kind = kind;
        Location = location;
    }

    /// <summary>What kind of input this is.</summary>
    public LiveInputKind Kind { get; }

    /// <summary>The device, URL or file.</summary>
    public string Location { get; }

    /// <summary>Requested frame size; for a camera it is negotiated, and every frame is scaled to it.</summary>
    public (int Width, int Height)? Size { get; init; }

    /// <summary>Requested frame rate (a camera's is negotiated; a test pattern's is exact).</summary>
    public double? FrameRate { get; init; }

    /// <summary>A camera's pixel format (<c>mjpeg</c>, <c>yuyv422</c>…); null lets the driver choose.</summary>
    public string? PixelFormat { get; init; }

    /// <summary>Play a file again from the start when it ends (a looping clip as a camera stand-in).</summary>
    public bool Loop { get; init; }

    /// <summary>True for the inputs that are read again after they drop (network streams).</summary>
    public bool Reconnects => Kind == LiveInputKind.Network;

    /// <summary>
    /// True when the input can be probed before it is read. An SRT caller's probe would be its one connection (the
    /// listener on the other side serves one reader), so SRT is read without one.
    /// </summary>
    public bool CanProbe => Kind is LiveInputKind.File || (Kind == LiveInputKind.Network && !Location.StartsWith("srt:", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Parses an input: <c>/dev/videoN</c> or <c>camera:N</c> (V4L2), a network URL, <c>testsrc</c> (a test pattern),
    /// or a video file.
    /// </summary>
    /// <exception cref="VideoException">The text names no input this reads, or a file or device is missing.</exception>
    public static LiveInput Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new VideoException("--input is empty: give a camera (/dev/video0, camera:0), a URL, a file, or testsrc");
        }

        if (text is "testsrc" or "test" or "testpattern")
        {
            return new LiveInput(LiveInputKind.TestPattern, "testsrc2");
        }

        if (text.StartsWith("camera:", StringComparison.OrdinalIgnoreCase))
        {
            string n = text["camera:".Length..];
            if (!int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index > 63)
            {
                throw new VideoException($"--input {text}: camera:N takes a device number 0-63");
            }

            text = $"/dev/video{index}";
        }

        if (text.StartsWith("/dev/video", StringComparison.Ordinal))
        {
            if (!File.Exists(text))
            {
                string present = Directory.Exists("/dev") ? string.Join(", ", Directory.EnumerateFiles("/dev", "video*").Order()) : string.Empty;
                throw new VideoException($"no camera at {text} ({(present.Length == 0 ? "this machine has no /dev/video* devices" : "cameras here: " + present)})");
            }

            return Camera(text);
        }

        int colon = text.IndexOf("://", StringComparison.Ordinal);
        if (colon > 0)
        {
            string scheme = text[..colon].ToLowerInvariant();
            if (scheme == "file")
            {
                return Parse(text[(colon + 3)..]);
            }

            if (!NetworkSchemes.Contains(scheme))
            {
                throw new VideoException($"--input {UserText.Quote(text)}: '{scheme}' streams are not read live; use {string.Join(", ", NetworkSchemes)}");
            }

            return new LiveInput(LiveInputKind.Network, text);
        }

        MediaProbe.CheckReadable(text);
        return new LiveInput(LiveInputKind.File, text);
    }

    /// <summary>A V4L2 camera at <paramref name="device"/>, without checking that it exists (for tests on machines without one).</summary>
    internal static LiveInput Camera(string device) => new(LiveInputKind.Camera, device);

    /// <summary>A short name for status lines and errors (a URL without its query string, which may hold a key, cut to 120 characters).</summary>
    public string DisplayName => Kind switch
    {
        LiveInputKind.TestPattern => "test pattern",
        LiveInputKind.Network => Truncate(Location.Split('?')[0]),
        _ => Location,
    };

    /// <summary>The ffmpeg arguments up to and including <c>-i</c> that open this input.</summary>
    public IReadOnlyList<string> FfmpegInputArguments((int Width, int Height) size, double frameRate)
    {
        string rate = frameRate.ToString("0.###", CultureInfo.InvariantCulture);
        return Kind switch
        {
            LiveInputKind.Camera =>
            [
                "-f", "v4l2", "-thread_queue_size", "64",
                .. (PixelFormat is { } pf ? new[] { "-input_format", pf } : []),
                // The driver answers with the nearest size and rate it has; frames are scaled to the requested size.
                "-video_size", $"{size.Width}x{size.Height}", "-framerate", rate,
                "-i", Location,
            ],
            LiveInputKind.TestPattern =>
            [
                "-re", "-f", "lavfi", "-i", $"testsrc2=size={size.Width}x{size.Height}:rate={rate}",
                "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            ],
            LiveInputKind.File => ["-re", .. (Loop ? new[] { "-stream_loop", "-1" } : []), "-i", Location],
            _ => NetworkArguments(),
        };
    }

    private string[] NetworkArguments()
    {
        string scheme = Location[..Location.IndexOf("://", StringComparison.Ordinal)].ToLowerInvariant();
        // Low-delay demuxing; a read timeout (µs) so a stream that stops sending ends the read and can be reconnected.
        // A 1 s probe instead of ffmpeg's 5 s: the first frame then leaves soon after the stream is joined.
        string[] lowDelay = ["-fflags", "nobuffer", "-flags", "low_delay", "-analyzeduration", "1000000"];
        return scheme switch
        {
            "rtmp" or "rtmps" or "http" or "https" or "tcp" => [.. lowDelay, "-rw_timeout", "5000000", "-i", Location],
            "rtsp" => [.. lowDelay, "-rtsp_transport", "tcp", "-timeout", "5000000", "-i", Location],
            "udp" or "rtp" => [.. lowDelay, "-timeout", "5000000", "-i", Location],
            _ => [.. lowDelay, "-i", Location],
        };
    }

    internal static string Truncate(string text, int max = 120) => text.Length <= max ? text : text[..max] + "…";
}
