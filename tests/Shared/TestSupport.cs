using System.Globalization;
using System.Text.Json;

namespace Video.Tests.Shared;

/// <summary>
/// Access to <c>../shared/data</c> (real photos and clips). In CI (<c>CI=true</c>) a missing folder fails
/// the test; locally the test is skipped with the reason.
/// </summary>
public static class SharedData
{
    private static readonly Lazy<string?> Root = new(Video.Capture.SharedDataLocator.Find);

    public static string Directory => Root.Value ?? throw new InvalidOperationException("call Require() first");

    /// <summary>Returns the data folder, or skips (locally) / fails (CI) when it is missing.</summary>
    public static string Require()
    {
        if (Root.Value is { } dir)
        {
            return dir;
        }

        const string why = "../shared/data is missing (set VIDEO_SHARED_DATA to its path)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"CI=true but {why}");
        }

        Skip.If(true, why);
        return string.Empty;
    }

    public static IReadOnlyList<string> Videos() =>
        System.IO.Directory.EnumerateFiles(Path.Combine(Require(), "video")).Order(StringComparer.Ordinal).ToList();

    public static string Content(string name) => Path.Combine(Require(), "content", name);
}

/// <summary>The repository root (for models/ and the launcher).</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Models => Path.Combine(Root, "models");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Video.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Video.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary directory removed when disposed.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "video-tests", Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Every entry in the directory, hidden ones included, as names.</summary>
    public IReadOnlyList<string> Entries() =>
        System.IO.Directory.EnumerateFileSystemEntries(Path).Select(p => System.IO.Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToList();

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Makes media with ffmpeg and reads facts back with ffprobe.</summary>
public static class Media
{
    /// <summary>Generates a test clip (testsrc2, optionally with a sine tone).</summary>
    public static string Generate(string path, int width = 160, int height = 96, string rate = "25", double seconds = 1.0, bool audio = true, string? videoCodec = null)
    {
        var args = new List<string> { "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", $"testsrc2=size={width}x{height}:rate={rate}" };
        if (audio)
        {
            args.AddRange(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]);
        }

        args.AddRange(["-t", seconds.ToString(CultureInfo.InvariantCulture)]);
        string ext = System.IO.Path.GetExtension(path);
        args.AddRange(ext == ".webm"
            ? ["-c:v", videoCodec ?? "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k"]
            : ["-c:v", videoCodec ?? "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]);
        if (audio)
        {
            args.AddRange(ext == ".webm" ? ["-c:a", "libopus"] : ["-c:a", "aac"]);
        }

        args.Add(path);
        Run("ffmpeg", args);
        return path;
    }

    /// <summary>Facts about a medium's first video stream, from ffprobe counting decoded frames.</summary>
    public static ProbeResult Probe(string path)
    {
        string json = Run("ffprobe", ["-v", "error", "-count_frames", "-print_format", "json", "-show_streams", "-show_format", path]);
        var root = JsonDocument.Parse(json).RootElement;
        var streams = root.GetProperty("streams").EnumerateArray().ToList();
        var v = streams.First(s => s.GetProperty("codec_type").GetString() == "video");
        string[] rate = v.GetProperty("r_frame_rate").GetString()!.Split('/');
        double fps = double.Parse(rate[0], CultureInfo.InvariantCulture) / double.Parse(rate[1], CultureInfo.InvariantCulture);
        string? durationText = v.TryGetProperty("duration", out var d) ? d.GetString()
            : root.GetProperty("format").TryGetProperty("duration", out var fd) ? fd.GetString() : null;
        double duration = durationText is null or "N/A" ? double.NaN : double.Parse(durationText, CultureInfo.InvariantCulture);
        return new ProbeResult(
            v.GetProperty("width").GetInt32(),
            v.GetProperty("height").GetInt32(),
            fps,
            long.Parse(v.GetProperty("nb_read_frames").GetString()!, CultureInfo.InvariantCulture),
            duration,
            streams.Any(s => s.GetProperty("codec_type").GetString() == "audio"),
            v.GetProperty("codec_name").GetString()!);
    }

    /// <summary>Presentation times of every video frame, in seconds, in display order.</summary>
    public static IReadOnlyList<double> FrameTimes(string path)
    {
        string csv = Run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time", "-of", "csv=p=0", path]);
        return csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => double.Parse(l.TrimEnd(','), CultureInfo.InvariantCulture)).ToList();
    }

    /// <summary>Runs <paramref name="tool"/> (killed after 120 s) and returns its stdout; throws when it fails.</summary>
    public static string Run(string tool, IEnumerable<string> args)
    {
        var result = ChildProcess.Run(tool, args, TimeSpan.FromSeconds(120));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} failed ({result.ExitCode}): {result.Stderr}");
        }

        return result.Stdout;
    }
}

public sealed record ProbeResult(int Width, int Height, double Fps, long Frames, double Duration, bool HasAudio, string Codec);
