using System.Buffers.Binary;

namespace Video.Capture;

/// <summary>
/// What a PNG or JPEG file says about itself before it is decoded: its declared size, and whether it ends where
/// the format says it must. Used to refuse an image before a decoder spends memory on it.
/// </summary>
/// <remarks>
/// A 1.2 MB PNG can declare 20000x20000 pixels and cost a decoder over 1 GB, so the size is read from the PNG
/// <c>IHDR</c> chunk or the JPEG start-of-frame marker first (issue 18, case 4). A truncated JPEG decodes to a
/// partly grey picture without an error, so completeness is checked here too. Stateless and thread safe.
/// </remarks>
public static class ImageHeader
{
    /// <summary>Most pixels an image input to <c>video stylize</c> may have (8192x8192).</summary>
    public const long MaxImagePixels = 8192L * 8192;

    /// <summary>Longest side an image input to <c>video stylize</c> may have.</summary>
    public const int MaxImageSide = 16384;

    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>True when <paramref name="data"/> starts like a PNG file.</summary>
    public static bool IsPng(ReadOnlySpan<byte> data) => data.StartsWith(PngSignature);

    /// <summary>True when <paramref name="data"/> starts like a JPEG file.</summary>
    public static bool IsJpeg(ReadOnlySpan<byte> data) => data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;

    /// <summary>The size a PNG or JPEG declares, or null when the data is neither or its header is cut short.</summary>
    public static (int Width, int Height)? ReadSize(ReadOnlySpan<byte> data)
    {
        if (IsPng(data))
        {
            // Signature (8), then the IHDR chunk: length (4), type (4), width (4), height (4), big-endian.
            if (data.Length < 24 || !data[12..16].SequenceEqual("IHDR"u8))
            {
                return null;
            }

            uint w = BinaryPrimitives.ReadUInt32BigEndian(data[16..]);
            uint h = BinaryPrimitives.ReadUInt32BigEndian(data[20..]);
            return ((int)Math.Min(w, int.MaxValue), (int)Math.Min(h, int.MaxValue));
        }

        if (IsJpeg(data))
        {
            int frame = FindMarker(data, static m => m is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC);
            if (frame < 0 || frame + 9 > data.Length)
            {
                return null;
            }

            // SOFn: marker (2), length (2), precision (1), height (2), width (2).
            return (BinaryPrimitives.ReadUInt16BigEndian(data[(frame + 7)..]), BinaryPrimitives.ReadUInt16BigEndian(data[(frame + 5)..]));
        }

        return null;
    }

    /// <summary>Why a PNG or JPEG is incomplete (cut short after its header), or null when it ends properly or is neither.</summary>
    public static string? Truncation(ReadOnlySpan<byte> data)
    {
        if (IsPng(data))
        {
            return data.IndexOf("IEND"u8) < 0 ? "truncated PNG (no IEND chunk)" : null;
        }

        if (IsJpeg(data))
        {
            // Inside entropy-coded data a 0xFF byte is followed by 0x00 or a restart marker, so FF D9 after the
            // first scan can only be the end-of-image marker.
            int scan = FindMarker(data, static m => m == 0xDA);
            return scan < 0 || data[scan..].IndexOf([(byte)0xFF, (byte)0xD9]) < 0 ? "truncated JPEG (no end-of-image marker)" : null;
        }

        return null;
    }

    /// <summary>Why an image of this size is not taken as a <c>video stylize</c> input, or null when it is.</summary>
    public static string? SizeProblem(int width, int height) =>
        width > MaxImageSide || height > MaxImageSide || (long)width * height > MaxImagePixels
            ? $"{width}x{height} ({(long)width * height / 1e6:0.#} Mpx) is over the image limit of {MaxImagePixels / 1e6:0.#} Mpx (8192x8192) with sides up to {MaxImageSide}; scale it down first"
            : null;

    /// <summary>The offset of the first JPEG marker (from the header segments) whose code <paramref name="match"/> accepts; -1 if none comes before the scan data.</summary>
    private static int FindMarker(ReadOnlySpan<byte> data, Func<byte, bool> match)
    {
        int i = 2;
        while (i + 4 <= data.Length)
        {
            if (data[i] != 0xFF)
            {
                return -1;
            }

            byte marker = data[i + 1];
            if (marker == 0xFF)
            {
                i++;
                continue;
            }

            if (match(marker))
            {
                return i;
            }

            if (marker == 0xDA || marker == 0xD9)
            {
                return -1;
            }

            if (marker is (>= 0xD0 and <= 0xD7) or 0x01)
            {
                i += 2;
                continue;
            }

            i += 2 + BinaryPrimitives.ReadUInt16BigEndian(data[(i + 2)..]);
        }

        return -1;
    }
}
