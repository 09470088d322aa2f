using System.Diagnostics;
using OpenCvSharp;
using TorchSharp;
using Video.Training.Losses;
using static TorchSharp.torch;

namespace Video.Training.Data;

/// <summary>
/// The images of a cartoon (or any target) domain, each kept with its edge-promoted copy (<see cref="CartoonLosses.EdgePromote"/>),
/// sampled as pairs of identical crops. Folders are read recursively. Transparent images (clip art) are composited onto
/// white and cut to their drawn part; those whose drawing is small, sparse or colourless are skipped.
/// </summary>
/// <remarks>Not thread safe. Owns its decoded images; dispose it to free them.</remarks>
internal sealed class CartoonImages : IDisposable
{
    /// <summary>Where Debian's <c>openclipart-png</c> puts its images.</summary>
    public const string OpenClipartDir = "/usr/share/openclipart/png";

    /// <summary>The Debian package of public-domain clip art the cartoon runs use by default.</summary>
    public const string OpenClipartPackage = "openclipart-png";

    /// <summary>A folder with fewer images than this is also read at 1.5× and 2× the working size, for more distinct crops.</summary>
    public const int FewImages = 50;

    private readonly List<(Mat Clean, Mat Blurred)> _images = [];

    private CartoonImages(string directory)
    {
        Directory = directory;
    }

    public string Directory { get; }

    public int Count => _images.Count;

    /// <summary>Files looked at (readable or not).</summary>
    public int Scanned { get; private set; }

    /// <summary>Files skipped: unreadable, or clip art whose drawing is too small, too sparse or too colourless.</summary>
    public int Skipped { get; private set; }

    /// <summary>
    /// Makes sure Debian's clip art is there: installs <see cref="OpenClipartPackage"/> with apt-get (as root, else through
    /// sudo) when <see cref="OpenClipartDir"/> is missing. Throws <see cref="TrainingDataException"/> when that fails.
    /// </summary>
    public static string EnsureOpenClipart()
    {
        if (System.IO.Directory.Exists(OpenClipartDir))
        {
            return OpenClipartDir;
        }

        Console.WriteLine($"cartoon: {OpenClipartDir} is missing; installing Debian's {OpenClipartPackage} (about 150 MB)");
        bool root = Environment.UserName == "root";
        foreach (var args in new[] { "update", $"install -y --no-install-recommends {OpenClipartPackage}" })
        {
            var psi = new ProcessStartInfo(root ? "apt-get" : "sudo", root ? args : "-n apt-get " + args) { UseShellExecute = false };
            psi.Environment["DEBIAN_FRONTEND"] = "noninteractive";
            try
            {
                using var p = Process.Start(psi)!;
                p.WaitForExit();
                if (p.ExitCode != 0 && args != "update")
                {
                    throw new TrainingDataException($"apt-get {args} failed (exit {p.ExitCode}); install {OpenClipartPackage} or give --cartoon DIR");
                }
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new TrainingDataException($"cannot run apt-get ({e.Message}); install {OpenClipartPackage} or give --cartoon DIR");
            }
        }

        return System.IO.Directory.Exists(OpenClipartDir) ? OpenClipartDir
            : throw new TrainingDataException($"{OpenClipartPackage} installed but {OpenClipartDir} is missing; give --cartoon DIR");
    }

