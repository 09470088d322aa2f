namespace Video.Capture;

/// <summary>The kinds of output a sink can write, chosen from the output path.</summary>
public enum OutputKind
{
    Mp4,
    Mov,
    Mkv,
    Avi,
    Webm,
    Image,
    PngSequence,
}

/// <summary>Encoder and muxer choices per <see cref="OutputKind"/>.</summary>
public static class OutputKinds
{
    /// <summary>The output kind for a path: a trailing slash or an existing directory means a PNG sequence.</summary>
    public static OutputKind FromPath(string path)
    {
        if (path.EndsWith('/') || Directory.Exists(path))
        {
            return OutputKind.PngSequence;
        }

        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".mp4" or ".m4v" => OutputKind.Mp4,
            ".mov" => OutputKind.Mov,
            ".mkv" => OutputKind.Mkv,
            ".avi" => OutputKind.Avi,
            ".webm" => OutputKind.Webm,
            // Every format a photo is read from is written back, so a folder of photos keeps its file names.
            _ when ImageSequenceSource.IsImagePath(path) => OutputKind.Image,
            "" => throw new MediaException($"output {path} has no extension: use .mp4, .webm, .mkv, .mov, .avi, an image (.png, .jpg) or a directory ending in / for a PNG sequence"),
            string ext => throw new MediaException($"unsupported output type '{ext}': use .mp4, .webm, .mkv, .mov, .avi, an image (.png, .jpg) or a directory ending in / for a PNG sequence"),
        };
    }

    public static bool CarriesAudio(this OutputKind kind) => kind is not (OutputKind.Image or OutputKind.PngSequence);

    /// <summary>The encoder to re-encode <paramref name="codec"/> with, or null when the container can hold it as is.</summary>
    public static string? AudioTranscoder(this OutputKind kind, string codec) => kind switch
    {
        OutputKind.Mkv => null,
        OutputKind.Mp4 => codec is "aac" or "mp3" or "opus" or "ac3" or "eac3" or "alac" or "flac" ? null : "aac",
        OutputKind.Mov => codec is "aac" or "mp3" or "alac" or "ac3" || codec.StartsWith("pcm_", StringComparison.Ordinal) ? null : "aac",
        OutputKind.Webm => codec is "opus" or "vorbis" ? null : "libopus",
        OutputKind.Avi => codec is "mp3" or "ac3" || codec.StartsWith("pcm_", StringComparison.Ordinal) ? null : "libmp3lame",
        _ => null,
    };

    internal static IEnumerable<string> VideoEncoderArguments(this OutputKind kind, int width, int height) => kind switch
    {
        OutputKind.Webm => ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-crf", "32", "-b:v", "0", "-pix_fmt", "yuv420p"],
        OutputKind.Image or OutputKind.PngSequence => [],
        // 4:2:0 needs even sizes; pad odd ones by one pixel rather than fail. superfast: a third of veryfast's CPU for
        // 2 dB less PSNR at the same CRF and a smaller file (docs/realtime.md); VIDEO_X264_PRESET overrides it.
        _ => [.. (width % 2 == 1 || height % 2 == 1 ? new[] { "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2" } : []),
              "-c:v", "libx264", "-preset", Environment.GetEnvironmentVariable("VIDEO_X264_PRESET") ?? "superfast", "-crf", "20", "-pix_fmt", "yuv420p"],
    };

    internal static IEnumerable<string> MuxerArguments(this OutputKind kind, string temporaryPath) => kind switch
    {
        OutputKind.Mp4 => ["-movflags", "+faststart", "-f", "mp4", temporaryPath],
        OutputKind.Mov => ["-movflags", "+faststart", "-f", "mov", temporaryPath],
        OutputKind.Mkv => ["-f", "matroska", temporaryPath],
        OutputKind.Avi => ["-f", "avi", temporaryPath],
        OutputKind.Webm => ["-f", "webm", temporaryPath],
        OutputKind.Image => ["-frames:v", "1", "-update", "1", "-f", "image2", temporaryPath],
        OutputKind.PngSequence => ["-f", "image2", "-start_number", "0", Path.Combine(temporaryPath, "frame_%06d.png")],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

/// <summary>
/// An output path checked before any work starts, with the temporary name the encoder writes to.
/// </summary>
/// <remarks>The temporary file or directory is created at once, which proves the location is writable.</remarks>
public sealed class OutputTarget
{
    private OutputTarget(string finalPath, string temporaryPath, OutputKind kind)
    {
        FinalPath = finalPath;
        TemporaryPath = temporaryPath;
        Kind = kind;
    }

    public string FinalPath { get; }

    public string TemporaryPath { get; }

    public OutputKind Kind { get; }

    /// <summary>Validates <paramref name="outputPath"/> against the input and reserves a temporary name beside it.</summary>
    public static OutputTarget Prepare(string outputPath, string? inputPath)
    {
        var kind = OutputKinds.FromPath(outputPath);
        string full = Path.GetFullPath(outputPath.TrimEnd('/'));
        if (inputPath is not null && !inputPath.Contains("://", StringComparison.Ordinal) && SameFile(full, Path.GetFullPath(inputPath)))
        {
            throw new MediaException($"output {outputPath} is the input; choose another output path");
        }

        string dir = Path.GetDirectoryName(full) ?? "/";
        if (!Directory.Exists(dir))
        {
            throw new MediaException($"cannot write {outputPath}: directory {dir} does not exist");
        }

        if (kind == OutputKind.PngSequence && Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            throw new MediaException($"cannot write {outputPath}: directory exists and is not empty");
        }

        if (kind != OutputKind.PngSequence && Directory.Exists(full))
        {
            throw new MediaException($"cannot write {outputPath}: it is a directory");
        }

        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.partial-{Guid.NewGuid().ToString("N")[..8]}{Path.GetExtension(full)}");
        try
        {
            if (kind == OutputKind.PngSequence)
            {
                Directory.CreateDirectory(tmp);
            }
            else
            {
                using var probe = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write);
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new MediaException($"cannot write {outputPath}: {(e is UnauthorizedAccessException ? "permission denied" : e.Message)}");
        }

        return new OutputTarget(full, tmp, kind);
    }

    /// <summary>Moves the finished temporary output to its final name, replacing what was there.</summary>
    public void Publish()
    {
        if (Kind == OutputKind.PngSequence)
        {
            if (Directory.Exists(FinalPath))
            {
                Directory.Delete(FinalPath);
            }

            Directory.Move(TemporaryPath, FinalPath);
        }
        else
        {
            File.Move(TemporaryPath, FinalPath, overwrite: true);
        }
    }

    /// <summary>Removes the temporary output.</summary>
    public void Discard()
    {
        try
        {
            if (Directory.Exists(TemporaryPath))
            {
                Directory.Delete(TemporaryPath, recursive: true);
            }
            else
            {
                File.Delete(TemporaryPath);
            }
        }
        catch (IOException)
        {
            // Best effort: a leftover hidden .partial file is harmless and named as such.
        }
    }

    private static bool SameFile(string a, string b)
    {
        if (string.Equals(a, b, StringComparison.Ordinal))
        {
            return true;
        }

        try
        {
            var ra = File.Exists(a) ? new FileInfo(a).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? a : a;
            var rb = File.Exists(b) ? new FileInfo(b).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? b : b;
            return string.Equals(ra, rb, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
