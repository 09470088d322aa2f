namespace Video.Capture;

/// <summary>Opens the right <see cref="IFrameSource"/> for a path or URL.</summary>
public static class FrameSources
{
    /// <summary>Default rate for image inputs, which carry none.</summary>
    public static readonly Rational DefaultImageRate = new(25, 1);

    /// <summary>
    /// Opens <paramref name="input"/>: a folder or image file through <see cref="ImageSequenceSource"/>,
    /// anything else (video files, network URLs) through <see cref="FfmpegVideoSource"/>.
    /// </summary>
    public static async Task<IFrameSource> OpenAsync(string input, Rational? imageRate = null, CancellationToken cancellationToken = default)
    {
        if (Directory.Exists(input) || ImageSequenceSource.IsImagePath(input))
        {
            return ImageSequenceSource.Open(input, imageRate ?? DefaultImageRate);
        }

        bool live = input.Contains("://", StringComparison.Ordinal) && !input.StartsWith("file://", StringComparison.Ordinal);
        return await FfmpegVideoSource.OpenAsync(input, live, cancellationToken).ConfigureAwait(false);
    }
}
