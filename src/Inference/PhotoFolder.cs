using Video.Capture;

namespace Video.Inference;

/// <summary>What <see cref="PhotoFolder.StylizeAsync"/> wrote: file names in the output folder, and those it skipped.</summary>
public sealed record PhotoFolderResult(string OutputFolder, IReadOnlyList<string> Written, IReadOnlyList<string> Skipped)
{
    /// <summary>Each skipped file with the reason, "NAME: reason" (truncated, too large, not an image), in <see cref="Skipped"/>'s order.</summary>
    public IReadOnlyList<string> SkipReasons { get; init; } = [];
}

/// <summary>
/// Stylizes a folder of photos one by one: each keeps its own size and its file name in the output folder.
/// A folder whose images are the frames of one video is read by <see cref="ImageSequenceSource"/> instead.
/// </summary>
/// <remarks>
/// Each photo is one run of the given <see cref="StylizePipeline"/>, from a one-image source into an image sink
/// of the photo's size and format, so photos go through exactly the steps a video frame does. The output folder
/// is written under a hidden temporary name beside it and renamed when every photo is done, so a failed or
/// cancelled run leaves nothing. Files that are not readable images are skipped and named in the result.
/// </remarks>
internal static class PhotoFolder
{
    /// <summary>
    /// Stylizes every image directly in <paramref name="inputFolder"/> into <paramref name="outputFolder"/>
    /// (a new or empty folder). <paramref name="stats"/> counts all photos together.
    /// </summary>
    public static async Task<PhotoFolderResult> StylizeAsync(StylizePipeline pipeline, string inputFolder, string outputFolder, PipelineStats? stats = null, CancellationToken cancellationToken = default)
    {
        MediaProbe.CheckReadable(inputFolder);
        if (!Directory.Exists(inputFolder))
        {
            throw new MediaException($"{inputFolder} is not a folder of photos");
        }

        if (OutputKinds.FromPath(outputFolder) != OutputKind.PngSequence)
        {
            throw new MediaException($"{inputFolder} is a folder of photos, written one by one into a folder: use a folder as output ({Path.TrimEndingDirectorySeparator(outputFolder)}/)");
        }

        var photos = ImageSequenceSource.ListImages(inputFolder);
        stats ??= new PipelineStats();
        stats.FramesExpected = photos.Count;
        var target = OutputTarget.Prepare(outputFolder.EndsWith('/') ? outputFolder : outputFolder + "/", inputFolder);
        var written = new List<string>();
        var skipped = new List<string>();
        var reasons = new List<string>();
        try
        {
            foreach (string photo in photos)
            {
                string name = Path.GetFileName(photo);
                ImageSequenceSource source;
                try
                {
                    source = ImageSequenceSource.Open(photo, FrameSources.DefaultImageRate);
                }
                catch (MediaException e)
                {
                    skipped.Add(name);
                    reasons.Add($"{name}: {(e is ImageReadException r ? r.Reason : e.Message)}");
                    stats.FramesExpected--;
                    continue;
                }

                await using (source.ConfigureAwait(false))
                {
                    var info = source.Info;
                    var sink = FfmpegVideoSink.Create(Path.Combine(target.TemporaryPath, name), info.Width, info.Height, info.FrameRate, audioFrom: null);
                    await using (sink.ConfigureAwait(false))
                    {
                        await pipeline.RunAsync(source, sink, stats, cancellationToken).ConfigureAwait(false);
                    }
                }

                written.Add(name);
            }

            if (written.Count == 0)
            {
                throw new MediaException($"none of the {photos.Count} images in {inputFolder} could be read ({string.Join("; ", reasons)})");
            }

            target.Publish();
        }
        catch
        {
            target.Discard();
            throw;
        }

        return new PhotoFolderResult(target.FinalPath, written, skipped) { SkipReasons = reasons };
    }
}
