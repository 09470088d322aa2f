using Video.Capture;
using Video.Inference.Internal;

namespace Video.Inference;

/// <summary>What a <see cref="StylizeJob"/> wrote.</summary>
/// <remarks>For a video (or an image, or a <see cref="StylizeJob.Sequence"/> folder) the size, rate, audio note and tensor size describe the one output; for a folder of photos <see cref="Photos"/> lists them and the other fields are zero.</remarks>
public sealed record StylizeJobResult(string Output, PipelineStats Stats)
{
    /// <summary>Frame size of the output video.</summary>
    public int Width { get; init; }

    public int Height { get; init; }

    public Rational FrameRate { get; init; }

    /// <summary>What happened to the input's audio (for example "audio re-encoded to aac"); null when nothing needs saying.</summary>
    public string? AudioNote { get; init; }

    /// <summary>The tensor size the model ran at.</summary>
    public (int Width, int Height) TensorSize { get; init; }

    /// <summary>Frames the temporal filter blended with the previous output (reported by <see cref="StylizeJob.RunOverStylizedAsync"/>).</summary>
    public long FramesBlended { get; init; }

    /// <summary>Scene cuts the temporal filter detected (reported by <see cref="StylizeJob.RunOverStylizedAsync"/>).</summary>
    public long SceneCuts { get; init; }

    /// <summary>The photos written and skipped, when the input was a folder of photos; null otherwise.</summary>
    public PhotoFolderResult? Photos { get; init; }
}

/// <summary>
/// The one way to stylize media into a target: a video file, network URL, image, folder of photos or
/// (<see cref="Sequence"/>) folder of frames in, a video, image, PNG sequence or folder of photos out. It serves
/// <c>video stylize</c>, the flicker table, the bench's pipeline case and <c>eval temporal-apply</c>
/// (<see cref="RunOverStylizedAsync"/>); each of them only fills in the options.
/// </summary>
/// <remarks>
/// A job is an immutable description; <see cref="RunAsync"/> opens the source and the sink, runs
/// <see cref="StylizePipeline"/> and publishes the output only on success (the sinks write hidden temporary
/// files). A folder of photos runs the same pipeline once per photo (<see cref="PhotoFolder"/>). The stylizer
/// is borrowed: one stylizer can run many jobs, one after the other or at once.
/// </remarks>
public sealed record StylizeJob(string Input, string Output)
{
    /// <summary>Frame rate of an image written as a video, or of a <see cref="Sequence"/> folder (default 25).</summary>
    public Rational? ImageRate { get; init; }

    /// <summary>
    /// Read a folder of images as the frames of one video (sorted by name, resized to the first one's size);
    /// without it, each photo of a folder is stylized on its own, at its size, under its name.
    /// </summary>
    public bool Sequence { get; init; }

    /// <summary>Stop after this many frames (for quick evaluation runs on long clips); null = all.</summary>
    public long? MaxFrames { get; init; }

    /// <summary>Copy the input's audio into the output when the output can hold it.</summary>
    public bool KeepAudio { get; init; } = true;

    /// <summary>Inference size, temporal filter, style, α and colour preservation.</summary>
    public PipelineOptions Pipeline { get; init; } = new();

    /// <summary>Where frame and tensor memory comes from; null uses <see cref="FrameAllocator.Default"/>.</summary>
    public FrameAllocator? Allocator { get; init; }

    /// <summary>
    /// Style images with weights for AdaIN models, encoded and mixed when the job runs; ignored when
    /// <see cref="PipelineOptions.Style"/> is already set (callers that reuse one style for many jobs).
    /// </summary>
    public IReadOnlyList<(string Path, float Weight)> StyleImages { get; init; } = [];

    /// <summary>True for network inputs (anything with a scheme), which are not checked on disk.</summary>
    public bool IsUrl => Input.Contains("://", StringComparison.Ordinal);

    /// <summary>True when the input is a folder of photos, each stylized on its own.</summary>
    public bool IsPhotoFolder => !IsUrl && !Sequence && Directory.Exists(Input);

