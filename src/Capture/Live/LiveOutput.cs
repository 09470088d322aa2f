using System.Globalization;

namespace Video.Capture.Live;

/// <summary>The kinds of live output <see cref="LiveOutput.Parse"/> recognises.</summary>
public enum LiveOutputKind
{
    /// <summary>A v4l2loopback virtual camera, <c>/dev/videoN</c>, that Zoom, Meet or OBS open as a webcam.</summary>
    VirtualCamera,

    /// <summary>
    /// Raw YUV 4:2:0 frames to a file or fifo, in one of ffmpeg's raw formats (<c>y4m:</c>, <c>rawvideo:</c>,
    /// <c>framemd5:</c>): exactly what a virtual camera receives, with only the last output argument changed.
    /// </summary>
    RawFrames,

    /// <summary>RTMP (FLV, H.264 and AAC) to a server such as nginx-rtmp, OBS or a streaming service.</summary>
    Rtmp,

    /// <summary>MPEG-TS over SRT, UDP or TCP.</summary>
    MpegTs,

    /// <summary>An HLS playlist (<c>.m3u8</c>) with its segments beside it.</summary>
    Hls,

    /// <summary>A recording (.mp4, .mkv, .mov), written to a hidden temporary name and published when the run ends.</summary>
    File,

    /// <summary>A window on the local display (ffplay).</summary>
    Preview,
}

/// <summary>A live output named on the command line, and the ffmpeg arguments that write it.</summary>
public sealed record LiveOutput
{
    private LiveOutput(LiveOutputKind kind, string location, string? rawFormat = null)
    {
        Kind = kind;
        Location = location;
        RawFormat = rawFormat;
    }

    /// <summary>What kind of output this is.</summary>
    public LiveOutputKind Kind { get; }

    /// <summary>The device, URL, file or playlist.</summary>
    public string Location { get; }

    /// <summary>For <see cref="LiveOutputKind.RawFrames"/>: ffmpeg's muxer (<c>yuv4mpegpipe</c>, <c>rawvideo</c>, <c>framemd5</c>).</summary>
    public string? RawFormat { get; }

    /// <summary>True when the output carries the input's audio (not a camera, raw frames or a preview).</summary>
    public bool CarriesAudio => Kind is LiveOutputKind.Rtmp or LiveOutputKind.MpegTs or LiveOutputKind.Hls or LiveOutputKind.File;

    /// <summary>A short name for status lines (a URL without its query string, which may hold a stream key).</summary>
    public string DisplayName => Kind is LiveOutputKind.Rtmp or LiveOutputKind.MpegTs ? LiveInput.Truncate(Location.Split('?')[0]) : Location;

