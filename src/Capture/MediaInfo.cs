namespace Video.Capture;

/// <summary>What a probe learned about a medium before decoding it.</summary>
/// <param name="Path">The file or URL.</param>
/// <param name="Width">Display width of the video stream.</param>
/// <param name="Height">Display height of the video stream.</param>
/// <param name="FrameRate">Frames per second as a rational (e.g. 30000/1001).</param>
/// <param name="FrameCount">Frames the container declares, or packets that demuxing counted (an upper bound for VP8/VP9 with hidden frames); null when unknown (live streams).</param>
/// <param name="Duration">Duration of the video stream, when known.</param>
/// <param name="VideoCodec">Codec name of the video stream.</param>
/// <param name="AudioCodec">Codec name of the first audio stream, or null when there is none.</param>
public sealed record MediaInfo(
    string Path,
    int Width,
    int Height,
    Rational FrameRate,
    long? FrameCount,
    TimeSpan? Duration,
    string VideoCodec,
    string? AudioCodec)
{
    /// <summary>True when <see cref="FrameCount"/> was declared by the container rather than estimated from packets.</summary>
    public bool FrameCountExact { get; init; } = true;

    /// <summary>True when the medium has an audio stream.</summary>
    public bool HasAudio => AudioCodec is not null;
}

/// <summary>A positive rational number, as ffmpeg writes frame rates.</summary>
public readonly record struct Rational(int Numerator, int Denominator)
{
    public double Value => Denominator == 0 ? 0 : (double)Numerator / Denominator;

    public static Rational Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], out int n) && int.TryParse(parts[1], out int d) && n > 0 && d > 0)
        {
            return new Rational(n, d);
        }

        if (parts.Length == 1 && double.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out double v) && v > 0)
        {
            return new Rational((int)Math.Round(v * 1000), 1000);
        }

        throw new FormatException($"'{text}' is not a frame rate");
    }

    public override string ToString() => $"{Numerator}/{Denominator}";
}
