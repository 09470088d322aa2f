namespace Video.Capture;

/// <summary>Packed 8-bit pixel layouts a <see cref="Frame"/> can hold.</summary>
public enum PixelFormat
{
    /// <summary>Three bytes per pixel, red first (what ffmpeg's <c>rgb24</c> and the models use).</summary>
    Rgb24,
}

/// <summary>Helpers for <see cref="PixelFormat"/>.</summary>
public static class PixelFormats
{
    /// <summary>Bytes per pixel of <paramref name="format"/>.</summary>
    public static int BytesPerPixel(this PixelFormat format) => format switch
    {
        PixelFormat.Rgb24 => 3,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown pixel format"),
    };

    /// <summary>The ffmpeg <c>-pix_fmt</c> name of <paramref name="format"/>.</summary>
    public static string FfmpegName(this PixelFormat format) => format switch
    {
        PixelFormat.Rgb24 => "rgb24",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown pixel format"),
    };
}
