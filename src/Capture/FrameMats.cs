using OpenCvSharp;

namespace Video.Capture;

/// <summary>Bridges between <see cref="Frame"/> and OpenCV <see cref="Mat"/> without copying where possible.</summary>
public static class FrameMats
{
    /// <summary>
    /// A <see cref="Mat"/> header over the frame's pixels (no copy). The frame must outlive the Mat;
    /// dispose the Mat first.
    /// </summary>
    public static unsafe Mat Wrap(Frame frame)
    {
        fixed (byte* p = frame.Pixels)
        {
            // Frame memory is allocated pinned, so the address stays valid after this block.
            return Mat.FromPixelData(frame.Height, frame.Width, MatType.CV_8UC3, (nint)p, frame.Stride);
        }
    }

    /// <summary>Copies a BGR image into an RGB24 frame, resizing when the sizes differ.</summary>
    public static void CopyFromBgr(Mat bgr, Frame frame)
    {
        using var dst = Wrap(frame);
        using var resized = bgr.Width == frame.Width && bgr.Height == frame.Height ? null : new Mat();
        if (resized is not null)
        {
            Cv2.Resize(bgr, resized, new Size(frame.Width, frame.Height), interpolation: InterpolationFlags.Area);
        }

        var src = resized ?? bgr;
        if (frame.Format == PixelFormat.Rgb24)
        {
            Cv2.CvtColor(src, dst, ColorConversionCodes.BGR2RGB);
        }
        else
        {
            src.CopyTo(dst);
        }
    }

    /// <summary>Reads an image file into a new unpooled RGB24 frame with memory from <paramref name="allocator"/> (or the default).</summary>
    public static Frame LoadRgb(string path, FrameAllocator? allocator = null)
    {
        MediaProbe.CheckReadable(path);
        using var image = Cv2.ImRead(path, ImreadModes.Color);
        if (image.Empty())
        {
            throw new MediaException($"{path} is not a readable image");
        }

        var frame = (allocator ?? FrameAllocator.Default).AllocateFrame(image.Width, image.Height);
        try
        {
            CopyFromBgr(image, frame);
            return frame;
        }
        catch
        {
            frame.Dispose();
            throw;
        }
    }

    /// <summary>Writes an RGB24 frame to an image file (format from the extension).</summary>
    public static void SaveRgb(Frame frame, string path)
    {
        using var rgb = Wrap(frame);
        using var bgr = new Mat();
        Cv2.CvtColor(rgb, bgr, ColorConversionCodes.RGB2BGR);
        if (!Cv2.ImWrite(path, bgr))
        {
            throw new MediaException($"cannot write image {path}");
        }
    }
}
