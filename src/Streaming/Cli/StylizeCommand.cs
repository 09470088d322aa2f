using System.CommandLine;
using System.Globalization;
using Video.Capture;
using Video.Inference;
using Video.Inference.Temporal;

namespace Video.Streaming.Cli;

/// <summary>What <c>video stylize</c> was asked to do.</summary>
internal sealed record StylizeRequest(
    string Input,
    string? Output,
    string Model,
    (int Width, int Height)? Size,
    Device Device,
    string? ModelsDirectory,
    double? ImageFps,
    bool Progress)
{
    /// <summary>Style images with weights, for AdaIN models (<c>--style a.jpg --style b.jpg=0.3</c>).</summary>
    public IReadOnlyList<(string Path, float Weight)> Styles { get; init; } = [];

    /// <summary>Content/style trade-off for AdaIN models.</summary>
    public float Alpha { get; init; } = 1f;

    /// <summary>Keep the input's colours.</summary>
    public bool PreserveColor { get; init; }

    /// <summary>TensorRT/CUDA settings from <c>--gpu-config</c>.</summary>
    public GpuOptions? Gpu { get; init; }

    /// <summary>Temporal filter against flicker (<c>--temporal</c>, <c>--temporal-strength</c>).</summary>
    public TemporalOptions Temporal { get; init; } = TemporalOptions.Disabled;

    /// <summary>
    /// Read a folder of images as the frames of one video (<c>--sequence</c>); without it, each photo of a
    /// folder is stylized on its own, at its size, under its name.
    /// </summary>
    public bool Sequence { get; init; }
}