    /// <summary>
    /// Loads up to <paramref name="limit"/> usable images of <paramref name="directory"/> (recursively; in a fixed pseudo-random
    /// order, so a limit takes a spread of the folder, not its first subfolder), each scaled to a
    /// <paramref name="shortSide"/> short side.
    /// </summary>
    public static CartoonImages Load(string directory, int shortSide, int limit, int seed = 1)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new TrainingDataException($"data folder not found: {directory}");
        }

        var files = System.IO.Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => ImageFolder.IsImage(f))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            throw new TrainingDataException($"data folder has no images (*.jpg, *.png, …): {directory}");
        }

        var rng = new Random(seed);
        var order = files.OrderBy(_ => rng.Next()).ToList();
        double[] scales = files.Count < FewImages ? [1, 1.5, 2] : [1];
        var set = new CartoonImages(directory);
        foreach (var f in order)
        {
            if (set._images.Count >= limit)
            {
                break;
            }

            set.Scanned++;
            using var drawing = ReadDrawing(f, shortSide);
            if (drawing is null)
            {
                set.Skipped++;
                continue;
            }

            foreach (var s in scales)
            {
                var sized = ImageTensors.ResizeShortSide(drawing, (int)(shortSide * s));
                set._images.Add((sized, CartoonLosses.EdgePromote(sized)));
            }
        }

        if (set._images.Count == 0)
        {
            throw new TrainingDataException($"no usable images in {directory} ({set.Skipped} skipped)");
        }

        return set;
    }

    /// <summary>
    /// Reads an image as BGR; a transparent one is composited onto white and cut to its drawn part (plus a 4 % margin), and
    /// null is returned when that part is smaller than 60 % of <paramref name="shortSide"/>, covers less than half of its box,
    /// or is nearly colourless (mean HSV saturation of the drawn pixels below 0.2). Opaque images are taken as they are.
    /// </summary>
    internal static Mat? ReadDrawing(string path, int shortSide)
    {
        if (PngPixels(path) > MaxPixels)
        {
            return null;
        }

        Mat m;
        try
        {
            m = Cv2.ImRead(path, ImreadModes.Unchanged);
        }
        catch (OpenCVException)
        {
            return null;
        }

        using (m)
        {
            if (m.Empty() || m.Depth() != MatType.CV_8U)
            {
                return null;
            }

            // Work at no more than 4× the working size: the composite below holds float copies of the whole image.
            if (Math.Min(m.Width, m.Height) > 4 * shortSide)
            {
                using var big = m.Clone();
                double f = 4.0 * shortSide / Math.Min(m.Width, m.Height);
                Cv2.Resize(big, m, new OpenCvSharp.Size(Math.Max(1, (int)(m.Width * f)), Math.Max(1, (int)(m.Height * f))), interpolation: InterpolationFlags.Area);
            }

            if (m.Channels() == 3)
            {
                return m.Clone();
            }

            if (m.Channels() == 1)
            {
                var c = new Mat();
                Cv2.CvtColor(m, c, ColorConversionCodes.GRAY2BGR);
                return c;
            }

            if (m.Channels() != 4)
            {
                return null;
            }

            var planes = m.Split();
            try
            {
                using var alpha = planes[3];
                using var mask = new Mat();
                Cv2.Threshold(alpha, mask, 127, 255, ThresholdTypes.Binary);
                var box = Cv2.BoundingRect(mask);
                if (Math.Min(box.Width, box.Height) < 0.6 * shortSide)
                {
                    return null;
                }

                int mx = (int)(box.Width * 0.04), my = (int)(box.Height * 0.04);
                box = new Rect(Math.Max(0, box.X - mx), Math.Max(0, box.Y - my), 0, 0) with
                {
                    Width = Math.Min(m.Width, box.X + box.Width + mx) - Math.Max(0, box.X - mx),
                    Height = Math.Min(m.Height, box.Y + box.Height + my) - Math.Max(0, box.Y - my),
                };
                using var boxMask = new Mat(mask, box);
                double coverage = Cv2.CountNonZero(boxMask) / (double)(box.Width * box.Height);
                if (coverage < 0.5)
                {
                    return null;
                }

                // Composite onto white: out = a·colour + (1 − a)·255.
                using var bgr = new Mat();
                Cv2.Merge([planes[0], planes[1], planes[2]], bgr);
                using var bgrF = new Mat();
                bgr.ConvertTo(bgrF, MatType.CV_32FC3);
                using var a1 = new Mat();
                alpha.ConvertTo(a1, MatType.CV_32F, 1 / 255.0);
                using var a3 = new Mat();
                Cv2.Merge([a1, a1, a1], a3);
                using var inv = new Mat();
                Cv2.Subtract(OpenCvSharp.Scalar.All(1), a3, inv);
                using var fg = new Mat();
                Cv2.Multiply(bgrF, a3, fg);
                using var bg = new Mat();
                Cv2.Multiply(inv, OpenCvSharp.Scalar.All(255), bg);
                using var sum = new Mat();
                Cv2.Add(fg, bg, sum);
                using var composite = new Mat();
                sum.ConvertTo(composite, MatType.CV_8UC3);
                using var cut = new Mat(composite, box);
                using var hsv = new Mat();
                Cv2.CvtColor(cut, hsv, ColorConversionCodes.BGR2HSV);
                double saturation = Cv2.Mean(hsv, boxMask).Val1 / 255.0;
                return saturation < 0.2 ? null : cut.Clone();
            }
            finally
            {
                foreach (var p in planes)
                {
                    p.Dispose();
                }
            }
        }
    }

    /// <summary>Images larger than this many pixels are skipped before decoding (openclipart has posters of 600 Mpx).</summary>
    public const long MaxPixels = 8_000_000;

    /// <summary>Width × height from a PNG's header, or 0 when the file is not a PNG (other formats are decoded as they are).</summary>
    internal static long PngPixels(string path)
    {
        Span<byte> h = stackalloc byte[24];
        using var f = File.OpenRead(path);
        if (f.Read(h) < 24 || h[0] != 0x89 || h[1] != (byte)'P' || h[2] != (byte)'N' || h[3] != (byte)'G')
        {
            return 0;
        }

        return (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(h[16..]) * System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(h[20..]);
    }

    /// <summary>
    /// A batch of random crops (B×3×size×size, [0,1], random horizontal flips) and the same crops of the edge-promoted copies.
    /// </summary>
    public (Tensor Clean, Tensor Blurred) SampleBatch(Random rng, int batch, int size)
    {
        var clean = new Tensor[batch];
        var blurred = new Tensor[batch];
        for (int b = 0; b < batch; b++)
        {
            var (c, e) = _images[rng.Next(_images.Count)];
            int x = rng.Next(Math.Max(1, c.Width - size + 1));
            int y = rng.Next(Math.Max(1, c.Height - size + 1));
            bool flip = rng.Next(2) == 0;
            var rect = new Rect(x, y, Math.Min(size, c.Width), Math.Min(size, c.Height));
            clean[b] = Crop(c, rect, size, flip);
            blurred[b] = Crop(e, rect, size, flip);
        }

        return (torch.stack(clean), torch.stack(blurred));
    }

    private static Tensor Crop(Mat m, Rect rect, int size, bool flip)
    {
        using var roi = new Mat(m, rect);
        using var sized = roi.Width == size && roi.Height == size ? roi.Clone() : ImageTensors.Resize(roi, size, size);
        var t = ImageTensors.FromBgr(sized);
        return flip ? t.flip(2) : t;
    }

    public void Dispose()
    {
        foreach (var (c, e) in _images)
        {
            c.Dispose();
            e.Dispose();
        }

        _images.Clear();
    }
}
