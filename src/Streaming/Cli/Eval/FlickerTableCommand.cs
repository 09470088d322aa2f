using System.CommandLine;
using Video.Evaluation;
using Video.Inference;
using Video.Inference.Temporal;

namespace Video.Streaming.Cli.Eval;

/// <summary><c>video eval flicker-table</c>: parses the options into a <see cref="FlickerTableRequest"/>, runs <see cref="FlickerTable"/> and prints the table.</summary>
internal static class FlickerTableCommand
{
    public static Command Create()
    {
        var clips = new Option<string[]>("--clips") { Description = "Clips or folders of clips (default: every file in ../shared/data/video)", AllowMultipleArgumentsPerToken = true };
        var model = new Option<string[]>("--model", "-m") { Description = "Models by name, comma separated or repeated (default: every model in the models directory)", AllowMultipleArgumentsPerToken = true };
        var models = CommonOptions.ModelsDirectory();
        var temporalLoss = new Option<string?>("--temporal-loss-models") { Description = "Directory with NAME.json/NAME.onnx variants trained with the temporal loss; fills the table's last column for each NAME found there" };
        var output = new Option<string>("--out", "-o") { Description = "Directory for the stylized clips, table.md and table.json", DefaultValueFactory = _ => Path.Combine("out", "flicker-table") };
        var frames = new Option<long?>("--frames") { Description = "Use only the first N frames of each clip (quick runs)" };
        var style = new Option<string?>("--style") { Description = $"Style image for AdaIN models (default: ../shared/data/{FlickerTable.DefaultStyle})" };
        var device = CommonOptions.Device();
        var strength = new Option<double>("--temporal-strength") { Description = "Filter strength for the flow runs", DefaultValueFactory = _ => new TemporalOptions().Strength };
        var tolerance = new Option<double>("--tolerance") { Description = "Filter tolerance (grey levels) for the flow runs", DefaultValueFactory = _ => new TemporalOptions().Tolerance };
        var flowWidth = new Option<int?>("--flow-width") { Description = "Width of the filter's flow image (default: a quarter of the frame width, at least 160)" };
        var metricFlowWidth = new Option<int>("--metric-flow-width") { Description = "Largest width of the metric's flow image", DefaultValueFactory = _ => FlickerMeter.DefaultFlowWidth };
        var format = new Option<string>("--format") { Description = "How the stylized versions are stored: png (a lossless PNG sequence per version, as Lai et al. measure frames) or mp4 (H.264 CRF 20, as video stylize writes; its coding noise adds to every version's E_warp)", DefaultValueFactory = _ => "png" }.AcceptOnlyFromAmong("png", "mp4");
        var reuse = new Option<bool>("--reuse") { Description = "Keep stylized clips already in --out instead of making them again (to resume a run)" };
        var strips = new Option<string?>("--strips") { Description = "Directory for the 6-frame strips (top: off, middle: flow, bottom: temporal-loss variant when there is one), one clip per model, e.g. docs/temporal" };
        var stripClip = new Option<string?>("--strip-clip") { Description = $"File name of the clip the strips come from (default {FlickerTable.DefaultStripClip} when listed, else the first clip)" };
        var stripStart = new Option<int>("--strip-start") { Description = "First frame of the strip", DefaultValueFactory = _ => 40 };
        var stripCrop = new Option<string?>("--strip-crop") { Description = "Also save a detail strip of this crop, W:H:X:Y in frame pixels" };
        var json = new Option<bool>("--json") { Description = "Print the rows as JSON instead of the markdown table" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress lines on stderr" };
        var command = new Command("flicker-table", "Stylize clips with models, filter off and on, measure E_warp and print the table of docs/temporal.md")
        {
            clips, model, models, temporalLoss, output, frames, style, device, strength, tolerance, flowWidth, metricFlowWidth, format, reuse, strips, stripClip, stripStart, stripCrop, json, quiet,
        };
        command.SetAction(async (parse, ct) =>
        {
            var request = new FlickerTableRequest
            {
                Clips = FlickerTable.ResolveClips(SplitList(parse.GetValue(clips) ?? [])),
                Models = SplitList(parse.GetValue(model) ?? []),
                ModelsDirectory = ModelCatalog.ResolveDirectory(parse.GetValue(models)),
                TemporalLossDirectory = parse.GetValue(temporalLoss),
                OutputDirectory = parse.GetValue(output)!,
                Frames = parse.GetValue(frames),
                Style = parse.GetValue(style),
                Device = CommonOptions.ParseDevice(parse.GetValue(device)!),
                Filter = new TemporalOptions
                {
                    Mode = TemporalMode.Flow,
                    Strength = parse.GetValue(strength),
                    Tolerance = parse.GetValue(tolerance),
                    FlowWidth = parse.GetValue(flowWidth),
                },
                MetricFlowWidth = parse.GetValue(metricFlowWidth),
                Reuse = parse.GetValue(reuse),
                Png = parse.GetValue(format) == "png",
                StripsDirectory = parse.GetValue(strips),
                StripClip = parse.GetValue(stripClip),
                StripStart = parse.GetValue(stripStart),
                StripCrop = parse.GetValue(stripCrop),
            };
            var log = parse.GetValue(quiet) ? TextWriter.Null : Console.Error;
            var rows = await FlickerTable.RunAsync(request, log, ct).ConfigureAwait(false);
            var (markdown, jsonText) = await FlickerTable.SaveAsync(rows, request, ct).ConfigureAwait(false);
            Console.Out.Write(parse.GetValue(json) ? jsonText : markdown);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static List<string> SplitList(IEnumerable<string> values) =>
        values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
}