    /// <summary>The output used when none is given: <c>INPUT-MODEL.mp4</c>, <c>.png</c> for an image, or <c>INPUT-MODEL/</c> for a folder of photos, in the current directory.</summary>
    public static string DefaultOutput(string input, string model, bool sequence)
    {
        var job = new StylizeJob(input, string.Empty) { Sequence = sequence };
        string stem = job.IsUrl ? "stream" : Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(input));
        string ext = job.IsPhotoFolder ? "/" : ImageSequenceSource.IsImagePath(input) ? ".png" : ".mp4";
        return Path.Combine(Environment.CurrentDirectory, $"{stem}-{model}{ext}");
    }

    /// <summary>
    /// The checks on the input that need no model, no output and no process: the input is readable and the
    /// options fit it. Callers run it before they load a model, so that bad input fails first.
    /// </summary>
    /// <exception cref="VideoException">With a message a user can act on.</exception>
    public void ValidateInput()
    {
        Pipeline.Temporal.Validate();
        if (!IsUrl)
        {
            MediaProbe.CheckReadable(Input);
        }

        bool folder = !IsUrl && Directory.Exists(Input);
        if (Sequence && !folder)
        {
            throw new VideoException($"--sequence reads a folder of images as one video, and {Input} is not a folder");
        }

        if (folder && !Sequence && ImageRate is not null)
        {
            throw new VideoException($"--fps is the frame rate of an image sequence: add --sequence to read {Input} as the frames of one video");
        }

        if (MaxFrames is <= 0)
        {
            throw new VideoException($"the frame limit {MaxFrames} is not positive");
        }
    }

    /// <summary><see cref="ValidateInput"/>, then the output: a kind the job can write, and a folder for a folder of photos.</summary>
    /// <exception cref="VideoException">With a message a user can act on.</exception>
    public void Validate()
    {
        ValidateInput();
        ValidateOutput();
    }

    /// <summary>The output is a kind the job can write, and a folder for a folder of photos.</summary>
    private void ValidateOutput()
    {
        if (IsPhotoFolder)
        {
            if (!Output.EndsWith('/') && !Directory.Exists(Output))
            {
                throw new VideoException($"{Input} is a folder of photos, each stylized at its own size into a folder: use -o DIR/, or --sequence to read it as the frames of one video");
            }

            return;
        }

        OutputKinds.FromPath(Output);
    }

    /// <summary>
    /// Validates, stylizes the input into <see cref="Output"/> with <paramref name="stylizer"/> and completes it.
    /// <paramref name="stats"/> (for a progress display) counts frames, or all photos together.
    /// </summary>
    public async Task<StylizeJobResult> RunAsync(Stylizer stylizer, PipelineStats? stats = null, CancellationToken cancellationToken = default)
    {
        Validate();
        stats ??= new PipelineStats();
        var pipeline = new StylizePipeline(stylizer, Pipeline with { Style = Pipeline.Style ?? EncodeStyles(stylizer) }, Allocator);
        if (IsPhotoFolder)
        {
            var photos = await PhotoFolder.StylizeAsync(pipeline, Input, Output, stats, cancellationToken).ConfigureAwait(false);
            return new StylizeJobResult(Output, stats) { Photos = photos };
        }

        await using var source = await OpenSourceAsync(cancellationToken).ConfigureAwait(false);
        var info = source.Info;
        await using var sink = FfmpegVideoSink.Create(Output, info.Width, info.Height, info.FrameRate, KeepAudio ? info : null);
        await pipeline.RunAsync(source, sink, stats, cancellationToken).ConfigureAwait(false);
        return new StylizeJobResult(Output, stats)
        {
            Width = info.Width,
            Height = info.Height,
            FrameRate = info.FrameRate,
            AudioNote = sink.AudioNote,
            TensorSize = stylizer.InferenceSize(info.Width, info.Height, Pipeline.InferenceSize),
        };
    }

    /// <summary>
    /// The job's temporal filter (<see cref="PipelineOptions.Temporal"/>) over frames that any stylizer already
    /// wrote to <paramref name="stylized"/>, guided by the input: the work the pipeline's temporal stage does,
    /// with the model's output read from a file, so the filter can be measured on other stylizers' output.
    /// The audio, when kept, comes from <paramref name="stylized"/>.
    /// </summary>
    /// <exception cref="VideoException">The two clips differ in size or frame count, or the options are bad.</exception>
    public async Task<StylizeJobResult> RunOverStylizedAsync(string stylized, PipelineStats? stats = null, CancellationToken cancellationToken = default)
    {
        ValidateInput();
        MediaProbe.CheckReadable(stylized);
        ValidateOutput();
        stats ??= new PipelineStats();
        await using var source = await OpenSourceAsync(cancellationToken).ConfigureAwait(false);
        await using var styled = await FrameSources.OpenAsync(stylized, null, cancellationToken).ConfigureAwait(false);
        var info = styled.Info;
        if (source.Info.Width != info.Width || source.Info.Height != info.Height)
        {
            throw new VideoException($"{stylized} is {info.Width}x{info.Height} but {Input} is {source.Info.Width}x{source.Info.Height}");
        }

        using var pool = (Allocator ?? FrameAllocator.Default).CreatePool(info.Width, info.Height, PixelFormat.Rgb24, 4);
        using var filter = new Temporal.TemporalFilter(info.Width, info.Height, Pipeline.Temporal);
        await using var sink = FfmpegVideoSink.Create(Output, info.Width, info.Height, info.FrameRate, KeepAudio ? info : null);
        stats.TemporalEnabled = true;
        stats.Start();
        await using var inputs = source.ReadAllAsync(pool, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using var outputs = styled.ReadAllAsync(pool, cancellationToken).GetAsyncEnumerator(cancellationToken);
        long index = 0;
        while (true)
        {
            using var input = await inputs.MoveNextAsync().ConfigureAwait(false) ? inputs.Current : null;
            using var frame = await outputs.MoveNextAsync().ConfigureAwait(false) ? outputs.Current : null;
            if (input is null && frame is null)
            {
                break;
            }

            if (input is null || frame is null)
            {
                throw new VideoException($"{(input is null ? Input : stylized)} has {index} frames but {(input is null ? stylized : Input)} has more");
            }

            input.Index = index;
            frame.Index = index;
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            filter.ObserveInput(input);
            filter.Apply(frame);
            stats.TemporalTicks += System.Diagnostics.Stopwatch.GetTimestamp() - t0;
            await sink.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            stats.FrameOut();
            index++;
        }

        await sink.CompleteAsync(cancellationToken).ConfigureAwait(false);
        stats.Stop();
        return new StylizeJobResult(Output, stats)
        {
            Width = info.Width,
            Height = info.Height,
            FrameRate = info.FrameRate,
            AudioNote = sink.AudioNote,
            FramesBlended = filter.FramesBlended,
            SceneCuts = filter.SceneCuts,
        };
    }

    /// <summary>The input as frames, cut to <see cref="MaxFrames"/>.</summary>
    private async Task<IFrameSource> OpenSourceAsync(CancellationToken cancellationToken)
    {
        var source = await FrameSources.OpenAsync(Input, ImageRate, cancellationToken).ConfigureAwait(false);
        return MaxFrames is { } n ? new LimitedFrameSource(source, n) : source;
    }

    /// <summary>Encodes and mixes <see cref="StyleImages"/> for a model that takes a style; null for one that does not.</summary>
    private StyleStatistics? EncodeStyles(Stylizer stylizer)
    {
        float alpha = Pipeline.Alpha;
        if (alpha is < 0 or > 1 || float.IsNaN(alpha))
        {
            throw new VideoException($"--alpha {alpha} is outside [0, 1]");
        }

        if (!stylizer.TakesStyle)
        {
            if (StyleImages.Count > 0)
            {
                throw new VideoException($"model '{stylizer.Manifest.Name}' ({stylizer.Manifest.Family.ToString().ToLowerInvariant()}) has its style built in; --style needs an AdaIN model");
            }

            return null;
        }

        if (StyleImages.Count == 0)
        {
            throw new VideoException($"model '{stylizer.Manifest.Name}' is an AdaIN model and needs a style: --style IMAGE");
        }

        var encoded = new List<(StyleStatistics, float)>();
        foreach (var (path, weight) in StyleImages)
        {
            using var image = FrameMats.LoadRgb(path, Allocator);
            encoded.Add((stylizer.EncodeStyle(image), weight));
        }

        return StyleStatistics.Mix(encoded);
    }
}
