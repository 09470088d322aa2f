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

    /// <summary>With a <c>--size</c> below the frame's, add the frame's own luma detail back (<c>--restore-detail</c>).</summary>
    public bool RestoreDetail { get; init; }

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
        var restoreDetail = new Option<bool>("--restore-detail") { Description = "With a --size below the frame's: add the frame's own fine luma detail back to the regrown output (sharper; see docs/realtime.md)" };
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
        command.Options.Add(restoreDetail);
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
                RestoreDetail = parse.GetValue(restoreDetail),
                Gpu = CommonOptions.LoadGpu(parse.GetValue(gpuConfig)),
                Sequence = parse.GetValue(sequence),
            };
            request = request with { Temporal = new TemporalOptions { Mode = TemporalOptions.ParseMode(parse.GetValue(temporal)!), Strength = parse.GetValue(temporalStrength) } };
            await RunAsync(request, Console.Out, Console.Error, ct).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Runs one <see cref="StylizeJob"/> and prints its summary; throws <see cref="VideoException"/> on bad input.</summary>
    public static async Task<PipelineStats> RunAsync(StylizeRequest request, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (request.ImageFps is { } f && (f <= 0 || f > 1000))
        {
            throw new VideoException($"--fps {f} is out of range (0, 1000]");
        }

        var job = new StylizeJob(request.Input, request.Output ?? string.Empty)
        {
            ImageRate = request.ImageFps is { } fps ? Rational.Parse(fps.ToString(CultureInfo.InvariantCulture)) : null,
            Sequence = request.Sequence,
            StyleImages = request.Styles,
            Pipeline = new PipelineOptions
            {
                Temporal = request.Temporal,
                InferenceSize = request.Size,
                Alpha = request.Alpha,
                PreserveColor = request.PreserveColor,
                RestoreDetail = request.RestoreDetail,
            },
        };

        // Cheap checks first, so bad input fails before models load or processes start.
        job.ValidateInput();
        var manifest = ModelCatalog.Open(request.ModelsDirectory, request.Model);
        job = job with { Output = request.Output ?? StylizeJob.DefaultOutput(request.Input, manifest.Name, request.Sequence) };
        job.Validate();
        // A video on the CPU runs two frames at once, each on half the cores (PipelineOptions.CpuInferenceWorkers); a
        // photo is one frame, so it keeps every core.
        bool oneFrameAtATime = job.IsPhotoFolder || (!job.Sequence && ImageSequenceSource.IsImagePath(request.Input));
        int workers = (request.Device is Device.Cpu or Device.Auto) && !oneFrameAtATime ? PipelineOptions.CpuInferenceWorkers : 1;
        using var stylizer = Stylizer.Load(manifest, new StylizerOptions { Device = request.Device, Warn = stderr.WriteLine, Gpu = request.Gpu, IntraOpThreads = PipelineOptions.IntraOpThreadsFor(workers) });
        job = job with { Pipeline = job.Pipeline with { InferenceWorkers = stylizer.DeviceName == "cpu" ? workers : 1 } };
        var stats = new PipelineStats();
        StylizeJobResult result;
        await using (new ProgressDisplay(stats, request.Progress))
        {
            result = await job.RunAsync(stylizer, stats, cancellationToken).ConfigureAwait(false);
        }

        if (result.Photos is { } photos)
        {
            string skipped = photos.Skipped.Count == 0 ? string.Empty : $" (skipped {photos.Skipped.Count} not readable as images: {string.Join(", ", photos.Skipped)})";
            string size = request.Size is { } s ? $"{s.Width}x{s.Height}" : "each photo's size";
            stdout.WriteLine($"wrote {result.Output}: {photos.Written.Count} photos, each at its own size under its own name{skipped}");
            foreach (var reason in photos.SkipReasons)
            {
                stdout.WriteLine($"skipped {reason}");
            }

            stdout.WriteLine($"{stats.FramesOut} photos in {stats.Elapsed.TotalSeconds:0.00} s: {stats.Fps:0.0} per second (model {manifest.Name} on {stylizer.DeviceName}, inference at {size})");
            return stats;
        }

        var (tw, th) = result.TensorSize;
        stdout.WriteLine($"wrote {result.Output}: {stats.FramesOut} frames {result.Width}x{result.Height} at {result.FrameRate.Value:0.###} fps{(result.AudioNote is { } a ? ", " + a : string.Empty)}");
        stdout.WriteLine($"{stats.FramesOut} frames in {stats.Elapsed.TotalSeconds:0.00} s: {stats.Fps:0.0} fps (model {manifest.Name} on {stylizer.DeviceName}, inference at {tw}x{th})");
        stdout.WriteLine("ms per frame by stage (stages overlap): " + string.Join("  ", stats.StageMilliseconds().Select(s => $"{s.Stage} {s.Milliseconds:0.0}")));
        if (stats.FramesDropped > 0)
        {
            // Only a live source drops (the oldest decoded frame, when the pipeline falls behind); files never do.
            stdout.WriteLine($"{stats.FramesDropped} frames dropped: the live source ran ahead of the pipeline");
        }

        return stats;
    }

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
}
