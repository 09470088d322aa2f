using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Video.Capture;
using Video.Evaluation;
using Video.Inference.Temporal;

namespace Video.Streaming.Cli;

/// <summary><c>video eval flicker ORIGINAL STYLIZED [--vs OTHER] [--json]</c>, <c>flicker-table</c>, <c>temporal-apply</c> and <c>temporal-bench</c>.</summary>
internal static class EvalCommand
{
    public static Command Create() => new("eval", "Measure results: flicker (E_warp) of stylized videos, speed of the temporal filter")
    {
        FlickerCommand(),
        Eval.FlickerTableCommand.Create(),
        ApplyCommand(),
        BenchCommand(),
    };

    /// <summary>Prints the report as aligned text or as one JSON object.</summary>
    public static void Print(FlickerReport r, bool json, TextWriter output)
    {
        if (json)
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteString("metric", "E_warp");
                w.WriteNumber("width", r.Width);
                w.WriteNumber("height", r.Height);
                w.WriteNumber("pairs", r.Pairs);
                w.WriteNumber("cutPairsLeftOut", r.Cuts);
                w.WriteNumber("visibleFraction", Math.Round(r.VisibleFraction, 4));
                w.WriteStartObject("original");
                w.WriteString("path", r.Original);
                w.WriteNumber("eWarp", r.OriginalWarpError);
                w.WriteEndObject();
                w.WriteStartObject("stylized");
                w.WriteString("path", r.Stylized);
                w.WriteNumber("eWarp", r.StylizedWarpError);
                w.WriteEndObject();
                if (r.Versus is not null)
                {
                    w.WriteStartObject("vs");
                    w.WriteString("path", r.Versus);
                    w.WriteNumber("eWarp", r.VersusWarpError!.Value);
                    w.WriteEndObject();
                }

                if (r.Ratio is { } ratio)
                {
                    w.WriteNumber("ratio", ratio);
                }
                else
                {
                    w.WriteNull("ratio");
                }

                w.WriteEndObject();
            }

