using System.Runtime.CompilerServices;
using OpenCvSharp;

namespace Video.Capture;

/// <summary>
/// Reads a single image, or a folder of images (sorted by name) as the frames of one video at a chosen rate.
/// Images whose size differs from the first are resized to it; files that are not readable images are
/// skipped and counted.
/// </summary>
/// <remarks>
/// A folder of unrelated photos is not a video: <c>video stylize</c> reads one only with <c>--sequence</c>, and
/// otherwise opens each photo on its own (<see cref="ListImages"/>, then <see cref="Open"/> per file).
/// </remarks>
public sealed class ImageSequenceSource : IFrameSource
{
    /// <summary>File extensions read as images.</summary>
    public static readonly IReadOnlySet<string> Extensions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm",
    };

    private readonly IReadOnlyList<string> _files;
    private int _next;
    private long _index;

    private ImageSequenceSource(MediaInfo info, IReadOnlyList<string> files)
    {
        Info = info;
        _files = files;
    }

    public MediaInfo Info { get; }

    public bool IsLive => false;

    /// <summary>Files that could not be read as images.</summary>
    public int Skipped { get; private set; }

    /// <summary>Each skipped file and why: "NAME: reason".</summary>
    public IReadOnlyList<string> SkippedFiles => _skippedFiles;

    private readonly List<string> _skippedFiles = [];

    /// <summary>True when <paramref name="path"/> names an image file by its extension.</summary>
    public static bool IsImagePath(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>The image files directly in <paramref name="folder"/>, sorted by name; throws when there are none.</summary>
    public static IReadOnlyList<string> ListImages(string folder)
    {
        var files = Directory.EnumerateFiles(folder).Where(IsImagePath).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            throw new MediaException($"no images in {folder} (looked for {string.Join(' ', Extensions)})");
        }

        return files;
    }

    /// <summary>Opens a folder of images (as the frames of one video) or one image file.</summary>
    public static ImageSequenceSource Open(string path, Rational frameRate)
    {
        MediaProbe.CheckReadable(path);
        IReadOnlyList<string> files = Directory.Exists(path) ? ListImages(path) : [path];

        var skipped = new List<string>();
        foreach (var f in files)
        {
            Mat first;
            try
            {
                first = Read(f);
            }
            catch (ImageReadException e) when (Directory.Exists(path))
            {
                skipped.Add($"{Path.GetFileName(f)}: {e.Reason}");
                continue;
            }

            using (first)
            {
                var info = new MediaInfo(path, first.Width, first.Height, frameRate, files.Count - skipped.Count, TimeSpan.FromSeconds((files.Count - skipped.Count) / frameRate.Value), "image", null);
                var source = new ImageSequenceSource(info, files.Skip(skipped.Count).ToList()) { Skipped = skipped.Count };
                source._skippedFiles.AddRange(skipped);
                return source;
            }
        }

        throw new MediaException($"none of the {files.Count} images in {path} could be read ({string.Join("; ", skipped)})");
    }

    /// <summary>
    /// Reads one image file into a BGR <see cref="Mat"/> the caller owns. PNG and JPEG sizes are checked from the header
    /// before decoding (<see cref="ImageHeader.SizeProblem"/>), and a truncated PNG or JPEG is refused rather than
    /// decoded to a partly grey picture.
    /// </summary>
    /// <exception cref="ImageReadException">The file is unreadable, too large, truncated or not an image.</exception>
    public static Mat Read(string file)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageReadException(file, e is UnauthorizedAccessException ? "permission denied" : e.Message);
        }

        if (ImageHeader.ReadSize(bytes) is var (w, h) && ImageHeader.SizeProblem(w, h) is { } declared)
        {
            throw new ImageReadException(file, declared);
        }

        if (ImageHeader.Truncation(bytes) is { } truncated)
        {
            throw new ImageReadException(file, $"{truncated}: it cannot be read whole");
        }

        var mat = Cv2.ImDecode(bytes, ImreadModes.Color);
        if (mat.Empty())
        {
            mat.Dispose();
            throw new ImageReadException(file, "not a readable image");
        }

        if (ImageHeader.SizeProblem(mat.Width, mat.Height) is { } decoded)
        {
            mat.Dispose();
            throw new ImageReadException(file, decoded);
        }

        return mat;
    }

    public async IAsyncEnumerable<Frame> ReadAllAsync(FramePool pool, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (_next < _files.Count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string file = _files[_next++];
            Mat image;
            try
            {
                image = Read(file);
            }
            catch (ImageReadException e)
            {
                Skipped++;
                _skippedFiles.Add($"{Path.GetFileName(file)}: {e.Reason}");
                continue;
            }

            using var owned = image;

            var frame = await pool.RentAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                FrameMats.CopyFromBgr(image, frame);
            }
            catch
            {
                frame.Dispose();
                throw;
            }

            frame.Index = _index;
            frame.Timestamp = TimeSpan.FromSeconds(_index / Info.FrameRate.Value);
            _index++;
            yield return frame;
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>An image file that cannot be used as input: <see cref="Reason"/> says why (too large, truncated, not an image).</summary>
public sealed class ImageReadException : MediaException
{
    public ImageReadException(string file, string reason)
        : base($"{file}: {reason}")
    {
        File = file;
        Reason = reason;
    }

    /// <summary>The image file.</summary>
    public string File { get; }

    /// <summary>Why it was refused, without the file name.</summary>
    public string Reason { get; }
}