    /// <summary>
    /// Parses an output: <c>/dev/videoN</c> (virtual camera), <c>y4m:PATH</c>, <c>rawvideo:PATH</c> or
    /// <c>framemd5:PATH</c> (the virtual camera's frames to a file), an <c>rtmp://</c>, <c>srt://</c>,
    /// <c>udp://</c> or <c>tcp://</c> URL, a <c>.m3u8</c> playlist, a video file, or <c>preview</c>.
    /// </summary>
    /// <exception cref="VideoException">The text names no output this writes, or its place does not exist.</exception>
    public static LiveOutput Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new VideoException("--output is empty: give /dev/videoN, an rtmp/srt/udp URL, a .m3u8 playlist, a file, or preview");
        }

        if (text == "preview")
        {
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DISPLAY")) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("WAYLAND_DISPLAY")))
            {
                throw new VideoException("--output preview needs a display, and neither DISPLAY nor WAYLAND_DISPLAY is set");
            }

            return new LiveOutput(LiveOutputKind.Preview, "preview");
        }

        if (text.StartsWith("/dev/video", StringComparison.Ordinal))
        {
            if (!File.Exists(text))
            {
                throw new VideoException($"no virtual camera at {text}: load v4l2loopback first (sudo modprobe v4l2loopback video_nr={text["/dev/video".Length..]} card_label=video exclusive_caps=1; see docs/live.md)");
            }

            return VirtualCamera(text);
        }

        foreach (var (prefix, format) in new[] { ("y4m:", "yuv4mpegpipe"), ("rawvideo:", "rawvideo"), ("framemd5:", "framemd5") })
        {
            if (text.StartsWith(prefix, StringComparison.Ordinal))
            {
                string path = text[prefix.Length..];
                CheckDirectory(path);
                return new LiveOutput(LiveOutputKind.RawFrames, path, format);
            }
        }

        int colon = text.IndexOf("://", StringComparison.Ordinal);
        if (colon > 0)
        {
            return text[..colon].ToLowerInvariant() switch
            {
                "rtmp" or "rtmps" => new LiveOutput(LiveOutputKind.Rtmp, text),
                "srt" or "udp" or "tcp" => new LiveOutput(LiveOutputKind.MpegTs, text),
                string scheme => throw new VideoException($"--output {UserText.Quote(text)}: cannot send live to '{scheme}'; use rtmp, srt, udp or tcp"),
            };
        }

        CheckDirectory(text);
        string ext = Path.GetExtension(text).ToLowerInvariant();
        return ext switch
        {
            ".m3u8" => new LiveOutput(LiveOutputKind.Hls, text),
            ".mp4" or ".mkv" or ".mov" => new LiveOutput(LiveOutputKind.File, text),
            _ => throw new VideoException($"--output {UserText.Quote(text)}: unknown output; use /dev/videoN, rtmp/srt/udp/tcp URLs, .m3u8, .mp4/.mkv/.mov, y4m:PATH, or preview"),
        };
    }

    /// <summary>A v4l2loopback device at <paramref name="device"/>, without checking that it exists (for tests on machines without one).</summary>
    internal static LiveOutput VirtualCamera(string device) => new(LiveOutputKind.VirtualCamera, device);

    /// <summary>
    /// ffmpeg's arguments after its inputs: encoder and muxer for this output, writing to <paramref name="target"/>
    /// (the location, or for a recording the temporary name it is published from). <paramref name="withAudio"/> maps
    /// the second input's audio. A preview is not written by ffmpeg (see <see cref="LiveSink"/>).
    /// </summary>
    public IReadOnlyList<string> FfmpegOutputArguments(string target, double frameRate, bool withAudio)
    {
        string rate = frameRate.ToString("0.###", CultureInfo.InvariantCulture);
        int gop = Math.Max(1, (int)Math.Round(frameRate));
        var args = new List<string> { "-map", "0:v:0" };
        if (Kind == LiveOutputKind.Preview)
        {
            throw new InvalidOperationException("a preview is shown by ffplay, not written by ffmpeg");
        }

        if (Kind is LiveOutputKind.VirtualCamera or LiveOutputKind.RawFrames)
        {
            // A camera delivers a steady rate: a dropped frame is filled by repeating the last one.
            args.AddRange(["-fps_mode", "cfr", "-r", rate, "-pix_fmt", "yuv420p"]);
            args.AddRange(["-f", Kind == LiveOutputKind.VirtualCamera ? "v4l2" : RawFormat!, target]);
            return args;
        }

        if (withAudio)
        {
            // The audio is timed by its arrival, like the frames; async resampling fills the gaps a reconnection leaves.
            args.AddRange(["-map", "1:a:0", "-af", "aresample=async=1000", "-c:a", "aac", "-b:a", "128k", "-ar", "48000"]);
        }

        // Live encoding: no lookahead or B-frames, a keyframe every second so a viewer who joins late starts soon.
        args.AddRange([
            "-fps_mode", "cfr", "-r", rate,
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-crf", "23", "-g", gop.ToString(CultureInfo.InvariantCulture),
            "-pix_fmt", "yuv420p",
        ]);
        args.AddRange(Kind switch
        {
            LiveOutputKind.Rtmp => ["-f", "flv", target],
            LiveOutputKind.MpegTs => ["-f", "mpegts", target],
            LiveOutputKind.Hls => ["-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "delete_segments+independent_segments", target],
            _ => OutputKinds.FromPath(Location).MuxerArguments(target),
        });
        return args;
    }

    private static void CheckDirectory(string path)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
        if (!Directory.Exists(dir))
        {
            throw new VideoException($"cannot write {path}: directory {dir} does not exist");
        }
    }
}
