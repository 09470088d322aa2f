using OpenCvSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Video.Training.Data;

/// <summary>Converts between image files / OpenCV mats and float tensors (RGB, [0,1], CHW).</summary>
/// <remarks>Every tensor returned is owned by the caller (and by the caller's dispose scope).</remarks>
internal static class ImageTensors
{
    /// <summary>Reads an image as BGR, or returns <c>null</c> when the file is not a readable image.</summary>
    public static Mat? TryRead(string path)
    {
        try
        {
            var m = Cv2.ImRead(path, ImreadModes.Color);
            if (m.Empty())
            {
                m.Dispose();
                return null;
            }

            return m;
        }
        catch (OpenCVException)
        {
            return null;
        }
    }

    /// <summary>Reads an image file into a 3×H×W RGB tensor in [0,1], or throws <see cref="TrainingDataException"/>.</summary>
    public static Tensor Load(string path, int? longSide = null)
    {
        using var bgr = TryRead(path) ?? throw new TrainingDataException($"{path} is not a readable image");
        if (longSide is int side)
        {
            using var resized = ResizeLongSide(bgr, side);
            return FromBgr(resized);
        }

        return FromBgr(bgr);
    }

    /// <summary>
    /// Loads a style image without its outer <paramref name="margin"/> fraction on each side (paintings are often
    /// photographed with a frame or mount, which the Gram loss would otherwise ask for), long side <paramref name="longSide"/>.
    /// </summary>
    public static Tensor LoadStyle(string path, int longSide, double margin = 0.03)
    {
        using var bgr = TryRead(path) ?? throw new TrainingDataException($"{path} is not a readable image");
        int mx = (int)(bgr.Width * margin), my = (int)(bgr.Height * margin);
        using var inner = new Mat(bgr, new Rect(mx, my, bgr.Width - (2 * mx), bgr.Height - (2 * my)));
        using var resized = ResizeLongSide(inner, longSide);
        return FromBgr(resized);
    }

    /// <summary>Resizes so that the longer side is <paramref name="side"/> (area filter when shrinking).</summary>
    public static Mat ResizeLongSide(Mat src, int side)
    {
        double s = (double)side / Math.Max(src.Width, src.Height);
        return Resize(src, Math.Max(1, (int)Math.Round(src.Width * s)), Math.Max(1, (int)Math.Round(src.Height * s)));
    }

    /// <summary>Resizes so that the shorter side is <paramref name="side"/>.</summary>
    public static Mat ResizeShortSide(Mat src, int side)
    {
        double s = (double)side / Math.Min(src.Width, src.Height);
        return Resize(src, Math.Max(side, (int)Math.Round(src.Width * s)), Math.Max(side, (int)Math.Round(src.Height * s)));
    }

    public static Mat Resize(Mat src, int width, int height)
    {
        var dst = new Mat();
        var interp = width < src.Width ? InterpolationFlags.Area : InterpolationFlags.Cubic;
        Cv2.Resize(src, dst, new OpenCvSharp.Size(width, height), interpolation: interp);
        return dst;
    }

    /// <summary>Copies a BGR 8-bit mat into a new 3×H×W RGB float tensor in [0,1].</summary>
    public static Tensor FromBgr(Mat bgr)
    {
        int h = bgr.Height, w = bgr.Width;
        var data = new float[3 * h * w];
        var plane = h * w;
        using var cont = bgr.IsContinuous() ? null : bgr.Clone();
        var src = cont ?? bgr;
        unsafe
        {
            byte* p = (byte*)src.Data;
            long step = src.Step();
            for (int y = 0; y < h; y++)
            {
                byte* row = p + (y * step);
                int o = y * w;
                for (int x = 0; x < w; x++)
                {
                    data[o + x] = row[(3 * x) + 2] / 255f;
                    data[plane + o + x] = row[(3 * x) + 1] / 255f;
                    data[(2 * plane) + o + x] = row[3 * x] / 255f;
                }
            }
        }

        return torch.tensor(data, new long[] { 3, h, w });
    }

    /// <summary>Converts a 3×H×W (or 1×3×H×W) RGB tensor in [0,1] to a BGR 8-bit mat.</summary>
    public static Mat ToBgr(Tensor image)
    {
        using var scope = torch.NewDisposeScope();
        var t = image.dim() == 4 ? image[0] : image;
        t = t.detach().to(ScalarType.Float32).clamp(0, 1).contiguous();
        int h = (int)t.shape[1], w = (int)t.shape[2];
        var data = t.data<float>().ToArray();
        var mat = new Mat(h, w, MatType.CV_8UC3);
        int plane = h * w;
        unsafe
        {
            byte* p = (byte*)mat.Data;
            long step = mat.Step();
            for (int y = 0; y < h; y++)
            {
                byte* row = p + (y * step);
                int o = y * w;
                for (int x = 0; x < w; x++)
                {
                    row[(3 * x) + 2] = ToByte(data[o + x]);
                    row[(3 * x) + 1] = ToByte(data[plane + o + x]);
                    row[3 * x] = ToByte(data[(2 * plane) + o + x]);
                }
            }
        }

        return mat;
    }

    public static void Save(Tensor image, string path)
    {
        using var mat = ToBgr(image);
        if (!Cv2.ImWrite(path, mat))
        {
            throw new TrainingDataException($"cannot write image {path}");
        }
    }

    private static byte ToByte(float v) => (byte)Math.Clamp((int)MathF.Round(v * 255f), 0, 255);
}
