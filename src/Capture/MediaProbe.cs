using System.Globalization;
using System.Text.Json;
using Video.Capture.Internal;

namespace Video.Capture;

/// <summary>Reads a medium's streams with ffprobe.</summary>
public static class MediaProbe
{
    /// <summary>Probes <paramref name="path"/>; throws <see cref="MediaException"/> with a one-line reason when it is not a readable video.</summary>
    public static async Task<MediaInfo> ProbeAsync(string path, CancellationToken cancellationToken = default)
    {
        bool isUrl = path.Contains("://", StringComparison.Ordinal);
        if (!isUrl)
        {
            CheckReadable(path);
        }

        var (code, json, stderr) = await ToolProcess.RunAsync(
            "ffprobe",
            ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", path],
            cancellationToken).ConfigureAwait(false);
        if (code != 0)
        {
            throw new MediaException($"cannot read {path}: {ToolProcess.SummarizeStderr(stderr)}");
        }

        JsonElement root;
        try
        {
            root = JsonDocument.Parse(json).RootElement;
        }
        catch (JsonException)
        {
            throw new MediaException($"cannot read {path}: ffprobe gave no usable description");
        }

        JsonElement? video = null;
        string? audioCodec = null;
        if (root.TryGetProperty("streams", out var streams))
        {
            foreach (var s in streams.EnumerateArray())
            {
                string type = Str(s, "codec_type") ?? string.Empty;
                if (type == "video" && video is null && !IsAttachedPicture(s))
                {
                    video = s;
                }
                else if (type == "audio" && audioCodec is null)
                {
                    audioCodec = Str(s, "codec_name") ?? "unknown";
                }
            }
        }

        if (video is not { } v)
        {
            throw new MediaException($"{path} has no video stream");
        }

        int width = v.TryGetProperty("width", out var w) ? w.GetInt32() : 0;
        int height = v.TryGetProperty("height", out var h) ? h.GetInt32() : 0;
        if (width <= 0 || height <= 0)
        {
            throw new MediaException($"{path}: video stream has no frame size");
        }

        if (Math.Abs(Rotation(v)) % 180 == 90)
        {
            (width, height) = (height, width);
        }

        string codec = Str(v, "codec_name") ?? "unknown";
        string format = root.TryGetProperty("format", out var fe) ? Str(fe, "format_name") ?? string.Empty : string.Empty;
        bool isImage = format == "image2" || format.EndsWith("_pipe", StringComparison.Ordinal);
        Rational rate = ParseRate(Str(v, "avg_frame_rate")) ?? ParseRate(Str(v, "r_frame_rate")) ?? new Rational(25, 1);
        TimeSpan? duration = Seconds(Str(v, "duration")) ?? (root.TryGetProperty("format", out var f) ? Seconds(Str(f, "duration")) : null);

        long? frames = long.TryParse(Str(v, "nb_frames"), out long n) && n > 0 ? n : null;
        bool exact = frames is not null;
        if (isImage)
        {
            frames = 1;
            exact = true;
        }
        else if (frames is null && !isUrl)
        {
            frames = await CountPacketsAsync(path, cancellationToken).ConfigureAwait(false);
        }

        return new MediaInfo(path, width, height, rate, frames, duration, codec, audioCodec) { FrameCountExact = exact };
    }

    /// <summary>Throws <see cref="MediaException"/> when <paramref name="path"/> is missing, empty or unreadable (directories pass).</summary>
    public static void CheckReadable(string path)
    {
        if (Directory.Exists(path))
        {
            return;
        }

        if (!File.Exists(path))
        {
            throw new MediaException($"input not found: {path}");
        }

        try
        {
            using var s = File.OpenRead(path);
            if (s.Length == 0)
            {
                throw new MediaException($"input is empty: {path}");
            }
        }
        catch (UnauthorizedAccessException)
        {
            throw new MediaException($"input is not readable (permission denied): {path}");
        }
        catch (IOException e)
        {
            throw new MediaException($"input is not readable: {path}: {e.Message}");
        }
    }

    private static async Task<long?> CountPacketsAsync(string path, CancellationToken cancellationToken)
    {
        var (code, stdout, _) = await ToolProcess.RunAsync(
            "ffprobe",
            ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path],
            cancellationToken).ConfigureAwait(false);
        return code == 0 && long.TryParse(stdout.Trim().TrimEnd(','), out long n) && n > 0 ? n : null;
    }

    private static bool IsAttachedPicture(JsonElement stream) =>
        stream.TryGetProperty("disposition", out var d) && d.TryGetProperty("attached_pic", out var a) && a.GetInt32() == 1;

    private static int Rotation(JsonElement stream)
    {
        if (stream.TryGetProperty("side_data_list", out var list))
        {
            foreach (var sd in list.EnumerateArray())
            {
                if (sd.TryGetProperty("rotation", out var r) && r.TryGetInt32(out int deg))
                {
                    return deg;
                }
            }
        }

        return stream.TryGetProperty("tags", out var tags) && int.TryParse(Str(tags, "rotate"), out int rot) ? rot : 0;
    }

    private static Rational? ParseRate(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        try
        {
            return Rational.Parse(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static TimeSpan? Seconds(string? text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0 ? TimeSpan.FromSeconds(s) : null;

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) ? p.ValueKind == JsonValueKind.String ? p.GetString() : p.ToString() : null;
}