            output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
            return;
        }

        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"E_warp (Lai et al. 2018: mean squared RGB difference in [0,1] of occlusion-masked, flow-warped consecutive frames; flow on the original) over {r.Pairs} frame pairs at {r.Width}x{r.Height}{(r.Cuts > 0 ? $" ({r.Cuts} scene-cut pairs left out)" : string.Empty)}, {r.VisibleFraction * 100:0.#}% of pixels visible"));
        output.WriteLine(string.Create(inv, $"  original (floor)  {r.OriginalWarpError:0.000000}  {r.Original}"));
        output.WriteLine(string.Create(inv, $"  stylized          {r.StylizedWarpError:0.000000}  {r.Stylized}"));
        if (r.Versus is not null)
        {
            output.WriteLine(string.Create(inv, $"  vs                {r.VersusWarpError:0.000000}  {r.Versus}"));
            output.WriteLine(string.Create(inv, $"  ratio stylized/vs {(r.Ratio is { } ratio ? ratio.ToString("0.000", inv) : "n/a (vs has no flicker)")}"));
        }
    }

    private static Command FlickerCommand()
    {
        var original = new Argument<string>("original") { Description = "The clip before stylization (flow is computed on it)" };
        var stylized = new Argument<string>("stylized") { Description = "A stylized version of it (same size and frame count)" };
        var versus = new Option<string?>("--vs") { Description = "Another stylized version to compare with (e.g. the filter off); prints the ratio" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var flowWidth = new Option<int>("--flow-width") { Description = "Largest width of the image the metric's optical flow runs on (the frames are box-averaged by an integer factor)", DefaultValueFactory = _ => FlickerMeter.DefaultFlowWidth };
        var frames = new Option<long?>("--frames") { Description = "Measure only the first N frames of each clip" };
        var keepCuts = new Option<bool>("--keep-cuts") { Description = "Count scene-cut pairs too (by default a pair whose original frames no motion explains is left out)" };
        var pairs = new Option<bool>("--pairs") { Description = "Also print every frame pair's figures (visible share, grey change, errors of original, stylized, vs)" };
        var noBoundaries = new Option<bool>("--no-motion-boundaries") { Description = "Mask occlusions only, not motion boundaries as well (the metric's definition before this option)" };
        var command = new Command("flicker", "Flicker of stylized video as E_warp (Lai et al. 2018), with the original's own E_warp as the floor")
        {
            original, stylized, versus, json, flowWidth, pairs, frames, keepCuts, noBoundaries,
        };
        command.SetAction(async (parse, ct) =>
        {
            var report = await Flicker.ReportAsync(parse.GetValue(original)!, parse.GetValue(stylized)!, parse.GetValue(versus), parse.GetValue(flowWidth), ct, parse.GetValue(frames), parse.GetValue(keepCuts) ? 0 : FlickerMeter.DefaultCutError, !parse.GetValue(noBoundaries)).ConfigureAwait(false);
            Print(report, parse.GetValue(json), Console.Out);
            if (parse.GetValue(pairs))
            {
                foreach (var p in report.PairDetails)
                {
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pair {p.Frame,5}{(p.IsCut ? " cut" : "    ")} visible {p.VisibleFraction:0.000} grey change {p.GreyChange,6:0.00}  {string.Join("  ", p.Errors.Select(e => e.ToString("0.000000", CultureInfo.InvariantCulture)))}"));
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command ApplyCommand()
    {
        var original = new Argument<string>("original") { Description = "The clip before stylization (the flow is computed on it)" };
        var stylized = new Argument<string>("stylized") { Description = "A stylized version of it (same size and frame count)" };
        var output = new Option<string>("--output", "-o") { Description = "Filtered video to write", Required = true };
        var mode = new Option<string>("--temporal") { Description = "off, ema or flow", DefaultValueFactory = _ => "flow" }.AcceptOnlyFromAmong("off", "ema", "flow");
        var strength = new Option<double>("--temporal-strength") { Description = "Largest weight of the previous output, in [0, 1)", DefaultValueFactory = _ => 0.8 };
        var tolerance = new Option<double>("--tolerance") { Description = "Grey-level change of the input up to which history is fully trusted", DefaultValueFactory = _ => new TemporalOptions().Tolerance };
        var flowWidth = new Option<int?>("--flow-width") { Description = "Approximate width of the image the filter's flow runs on (default: a quarter of the frame width, at least 160)" };
        var defaults = new TemporalOptions();
        var fineTolerance = new Option<double>("--fine-tolerance") { Description = "Grey-level change of the motion-compensated input at full size up to which history is fully trusted; 0 = no full-size check", DefaultValueFactory = _ => defaults.FineTolerance };
        var clampRadius = new Option<int?>("--clamp-radius") { Description = "Radius of the clamp of the warped history to the new frame's local range; 0 = no clamp (default: half the flow's downscale factor)" };
        var clampMargin = new Option<int>("--clamp-margin") { Description = "Levels by which the clamp range is widened each way", DefaultValueFactory = _ => defaults.ClampMargin };
        var command = new Command("temporal-apply", "Run the temporal filter over an already stylized clip, guided by the original (for any stylizer's output)")
        {
            original, stylized, output, mode, strength, tolerance, flowWidth, fineTolerance, clampRadius, clampMargin,
        };
        command.SetAction(async (parse, ct) =>
        {
            var options = new TemporalOptions
            {
                Mode = TemporalOptions.ParseMode(parse.GetValue(mode)!),
                Strength = parse.GetValue(strength),
                Tolerance = parse.GetValue(tolerance),
                FlowWidth = parse.GetValue(flowWidth),
                FineTolerance = parse.GetValue(fineTolerance),
                ClampRadius = parse.GetValue(clampRadius),
                ClampMargin = parse.GetValue(clampMargin),
            };
            string path = parse.GetValue(output)!;
            var (n, blended, cuts) = await TemporalApply.RunAsync(parse.GetValue(original)!, parse.GetValue(stylized)!, path, options, ct).ConfigureAwait(false);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {path}: {n} frames, temporal {options.Mode.ToString().ToLowerInvariant()} strength {options.Strength}, {blended} blended, {cuts} scene cuts"));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command BenchCommand()
    {
        var size = new Option<string>("--size") { Description = "Frame size WxH", DefaultValueFactory = _ => "640x360" };
        var frames = new Option<int>("--frames") { Description = "Frames timed per mode", DefaultValueFactory = _ => 300 };
        var strength = new Option<double>("--temporal-strength") { Description = "Filter strength", DefaultValueFactory = _ => 0.8 };
        var command = new Command("temporal-bench", "Time the temporal filter per frame (ema, flow, flow without the neighbourhood clamp and without the full-size check, interleaved frame by frame so all see the same machine load)")
        {
            size, frames, strength,
        };
        command.SetAction((parse, ct) =>
        {
            var (w, h) = CommonOptions.ParseSize(parse.GetValue(size))!.Value;
            int n = parse.GetValue(frames);
            if (n is < 10 or > 100_000)
            {
                throw new VideoException($"--frames {n} is out of range [10, 100000]");
            }

            new TemporalOptions { Strength = parse.GetValue(strength) }.Validate();
            PrintBench(TemporalFilterBench.Run(w, h, n, parse.GetValue(strength), ct), Console.Out);
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static void PrintBench(TemporalBenchReport r, TextWriter output)
    {
        var inv = CultureInfo.InvariantCulture;
        var flow = r.Flow;
        output.WriteLine(string.Create(inv, $"temporal filter at {r.Width}x{r.Height}, strength {r.Strength}, {r.Frames} frames per mode (interleaved), {Environment.ProcessorCount} cores"));
        output.WriteLine(string.Create(inv, $"flow image {r.FlowSize.Width}x{r.FlowSize.Height}, tolerance {flow.Tolerance}, full-size tolerance {flow.FineTolerance}, clamp radius {r.ClampRadius}, clamp margin {flow.ClampMargin}"));
        output.WriteLine("mode                      median ms  mean ms  p10 ms  p90 ms  frames blended");
        foreach (var m in r.Modes)
        {
            output.WriteLine(string.Create(inv, $"{m.Label,-25} {m.MedianMs,10:0.00} {m.MeanMs,8:0.00} {m.P10Ms,7:0.00} {m.P90Ms,7:0.00} {m.FramesBlended,15}"));
        }
    }
}