/// <summary><c>video stylize INPUT [-o OUTPUT] [--model NAME] [--size WxH] [--device …]</c>.</summary>
internal static class StylizeCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("input") { Description = "Video file, network URL, image file, or folder of photos (each stylized at its own size, under its own name)" };
        var output = new Option<string?>("--output", "-o") { Description = "Output: .mp4/.mov/.mkv/.avi (H.264), .webm (VP9), .png/.jpg, or dir/ (a PNG sequence for a video, the stylized photos for a folder) (default: INPUT-MODEL.mp4, INPUT-MODEL.png or INPUT-MODEL/ in the current directory)" };
        var model = new Option<string>("--model", "-m") { Description = "Model name (see `video models`) or path to a manifest .json", DefaultValueFactory = _ => ModelCatalog.DefaultModelName };
        var size = new Option<string?>("--size") { Description = "Inference size WxH (default: the frame size, rounded to the model's multiple)" };
        var sequence = new Option<bool>("--sequence") { Description = "Read the input folder as the frames of one video: images sorted by name, resized to the first one's size, at --fps" };
        var fps = new Option<double?>("--fps") { Description = "Frame rate of an image input written as a video, or of a --sequence folder (default 25)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress bar" };
        var style = new Option<string[]>("--style", "-s") { Description = "Style image for AdaIN models; repeat to mix styles, with optional weights: --style a.jpg=0.7 --style b.jpg=0.3", AllowMultipleArgumentsPerToken = false };
        var alpha = new Option<float>("--alpha") { Description = "AdaIN content/style trade-off, 0 (content) to 1 (full style)", DefaultValueFactory = _ => 1f };
        var preserveColor = new Option<bool>("--preserve-color") { Description = "Keep the input's colours; take only the stylized luminance" };
        var device = CommonOptions.Device();
        var gpuConfig = CommonOptions.GpuConfig();
        var models = CommonOptions.ModelsDirectory();
        var temporal = new Option<string>("--temporal") { Description = "Temporal filter against flicker: off, ema (blend with the previous output where the input did not change), flow (warp the previous output along the input's optical flow; see docs/temporal.md)", DefaultValueFactory = _ => "off" }.AcceptOnlyFromAmong("off", "ema", "flow");
        var temporalStrength = new Option<double>("--temporal-strength") { Description = "Largest weight of the previous output, in [0, 1)", DefaultValueFactory = _ => 0.8 };
        var command = new Command("stylize", "Stylize a video (audio kept), an image, or a folder of photos (each at its own size, under its own name; --sequence reads the folder as one video)")
        {
            input, output, model, size, device, gpuConfig, models, fps, quiet, style, alpha, preserveColor,
        };
        command.Options.Add(temporal);
        command.Options.Add(temporalStrength);
        command.Options.Add(sequence);
        command.SetAction(async (parse, ct) =>
        {
            var request = new StylizeRequest(
                parse.GetValue(input)!,
                parse.GetValue(output),
                parse.GetValue(model)!,
                CommonOptions.ParseSize(parse.GetValue(size)),
                CommonOptions.ParseDevice(parse.GetValue(device)!),
                parse.GetValue(models),
                parse.GetValue(fps),
                !parse.GetValue(quiet))
            {
                Styles = ParseStyles(parse.GetValue(style) ?? []),
                Alpha = parse.GetValue(alpha),
                PreserveColor = parse.GetValue(preserveColor),
                Gpu = CommonOptions.LoadGpu(parse.GetValue(gpuConfig)),
                Sequence = parse.GetValue(sequence),
            };
            request = request with { Temporal = new TemporalOptions { Mode = TemporalOptions.ParseMode(parse.GetValue(temporal)!), Strength = parse.GetValue(temporalStrength) } };
            await RunAsync(request, Console.Out, Console.Error, ct).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Runs one stylization job end to end and prints its summary; throws <see cref="VideoException"/> on bad input.</summary>
    public static async Task<PipelineStats> RunAsync(StylizeRequest request, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (request.ImageFps is { } f && (f <= 0 || f > 1000))
        {
            throw new VideoException($"--fps {f} is out of range (0, 1000]");
        }

        // Cheap checks first, so bad input fails before models load or processes start.
        request.Temporal.Validate();
        bool url = request.Input.Contains("://", StringComparison.Ordinal);
        if (!url)
        {
            MediaProbe.CheckReadable(request.Input);
        }

        bool folder = !url && Directory.Exists(request.Input);
        if (request.Sequence && !folder)
        {
            throw new VideoException($"--sequence reads a folder of images as one video, and {request.Input} is not a folder");
        }

        if (folder && !request.Sequence && request.ImageFps is not null)
        {
            throw new VideoException($"--fps is the frame rate of an image sequence: add --sequence to read {request.Input} as the frames of one video");
        }

        var catalog = ModelCatalog.Load(ModelCatalog.ResolveDirectory(request.ModelsDirectory));
        var manifest = catalog.Find(request.Model);
        bool photos = folder && !request.Sequence;
        string output = request.Output ?? DefaultOutput(request.Input, manifest.Name, photos);
        if (photos)
        {
            if (!output.EndsWith('/') && !Directory.Exists(output))
            {
                throw new VideoException($"{request.Input} is a folder of photos, each stylized at its own size into a folder: use -o DIR/, or --sequence to read it as the frames of one video");
            }

            return await RunPhotosAsync(request, manifest, output, stdout, stderr, cancellationToken).ConfigureAwait(false);
        }

        OutputKinds.FromPath(output);

        var rate = request.ImageFps is { } fps ? Rational.Parse(fps.ToString(CultureInfo.InvariantCulture)) : (Rational?)null;
        await using var source = await FrameSources.OpenAsync(request.Input, rate, cancellationToken).ConfigureAwait(false);
        var info = source.Info;
        await using var sink = FfmpegVideoSink.Create(output, info.Width, info.Height, info.FrameRate, info);
        using var stylizer = Stylizer.Load(manifest, new StylizerOptions { Device = request.Device, Warn = stderr.WriteLine, Gpu = request.Gpu });
        var pipeline = CreatePipeline(stylizer, request);
        var stats = new PipelineStats();
        await using (new ProgressDisplay(stats, request.Progress))
        {
            await pipeline.RunAsync(source, sink, stats, cancellationToken).ConfigureAwait(false);
        }

        var (tw, th) = stylizer.InferenceSize(info.Width, info.Height, request.Size);
        stdout.WriteLine($"wrote {output}: {stats.FramesOut} frames {info.Width}x{info.Height} at {info.FrameRate.Value:0.###} fps{(sink.AudioNote is { } a ? ", " + a : string.Empty)}");
        stdout.WriteLine($"{stats.FramesOut} frames in {stats.Elapsed.TotalSeconds:0.00} s: {stats.Fps:0.0} fps (model {manifest.Name} on {stylizer.DeviceName}, inference at {tw}x{th})");
        stdout.WriteLine("ms per frame by stage (stages overlap): " + string.Join("  ", stats.StageMilliseconds().Select(s => $"{s.Stage} {s.Milliseconds:0.0}")));
        return stats;
    }

    /// <summary>A folder of photos: each one stylized at its own size into <paramref name="output"/> under its own name.</summary>
    private static async Task<PipelineStats> RunPhotosAsync(StylizeRequest request, ModelManifest manifest, string output, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        using var stylizer = Stylizer.Load(manifest, new StylizerOptions { Device = request.Device, Warn = stderr.WriteLine, Gpu = request.Gpu });
        var pipeline = CreatePipeline(stylizer, request);
        var stats = new PipelineStats();
        PhotoFolderResult result;
        await using (new ProgressDisplay(stats, request.Progress))
        {
            result = await PhotoFolder.StylizeAsync(pipeline, request.Input, output, stats, cancellationToken).ConfigureAwait(false);
        }

        string skipped = result.Skipped.Count == 0 ? string.Empty : $" (skipped {result.Skipped.Count} not readable as images: {string.Join(", ", result.Skipped)})";
        string size = request.Size is { } s ? $"{s.Width}x{s.Height}" : "each photo's size";
        stdout.WriteLine($"wrote {output}: {result.Written.Count} photos, each at its own size under its own name{skipped}");
        stdout.WriteLine($"{stats.FramesOut} photos in {stats.Elapsed.TotalSeconds:0.00} s: {stats.Fps:0.0} per second (model {manifest.Name} on {stylizer.DeviceName}, inference at {size})");
        return stats;
    }

    private static StylizePipeline CreatePipeline(Stylizer stylizer, StylizeRequest request) => new(stylizer, new PipelineOptions
    {
        Temporal = request.Temporal,
        InferenceSize = request.Size,
        Style = LoadStyles(stylizer, request),
        Alpha = request.Alpha,
        PreserveColor = request.PreserveColor,
    });

    /// <summary>Parses <c>PATH</c> or <c>PATH=WEIGHT</c> for each <c>--style</c>.</summary>
    internal static IReadOnlyList<(string Path, float Weight)> ParseStyles(IEnumerable<string> values) => values.Select(v =>
    {
        int eq = v.LastIndexOf('=');
        if (eq > 0 && float.TryParse(v[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out float w))
        {
            return (v[..eq], w);
        }

        return (v, 1f);
    }).ToList();

    private static StyleStatistics? LoadStyles(Stylizer stylizer, StylizeRequest request)
    {
        if (request.Alpha is < 0 or > 1 || float.IsNaN(request.Alpha))
        {
            throw new VideoException($"--alpha {request.Alpha} is outside [0, 1]");
        }

        if (!stylizer.TakesStyle)
        {
            if (request.Styles.Count > 0)
            {
                throw new VideoException($"model '{stylizer.Manifest.Name}' ({stylizer.Manifest.Family.ToString().ToLowerInvariant()}) has its style built in; --style needs an AdaIN model");
            }

            return null;
        }

        if (request.Styles.Count == 0)
        {
            throw new VideoException($"model '{stylizer.Manifest.Name}' is an AdaIN model and needs a style: --style IMAGE");
        }

        var encoded = new List<(StyleStatistics, float)>();
        foreach (var (path, weight) in request.Styles)
        {
            using var image = FrameMats.LoadRgb(path);
            encoded.Add((stylizer.EncodeStyle(image), weight));
        }

        return StyleStatistics.Mix(encoded);
    }

    private static string DefaultOutput(string input, string model, bool photos)
    {
        string stem = input.Contains("://", StringComparison.Ordinal)
            ? "stream"
            : Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(input));
        string ext = photos ? "/" : ImageSequenceSource.IsImagePath(input) ? ".png" : ".mp4";
        return Path.Combine(Environment.CurrentDirectory, $"{stem}-{model}{ext}");
    }
}
