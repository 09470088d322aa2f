using Google.Protobuf;
using OpenCvSharp;
using Video.Capture;
using Video.Streaming.Protos.V1;
using Frame = Video.Capture.Frame;
using ProtoImage = Video.Streaming.Protos.V1.Image;

namespace Video.Streaming.Grpc.Internal;

/// <summary>
/// A request image checked against its declared layout: raw layouts are validated without copying,
/// JPEG/PNG are decoded (to a BGR <see cref="Mat"/> this value owns).
/// </summary>
internal readonly struct IncomingImage : IDisposable
{
    public IncomingImage(ProtoImage image, int width, int height, int stride, Mat? decoded)
    {
        Source = image;
        Width = width;
        Height = height;
        Stride = stride;
        Decoded = decoded;
    }

    public ProtoImage Source { get; }

    public int Width { get; }

    public int Height { get; }

    public int Stride { get; }

    public Mat? Decoded { get; }

    public void Dispose() => Decoded?.Dispose();
}

/// <summary>Converts between wire images (<see cref="ProtoImage"/>) and RGB24 <see cref="Frame"/>s.</summary>
/// <remarks>Stateless and thread safe. Throws <see cref="StreamingException"/> with messages naming the frame.</remarks>
internal static class ImageCodec
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The encoding a response uses when the config asks for none: the family of the input.</summary>
    public static Encoding ResponseEncoding(Encoding requested, Encoding input) => requested switch
    {
        Encoding.Unspecified => input switch
        {
            Encoding.Bgr24 => Encoding.Bgr24,
            Encoding.Jpeg => Encoding.Jpeg,
            Encoding.Png => Encoding.Png,
            _ => Encoding.Rgb24,
        },
        _ => requested,
    };

    /// <summary>Checks that <paramref name="encoding"/> can be produced as output.</summary>
    public static void CheckOutputEncoding(Encoding encoding)
    {
        if (encoding is not (Encoding.Unspecified or Encoding.Rgb24 or Encoding.Bgr24 or Encoding.Jpeg or Encoding.Png))
        {
            throw new StreamingException(StreamingError.InvalidInput, $"output encoding {Name(encoding)} is not supported; use RGB24, BGR24, JPEG or PNG");
        }
    }

    /// <summary>Validates <paramref name="image"/> (and decodes JPEG/PNG); <paramref name="what"/> names it in messages, e.g. "frame 12".</summary>
    public static IncomingImage Parse(ProtoImage? image, string what, int maxWidth, int maxHeight)
    {
        if (image is null)
        {
            throw Invalid($"{what} has no image");
        }

        var encoding = image.Encoding;
        int dataLength = image.Data.Length;
        switch (encoding)
        {
            case Encoding.Rgb24 or Encoding.Bgr24 or Encoding.I420 or Encoding.Nv12:
            {
                var (w, h) = CheckSize(image, what, maxWidth, maxHeight);
                bool planar = encoding is Encoding.I420 or Encoding.Nv12;
                int bpp = planar ? 1 : 3;
                if (image.Stride > int.MaxValue / 2)
                {
                    throw Invalid($"{what}: stride {image.Stride} is not a plausible row size");
                }

                int stride = image.Stride == 0 ? w * bpp : (int)image.Stride;
                if (stride < w * bpp)
                {
                    throw Invalid($"{what}: stride {stride} is less than one row of {Name(encoding)} {w} pixels wide ({w * bpp} bytes)");
                }

                long needed;
                if (planar)
                {
                    if (w % 2 != 0 || h % 2 != 0 || stride % 2 != 0)
                    {
                        throw Invalid($"{what}: {Name(encoding)} needs an even width, height and stride, got {w}x{h} with stride {stride}");
                    }

                    needed = (long)stride * h * 3 / 2;
                }
                else
                {
                    needed = (long)stride * h;
                }

                // The last row of a packed image may stop at its pixels rather than at the stride.
                long lastRowShort = planar ? needed : (long)stride * (h - 1) + (w * 3);
                if (dataLength != needed && dataLength != lastRowShort)
                {
                    throw Invalid($"{what}: {Name(encoding)} {w}x{h} with stride {stride} needs {needed} bytes, got {dataLength}; check width, height and stride");
                }

                return new IncomingImage(image, w, h, stride, null);
            }

            case Encoding.Jpeg or Encoding.Png:
            {
                var span = image.Data.Span;
                bool looksRight = encoding == Encoding.Jpeg
                    ? span.Length >= 3 && span[0] == 0xFF && span[1] == 0xD8 && span[2] == 0xFF
                    : span.StartsWith(PngSignature);
                if (!looksRight)
                {
                    throw Invalid($"{what}: the {dataLength} bytes are not a {Name(encoding)} file (wrong signature)");
                }

                // The declared size is checked before decoding: a small file can declare 20000x20000 and cost the
                // decoder gigabytes before the size is known otherwise.
                if (ImageHeader.ReadSize(span) is var (dw, dh) && (dw > maxWidth || dh > maxHeight))
                {
                    throw new StreamingException(StreamingError.LimitExceeded, $"{what}: {dw}x{dh} exceeds the server's frame limit of {maxWidth}x{maxHeight}");
                }

                if (ImageHeader.Truncation(span) is { } truncated)
                {
                    throw Invalid($"{what}: corrupt {Name(encoding)} ({dataLength} bytes): {truncated}, it cannot be decoded whole");
                }

                var mat = Cv2.ImDecode(span, ImreadModes.Color);
                if (mat.Empty())
                {
                    mat.Dispose();
                    throw Invalid($"{what}: corrupt {Name(encoding)} ({dataLength} bytes): it cannot be decoded");
                }

                if ((image.Width != 0 && image.Width != mat.Width) || (image.Height != 0 && image.Height != mat.Height))
                {
                    int mw = mat.Width, mh = mat.Height;
                    mat.Dispose();
                    throw Invalid($"{what}: declared {image.Width}x{image.Height} but the {Name(encoding)} is {mw}x{mh}");
                }

                if (mat.Width > maxWidth || mat.Height > maxHeight)
                {
                    int mw = mat.Width, mh = mat.Height;
                    mat.Dispose();
                    throw new StreamingException(StreamingError.LimitExceeded, $"{what}: {mw}x{mh} exceeds the server's frame limit of {maxWidth}x{maxHeight}");
                }

                return new IncomingImage(image, mat.Width, mat.Height, 0, mat);
            }

            default:
                throw Invalid($"{what}: encoding {Name(encoding)} is not supported; use RGB24, BGR24, I420, NV12, JPEG or PNG");
        }
    }

    /// <summary>Writes the image's pixels into <paramref name="frame"/> (RGB24, same size).</summary>
    public static unsafe void CopyTo(in IncomingImage image, Frame frame)
    {
        if (image.Decoded is { } decoded)
        {
            FrameMats.CopyFromBgr(decoded, frame);
            return;
        }

        var src = image.Source.Data.Span;
        int w = image.Width, h = image.Height, stride = image.Stride;
        switch (image.Source.Encoding)
        {
            case Encoding.Rgb24:
                if (stride == frame.Stride && src.Length >= frame.Length)
                {
                    src[..frame.Length].CopyTo(frame.Pixels);
                }
                else
                {
                    for (int y = 0; y < h; y++)
                    {
                        src.Slice(y * stride, w * 3).CopyTo(frame.Row(y));
                    }
                }

                break;
            case Encoding.Bgr24:
                fixed (byte* p = src)
                {
                    using var bgr = Mat.FromPixelData(h, w, MatType.CV_8UC3, (nint)p, stride);
                    using var dst = FrameMats.Wrap(frame);
                    Cv2.CvtColor(bgr, dst, ColorConversionCodes.BGR2RGB);
                }

                break;
            case Encoding.I420 or Encoding.Nv12:
                fixed (byte* p = src)
                {
                    var code = image.Source.Encoding == Encoding.I420 ? ColorConversionCodes.YUV2RGB_I420 : ColorConversionCodes.YUV2RGB_NV12;
                    using var yuv = Mat.FromPixelData(h * 3 / 2, stride, MatType.CV_8UC1, (nint)p);
                    using var dst = FrameMats.Wrap(frame);
                    if (stride == w)
                    {
                        Cv2.CvtColor(yuv, dst, code);
                    }
                    else
                    {
                        using var wide = new Mat();
                        Cv2.CvtColor(yuv, wide, code);
                        using var roi = new Mat(wide, new Rect(0, 0, w, h));
                        roi.CopyTo(dst);
                    }
                }

                break;
            default:
                throw Invalid($"encoding {Name(image.Source.Encoding)} is not supported");
        }
    }

    /// <summary>Encodes an RGB24 frame as <paramref name="encoding"/> (RGB24, BGR24, JPEG or PNG).</summary>
    public static ProtoImage Encode(Frame frame, Encoding encoding, int jpegQuality)
    {
        var image = new ProtoImage { Encoding = encoding, Width = (uint)frame.Width, Height = (uint)frame.Height };
        switch (encoding)
        {
            case Encoding.Rgb24:
                image.Stride = (uint)frame.Stride;
                image.Data = ByteString.CopyFrom(frame.Pixels);
                break;
            case Encoding.Bgr24:
            {
                var bytes = new byte[frame.Length];
                using (var rgb = FrameMats.Wrap(frame))
                using (var bgr = Mat.FromPixelData(frame.Height, frame.Width, MatType.CV_8UC3, bytes, frame.Stride))
                {
                    Cv2.CvtColor(rgb, bgr, ColorConversionCodes.RGB2BGR);
                }

                image.Stride = (uint)frame.Stride;
                image.Data = UnsafeByteOperations.UnsafeWrap(bytes);
                break;
            }

            case Encoding.Jpeg or Encoding.Png:
            {
                using var rgb = FrameMats.Wrap(frame);
                using var bgr = new Mat();
                Cv2.CvtColor(rgb, bgr, ColorConversionCodes.RGB2BGR);
                int[] parameters = encoding == Encoding.Jpeg ? [(int)ImwriteFlags.JpegQuality, jpegQuality] : [(int)ImwriteFlags.PngCompression, 1];
                Cv2.ImEncode(encoding == Encoding.Jpeg ? ".jpg" : ".png", bgr, out byte[] encoded, parameters);
                image.Data = UnsafeByteOperations.UnsafeWrap(encoded);
                break;
            }

            default:
                throw Invalid($"output encoding {Name(encoding)} is not supported; use RGB24, BGR24, JPEG or PNG");
        }

        return image;
    }

    /// <summary>
    /// An RGB24 image over a copy of the frame in a buffer rented from <paramref name="allocator"/>;
    /// the caller disposes <paramref name="rented"/> once the message has been written.
    /// </summary>
    public static ProtoImage EncodeRgb24Pooled(Frame frame, FrameAllocator allocator, out PixelBuffer<byte> rented)
    {
        rented = allocator.Allocate<byte>(frame.Length);
        frame.Pixels.CopyTo(rented.Span);
        return new ProtoImage
        {
            Encoding = Encoding.Rgb24,
            Width = (uint)frame.Width,
            Height = (uint)frame.Height,
            Stride = (uint)frame.Stride,
            Data = UnsafeByteOperations.UnsafeWrap(rented.Memory),
        };
    }

    /// <summary>Short name of an encoding as users write it ("RGB24", "JPEG").</summary>
    public static string Name(Encoding encoding) => encoding switch
    {
        Encoding.Unspecified => "ENCODING_UNSPECIFIED",
        Encoding.Rgb24 => "RGB24",
        Encoding.Bgr24 => "BGR24",
        Encoding.I420 => "I420",
        Encoding.Nv12 => "NV12",
        Encoding.Jpeg => "JPEG",
        Encoding.Png => "PNG",
        _ => $"#{(int)encoding} (unknown)",
    };

    private static (int W, int H) CheckSize(ProtoImage image, string what, int maxWidth, int maxHeight)
    {
        if (image.Width == 0 || image.Height == 0)
        {
            throw Invalid($"{what}: {Name(image.Encoding)} needs a width and a height, got {image.Width}x{image.Height}");
        }

        if (image.Width > maxWidth || image.Height > maxHeight)
        {
            throw new StreamingException(StreamingError.LimitExceeded, $"{what}: {image.Width}x{image.Height} exceeds the server's frame limit of {maxWidth}x{maxHeight}");
        }

        return ((int)image.Width, (int)image.Height);
    }

    private static StreamingException Invalid(string message) => new(StreamingError.InvalidInput, message);
}
