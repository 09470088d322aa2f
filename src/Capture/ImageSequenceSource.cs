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

        int skipped = 0;
        foreach (var f in files)
        {
            using var first = Cv2.ImRead(f, ImreadModes.Color);
            if (first.Empty())
            {
                skipped++;
                continue;
            }

            var info = new MediaInfo(path, first.Width, first.Height, frameRate, files.Count - skipped, TimeSpan.FromSeconds((files.Count - skipped) / frameRate.Value), "image", null);
            return new ImageSequenceSource(info, files.Skip(skipped).ToList()) { Skipped = skipped };
        }

        throw new MediaException(Directory.Exists(path) ? $"none of the {files.Count} images in {path} could be read" : $"{path} is not a readable image");
    }

    public async IAsyncEnumerable<Frame> ReadAllAsync(FramePool pool, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (_next < _files.Count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var image = Cv2.ImRead(_files[_next++], ImreadModes.Color);
            if (image.Empty())
            {
                Skipped++;
                continue;
            }

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
