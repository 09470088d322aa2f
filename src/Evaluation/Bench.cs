using System.Diagnostics;
using System.Globalization;
using System.Text;
using Video.Capture;
using Video.Evaluation.Internal;
using Video.Inference;
using Video.Inference.Benchmarks;
using Video.Inference.Temporal;

namespace Video.Evaluation;

/// <summary>
/// One measurement: a case (decode, encode, infer, pipeline, eager, peak) at one size for one model. Inference-only rows
/// also carry the model's counted GFLOP per frame, the GFLOP/s reached and the fraction of the conv peak; peak rows
/// (size and model "-") carry the GFLOP/s of the peak operator.
/// </summary>
public sealed record BenchRow(string Size, string Model, string Case, double Fps, double MsPerFrame, double CpuPercent, string Notes)
{
    /// <summary>The model's family (<c>fast</c>, <c>cartoon</c>, …); null for the rows without a model.</summary>
    public string? Family { get; init; }

    public double? GFlopPerFrame { get; init; }

    public double? GFlops { get; init; }

    /// <summary>
    /// The model's GFLOP/s over the conv peak's, both from medians of runs taken in turn (one model run, one peak run)
    /// right after the inference-only case.
    /// </summary>
    public double? PeakFraction { get; init; }

    /// <summary>The model's median ms per run in turn with the conv peak operator (inference-only rows on the CPU).</summary>
    public double? InTurnMs { get; init; }

    /// <summary>The conv peak operator's GFLOP/s in turn with the model's runs (see <see cref="InTurnMs"/>).</summary>
    public double? InTurnPeakGFlops { get; init; }

    /// <summary>Eager rows: eager median over ONNX Runtime median, the two timed in turn in the trainer process.</summary>
    public double? PairedRatio { get; init; }
}

/// <summary>
/// The bench harness behind <c>video bench</c>: measures, in one run and side by side, decode only, decode + encode (the
/// floor), inference only, the full pipeline with and without the temporal filter, and the same weights in TorchSharp
/// eager (the trainer, as a child process: <see cref="EagerBaseline"/>), for each model and size, on clips it generates
/// with ffmpeg; measures this CPU's conv/matmul peak (<see cref="PeakThroughput"/>) and each model's FLOPs
/// (<see cref="ModelCost"/>), samples the machine's CPU use from <c>/proc/stat</c>, and writes the markdown tables.
/// See "How it is measured" (<see cref="HowItIsMeasured"/>).
/// </summary>
/// <remarks>Stateless; a run uses its own temporary directory, deleted at the end.</remarks>
public static class Bench
{
    public const string EagerCase = "eager (TorchSharp)";
    public const string InferenceCase = "inference only";
    public const string PipelineCase = "pipeline";
    public const string FlowCase = "pipeline + temporal flow";
    public const string PeakCase = "peak";

    /// <summary>The inference size of the reduced case at sizes above it (<c>video stylize --size 640x360 --restore-detail</c>).</summary>
    public static readonly (int Width, int Height) ReducedSize = (640, 360);

    /// <summary>The case that runs the pipeline at a larger frame size with inference at <see cref="ReducedSize"/> and the detail restored.</summary>
    public static readonly string ReducedCase = $"pipeline, {ReducedSize.Width}x{ReducedSize.Height} inside + detail";

    /// <summary>
    /// Runs every case for every size and model, one after another in this process, and returns the rows (the peaks first);
    /// progress goes to <paramref name="log"/>. A missing or failing eager baseline is logged and its rows left out.
    /// </summary>
    public static async Task<List<BenchRow>> RunAsync(IReadOnlyList<(int Width, int Height)> sizes, IReadOnlyList<ModelManifest> models, int frames, Device device, TextWriter log, CancellationToken ct, EagerBaseline? eager = null, int eagerFrames = 30, FrameAllocator? allocator = null)
    {
        allocator ??= FrameAllocator.Default;
        var rows = new List<BenchRow>();
        if (eager is { SkipReason: { } why })
        {
            log.WriteLine($"bench: eager (TorchSharp) column skipped: {why}");
        }

        log.WriteLine("bench: CPU peak (ONNX Runtime conv and matmul)");
        var peaks = PeakThroughput.Measure();
        foreach (var p in peaks)
        {
            rows.Add(new BenchRow("-", "-", $"{PeakCase}: {p.Name}", 1000.0 / p.MedianMs, p.MedianMs, double.NaN,
                string.Create(CultureInfo.InvariantCulture, $"{p.GFlop:0.00} GFLOP per run, median of {p.Runs} runs")) { GFlops = p.GFlops });
        }

        // Kept for the run: each model's share of the peak is taken from runs in turn with it (InferOnly).
        using var peakConv = PeakOperator.Conv();
        string dir = Directory.CreateTempSubdirectory("video-bench-").FullName;
        try
        {
            string styleImage = Path.Combine(dir, "style.png");
            await GenerateAsync(["-f", "lavfi", "-i", "mandelbrot=size=256x256", "-frames:v", "1", styleImage], ct).ConfigureAwait(false);
            foreach (var (w, h) in sizes)
            {
                string size = $"{w}x{h}";
                string clip = Path.Combine(dir, $"clip-{size}.mp4");
                double seconds = frames / 30.0;
                await GenerateAsync(["-f", "lavfi", "-i", $"mandelbrot=size={size}:rate=30", "-t", seconds.ToString("0.###", CultureInfo.InvariantCulture), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", clip], ct).ConfigureAwait(false);
                log.WriteLine($"bench {size}: decode");
                rows.Add(await MeasureAsync(size, "-", "decode only", ct => CopyAsync(clip, null, allocator, ct), ct).ConfigureAwait(false));
                log.WriteLine($"bench {size}: decode + encode");
                rows.Add(await MeasureAsync(size, "-", "decode + encode (floor)", ct => CopyAsync(clip, Path.Combine(dir, "copy.mp4"), allocator, ct), ct).ConfigureAwait(false));
                foreach (var manifest in models)
                {
                    log.WriteLine($"bench {size}: {manifest.Name}");
                    using var stylizer = Stylizer.Load(manifest, new StylizerOptions { Device = device, Warn = log.WriteLine });
                    StyleStatistics? style = null;
                    if (stylizer.TakesStyle)
                    {
                        using var image = FrameMats.LoadRgb(styleImage);
                        style = stylizer.EncodeStyle(image);
                    }

                    var (tw, th) = stylizer.InferenceSize(w, h);
                    string family = manifest.Family.ToString().ToLowerInvariant();

                    // The pipeline cases run as video stylize does: on the CPU, several frames at once, the cores shared out.
                    int workers = stylizer.DeviceName == "cpu" ? PipelineOptions.CpuInferenceWorkers : 1;
                    using var shared = workers == 1 ? null : Stylizer.Load(manifest, new StylizerOptions { Device = device, IntraOpThreads = PipelineOptions.IntraOpThreadsFor(workers) });
                    var piped = shared ?? stylizer;

                    (double ModelMs, double PeakMs)? inTurn = null;
                    var infer = await MeasureAsync(size, manifest.Name, InferenceCase, _ =>
                    {
                        var result = InferOnly(stylizer, style, w, h, tw, th, frames, allocator, stylizer.DeviceName == "cpu" ? peakConv : null, out inTurn);
                        return Task.FromResult(result);
                    }, ct).ConfigureAwait(false);
                    rows.Add(WithCost(infer, manifest, tw, th, inTurn, peakConv.GFlop, log) with { Family = family });
                    foreach (var mode in new[] { TemporalMode.Off, TemporalMode.Flow })
                    {
                        var options = new PipelineOptions { Style = style, InferenceWorkers = workers, Temporal = mode == TemporalMode.Off ? TemporalOptions.Disabled : new TemporalOptions { Mode = mode } };
                        string name = mode == TemporalMode.Off ? PipelineCase : FlowCase;
                        var row = await MeasureAsync(size, manifest.Name, name, ct => PipelineAsync(piped, options, clip, Path.Combine(dir, "out.mp4"), allocator, ct), ct).ConfigureAwait(false);
                        rows.Add(row with { Family = family });
                    }

                    if (w * h > ReducedSize.Width * ReducedSize.Height && stylizer.InferenceSize(w, h, ReducedSize) is var reduced && reduced != (tw, th))
                    {
                        var options = new PipelineOptions { Style = style, InferenceSize = reduced, RestoreDetail = true, InferenceWorkers = workers };
                        var row = await MeasureAsync(size, manifest.Name, ReducedCase, ct => PipelineAsync(piped, options, clip, Path.Combine(dir, "out.mp4"), allocator, ct), ct).ConfigureAwait(false);
                        rows.Add(row with { Family = family });
                    }

                    if (manifest.Name.EndsWith(ModelCatalog.Int8Suffix, StringComparison.Ordinal))
                    {
                        // TorchSharp rebuilds float weights; an int8 variant's figure would be the float model's again.
                        log.WriteLine($"bench {size}: {manifest.Name}: no eager run (int8 variant; its float model has one)");
                    }
                    else if (eager is { Enabled: true })
                    {
                        log.WriteLine($"bench {size}: {manifest.Name} in TorchSharp eager");
                        string? stylePath = stylizer.TakesStyle ? styleImage : null;
                        EagerBenchResult? result = null;
                        var row = await MeasureAsync(size, manifest.Name, EagerCase, async ct => EagerRow(result = await eager.RunAsync(manifest.ModelPath, stylePath, tw, th, eagerFrames, ct).ConfigureAwait(false)), ct).ConfigureAwait(false);
                        row = row with { PairedRatio = result is { Status: "ok" } r && double.IsFinite(r.PairedRatio) ? r.PairedRatio : null };
                        if (eager.SkipReason is { } reason)
                        {
                            log.WriteLine($"bench: eager (TorchSharp) column skipped: {reason}");
                        }
                        else
                        {
                            rows.Add(row with { Family = family });
                        }
                    }
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        return rows;
    }

    /// <summary>The tables of <c>docs/benchmarks.md</c>: every case, the ratios, the utilisation, and how it is measured.</summary>
    public static string Markdown(IReadOnlyList<BenchRow> rows, int frames, int eagerFrames = 30, string? eagerSkipped = null)
    {
        var inv = CultureInfo.InvariantCulture;
        static string F(double v, string format) => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
        var peaks = rows.Where(r => r.Case.StartsWith(PeakCase + ":", StringComparison.Ordinal)).ToList();
        var cases = rows.Except(peaks).ToList();
        var sb = new StringBuilder();
        sb.AppendLine("# Benchmarks");
        sb.AppendLine();
        sb.AppendLine(inv, $"Written by `./video bench` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {frames} frames per case ({eagerFrames} for TorchSharp eager), all cases in one run.");
        sb.AppendLine("Inference only = ONNX Runtime runs on preallocated tensors; pipeline = decode → preprocess → infer → postprocess → encode (H.264) with stages overlapped;");
        sb.AppendLine("eager (TorchSharp) = the same weights rebuilt as the trainer's TorchSharp module, checked against ONNX Runtime on one frame (max abs diff in the notes), then run frame by frame on 2 threads (inference only, like the ONNX Runtime row).");
        sb.AppendLine("CPU % is the whole machine's busy time (/proc/stat) over the case, so it includes the ffmpeg processes and any other load (for eager: the whole trainer process, start-up and check included).");
        sb.AppendLine("Ratios are taken within this run; the machine is shared, so compare ratios rather than absolute figures across runs. How each figure is measured: the end of this file.");
        if (eagerSkipped is not null)
        {
            sb.AppendLine();
            sb.AppendLine(inv, $"**TorchSharp-eager column skipped:** {eagerSkipped}.");
        }

        sb.AppendLine();
        sb.AppendLine("| size | model | case | fps | ms/frame | CPU % | notes |");
        sb.AppendLine("| --- | --- | --- | ---: | ---: | ---: | --- |");
        foreach (var r in cases)
        {
            sb.AppendLine(inv, $"| {r.Size} | {r.Model} | {r.Case} | {F(r.Fps, "0.0")} | {F(r.MsPerFrame, "0.0")} | {F(r.CpuPercent, "0")} | {r.Notes} |");
        }

        sb.AppendLine();
        sb.AppendLine("| size | model | pipeline / inference-only | pipeline + flow / pipeline | pipeline / eager (TorchSharp) | inference-only / eager | eager / ONNX Runtime, in turn |");
        sb.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var g in cases.Where(r => r.Model != "-").GroupBy(r => (r.Size, r.Model)))
        {
            double infer = g.First(r => r.Case == InferenceCase).Fps;
            double pipe = g.First(r => r.Case == PipelineCase).Fps;
            double flow = g.First(r => r.Case == FlowCase).Fps;
            var eagerRow = g.FirstOrDefault(r => r.Case == EagerCase);
            double eager = eagerRow?.Fps ?? double.NaN;
            string vsEager = double.IsFinite(eager) ? F(pipe / eager, "0.00") : "n/a";
            string inferVsEager = double.IsFinite(eager) ? F(infer / eager, "0.00") : "n/a";
            string inTurn = eagerRow?.PairedRatio is { } paired ? F(paired, "0.00") : "n/a";
            sb.AppendLine(inv, $"| {g.Key.Size} | {g.Key.Model} | {pipe / infer:0.00} | {flow / pipe:0.00} | {vsEager} | {inferVsEager} | {inTurn} |");
        }

        AppendTargets(sb, cases);
        if (peaks.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Utilisation: this CPU's peak in ONNX Runtime (one large operator, same session options as the stylizer) and what each model reaches in the inference-only case.");
            sb.AppendLine();
            sb.AppendLine("| peak operator | GFLOP per run | ms per run | GFLOP/s |");
            sb.AppendLine("| --- | ---: | ---: | ---: |");
            foreach (var p in peaks)
            {
                double gflop = (p.GFlops ?? double.NaN) * p.MsPerFrame / 1000.0;
                sb.AppendLine(inv, $"| {p.Case[(PeakCase.Length + 2)..]} | {F(gflop, "0.00")} | {F(p.MsPerFrame, "0.0")} | {F(p.GFlops ?? double.NaN, "0.0")} |");
            }

            sb.AppendLine();
            sb.AppendLine(inv, $"Each model's share of the conv peak is taken from {InTurnPairs} runs of the model and {InTurnPairs} of the peak operator in turn, right after its inference-only case (medians of each).");
            sb.AppendLine();
            sb.AppendLine("| size | model | GFLOP/frame | inference ms/frame | GFLOP/s | in turn: model ms | in turn: conv peak GFLOP/s | % of conv peak |");
            sb.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var r in cases.Where(r => r.Case == InferenceCase))
            {
                string pct = r.PeakFraction is { } f ? F(100 * f, "0") : "n/a";
                sb.AppendLine(inv, $"| {r.Size} | {r.Model} | {F(r.GFlopPerFrame ?? double.NaN, "0.00")} | {F(r.MsPerFrame, "0.0")} | {F(r.GFlops ?? double.NaN, "0.0")} | {F(r.InTurnMs ?? double.NaN, "0.0")} | {F(r.InTurnPeakGFlops ?? double.NaN, "0.0")} | {pct} |");
            }
        }

        sb.AppendLine();
        sb.Append(HowItIsMeasured);
        return sb.ToString();
    }

    /// <summary>
    /// The real-time targets (docs/realtime.md) for the fast and cartoon models, each against the rows of this run: 30 fps
    /// end to end at 640×360 (25 with the flow filter), 15 fps at 1280×720 for the fast models (full size or
    /// <see cref="ReducedCase"/>), 60 % of the conv peak and 2× TorchSharp eager (float weights) for the fast models. A model meets a speed
    /// target when its float model or its int8 variant does; the variant is named.
    /// </summary>
    private static void AppendTargets(StringBuilder sb, IReadOnlyList<BenchRow> cases)
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = cases.Where(r => r.Family is "fast" or "cartoon").ToList();
        if (rows.Count == 0)
        {
            return;
        }

        static string Base(string model) => model.EndsWith(ModelCatalog.Int8Suffix, StringComparison.Ordinal) ? model[..^ModelCatalog.Int8Suffix.Length] : model;
        var lines = new List<(int Kind, string Model, string Line)>();
        foreach (var model in rows.Select(r => Base(r.Model)).Distinct())
        {
            var mine = rows.Where(r => Base(r.Model) == model).ToList();
            bool fast = mine[0].Family == "fast";
            void Speed(int kind, string target, string size, IEnumerable<string> caseNames, double goal)
            {
                var found = mine.Where(r => r.Size == size && caseNames.Contains(r.Case)).OrderByDescending(r => r.Fps).ToList();
                if (found.Count == 0)
                {
                    return;
                }

                string measured = string.Join(", ", found.OrderBy(r => r.Model, StringComparer.Ordinal).ThenBy(r => r.Case, StringComparer.Ordinal)
                    .Select(r => string.Create(inv, $"{(r.Model == model ? "float" : "int8")}{(r.Case == ReducedCase ? " reduced" : string.Empty)} {r.Fps:0.0}")));
                var best = found[0];
                string status = best.Fps < goal ? "not met" : best.Model == model && best.Case != ReducedCase ? "**met**" : $"**met** ({(best.Model == model ? "float" : "int8")}{(best.Case == ReducedCase ? ", reduced size" : string.Empty)})";
                lines.Add((kind, model, string.Create(inv, $"| {target} | {model} | {measured} | {status} |")));
            }

            Speed(0, "640×360 end to end ≥ 30 fps", "640x360", [PipelineCase], 30);
            Speed(1, "640×360 with flow ≥ 25 fps", "640x360", [FlowCase], 25);
            if (!fast)
            {
                continue; // the 1280×720, utilisation and eager targets are the fast models' (issue 17); the tables above report every model
            }

            Speed(2, "1280×720 end to end ≥ 15 fps", "1280x720", [PipelineCase, ReducedCase], 15);

            foreach (var infer in mine.Where(r => r.Model == model && r.Case == InferenceCase && r.PeakFraction is not null))
            {
                lines.Add((3, model, string.Create(inv, $"| ≥ 60 % of the conv peak ({infer.Size}) | {model} | {100 * infer.PeakFraction!.Value:0} % | {(infer.PeakFraction >= 0.6 ? "**met**" : "not met")} |")));
            }

            foreach (var eager in mine.Where(r => r.Model == model && r.Case == EagerCase && r.Fps > 0))
            {
                // Frame by frame in turn when the trainer measured it; else the inference-only case over the eager case.
                double apart = mine.First(r => r.Model == model && r.Size == eager.Size && r.Case == InferenceCase).Fps / eager.Fps;
                double ratio = eager.PairedRatio ?? apart;
                string measured = eager.PairedRatio is null ? string.Create(inv, $"{apart:0.00}×") : string.Create(inv, $"{ratio:0.00}× in turn ({apart:0.00}× case to case)");
                lines.Add((4, model, string.Create(inv, $"| ≥ 2× TorchSharp eager, inference only ({eager.Size}) | {model} | {measured} | {(ratio >= 2 ? "**met**" : "not met")} |")));
            }
        }

        sb.AppendLine();
        sb.AppendLine("Targets (issue 17, docs/realtime.md) for the fast and cartoon models, from the rows above (the conv-peak and eager targets are the fast models'; the utilisation table below has every model). A speed target is met when the float model or its int8 variant (`NAME:int8`, quality in its manifest) reaches it; \"reduced\" is the " + ReducedCase + " case. The live p99 target is measured by `video loadtest` (docs/realtime.md).");
        sb.AppendLine();
        sb.AppendLine("| target | model | measured (fps or share) | status |");
        sb.AppendLine("| --- | --- | --- | --- |");
        foreach (var (_, _, line) in lines.OrderBy(l => l.Kind).ThenBy(l => l.Line, StringComparer.Ordinal))
        {
            sb.AppendLine(line);
        }
    }

    /// <summary>The method section written under the tables (kept here so the file <c>video bench</c> writes stays true).</summary>
    public const string HowItIsMeasured = """
        ## How it is measured

        - **One run, side by side.** Every case runs in the same process, one after another, on the same generated clip
          (ffmpeg `lavfi` Mandelbrot zoom, H.264) at each size. The machine is not reserved, so ratios within a run are the
          figures to compare; absolute fps move with other load (the CPU % column shows it).
        - **Decode only / decode + encode** read the clip through the ffmpeg pipe into pooled frames (and write H.264 back):
          the floor no model can beat.
        - **Inference only** runs the model's ONNX Runtime session (CPU provider, all graph optimisations, default intra-op
          threads) on one preallocated tensor slot, after 3 warm-up runs, at the tensor size the pipeline uses.
        - **Pipeline** is the `video stylize` path: decode → preprocess → infer → postprocess → encode on their own tasks
          joined by bounded channels, and on the CPU two frames in the model at once, each on half the cores
          (`VIDEO_INFER_WORKERS` overrides; the inference-only row is one frame on every core); fps is output frames over
          wall time. **+ temporal flow** adds the optical-flow filter.
          **Inside + detail** (sizes above 640×360) runs the model at 640×360 and regrows its output to the frame's size
          with the frame's own luma detail added back (`video stylize --size 640x360 --restore-detail`).
        - **int8 variants** (`NAME:int8`, `video models quantize`) run every case but eager; their PSNR against the float
          model is in the model's manifest. By default every installed model runs, each followed by its int8 variant.
        - **Eager (TorchSharp)** is the PyTorch-style baseline: `video-train eager-bench` (the trainer, a separate process;
          the host never loads libtorch) rebuilds the model's architecture as the trainer's TorchSharp module
          (`FastStylizer.FullFrame`: 2×2 average downscale, generator, detail-restoring upsample; or `AdaInStylizer.FullFrame` with
          the style statistics computed once beforehand), loads the weights from the ONNX file's own initializers, checks
          on one random frame that its output equals ONNX Runtime's within 1e-3 (max abs diff in the notes), then times
          frames one by one under `torch.inference_mode()` with 2 threads, on a 1×3×H×W tensor already in memory (the same
          work as the inference-only row; fps from the mean; `--eager-frames`, default min(--frames, 30), frames after
          2 warm-up frames). Between the eager frames the same process runs the same file in ONNX Runtime (same session
          options, the same frame bound without copies), one run each in turn, the order swapped every frame: "eager / ONNX
          Runtime, in turn" is the ratio of the two medians, taken at the same moments, and is the figure the 2× target
          uses (the case-to-case ratio compares runs minutes apart, so on this shared machine it also measures the load).
          It is TorchSharp-cpu, whatever `--device` the host uses. Models whose graph is not a trainer architecture (the
          procedural `toon`) have no eager figure ("n/a"). When the trainer cannot be built or run, the column is skipped
          and the reason is printed and written above the tables.
        - **FLOPs** are counted from each model's ONNX graph by a shape walk at the inference tensor size
          (`Video.Evaluation.ModelCost`): 2 FLOPs per multiply-add of `Conv`
          (2·C_out·C_in/groups·kH·kW·H_out·W_out), `ConvTranspose`, `MatMul` and `Gemm`; bias additions, elementwise ops,
          pooling, resize, padding and reductions are not counted (they are memory-bound). GFLOP/s = counted FLOPs /
          inference-only time per frame.
        - **Peak** is one large operator alone in ONNX Runtime with the stylizer's session options: a 3×3 `Conv` 64→64 on
          1×64×180×320 (4.25 GFLOP) and a 1024×1024 by 1024×1024 `MatMul` (2.15 GFLOP), preallocated input and output,
          2 warm-up runs, median of the runs in about 1.5 s (the table's peak rows, at the start of the run). "% of conv
          peak" is taken in turn: right after a model's inference-only case, 20 model runs and 20 conv-peak runs
          alternate (the order swapped every pair); the share is the model's GFLOP/s over the peak's, each from its
          median there.
          Our models' 3-channel end convs, full-size luma and resizes cannot run at that peak, so the
          fraction says how much of the time goes to work other than large convolutions.

        """;

    /// <summary>
    /// Adds the model's counted FLOPs, the GFLOP/s of the inference-only case and the fraction of the conv peak (from the
    /// runs in turn, <paramref name="inTurn"/>; none when the model did not run on the CPU) to an inference-only row.
    /// </summary>
    private static BenchRow WithCost(BenchRow row, ModelManifest manifest, int tw, int th, (double ModelMs, double PeakMs)? inTurn, double peakGFlop, TextWriter log)
    {
        ModelCost cost;
        try
        {
            cost = ModelCost.Count(manifest.ModelPath, new Dictionary<string, long[]> { [manifest.Input.Name] = [1, 3, th, tw] });
        }
        catch (ModelException e)
        {
            log.WriteLine($"bench: FLOPs of {manifest.Name} not counted: {e.Message}");
            return row;
        }

        double gflop = cost.Flops / 1e9;
        row = row with { GFlopPerFrame = gflop, GFlops = gflop * row.Fps };
        if (inTurn is not { } t)
        {
            return row;
        }

        double peak = peakGFlop / (t.PeakMs / 1000.0);
        return row with { InTurnMs = t.ModelMs, InTurnPeakGFlops = peak, PeakFraction = gflop / (t.ModelMs / 1000.0) / peak };
    }

    private static (long, string, double?) EagerRow(EagerBenchResult? r)
    {
        if (r is null)
        {
            return (0, string.Empty, double.NaN);
        }

        var inv = CultureInfo.InvariantCulture;
        return r.Status switch
        {
            "ok" => (r.Frames, string.Create(inv, $"{r.Architecture}, {r.Threads} threads, tensor {r.Width}x{r.Height}, median {r.MedianMs:0.0} ms, p90 {r.P90Ms:0.0} ms; ONNX Runtime in turn median {r.OrtMedianMs:0.0} ms ({r.PairedRatio:0.00}×); max abs diff vs ONNX Runtime {r.MaxAbsDiff:0.0e0}"), r.Frames * r.MeanMs / 1000.0),
            _ => (0, $"{r.Status} ({r.Reason})", double.NaN),
        };
    }

    private static async Task<BenchRow> MeasureAsync(string size, string model, string name, Func<CancellationToken, Task<(long Frames, string Notes, double? Seconds)>> body, CancellationToken ct)
    {
        var cpu0 = MachineCpu.Read();
        var sw = Stopwatch.StartNew();
        var (framesDone, notes, seconds) = await body(ct).ConfigureAwait(false);
        sw.Stop();
        double cpu = MachineCpu.Percent(cpu0, MachineCpu.Read());
        double fps = framesDone / (seconds ?? sw.Elapsed.TotalSeconds);
        return new BenchRow(size, model, name, fps, 1000.0 / fps, cpu, notes);
    }

    private static async Task<(long, string, double?)> CopyAsync(string clip, string? output, FrameAllocator allocator, CancellationToken ct)
    {
        await using var source = await FrameSources.OpenAsync(clip, cancellationToken: ct).ConfigureAwait(false);
        var info = source.Info;
        await using var sink = output is null ? null : FfmpegVideoSink.Create(output, info.Width, info.Height, info.FrameRate, null);
        using var pool = allocator.CreatePool(info.Width, info.Height, PixelFormat.Rgb24, 4);
        long n = 0;
        await foreach (var frame in source.ReadAllAsync(pool, ct).ConfigureAwait(false))
        {
            using (frame)
            {
                if (sink is not null)
                {
                    await sink.WriteAsync(frame, ct).ConfigureAwait(false);
                }
            }

            n++;
        }

        if (sink is not null)
        {
            await sink.CompleteAsync(ct).ConfigureAwait(false);
        }

        return (n, string.Empty, null);
    }

    /// <summary>
    /// Runs the model alone on one preallocated slot; timed without plan creation and warm-up. Then, with a
    /// <paramref name="peak"/> operator, runs the model and the peak in turn (<see cref="InTurnPairs"/> of each, the order
    /// swapped every pair) and gives both medians: the share of the peak from the same moments.
    /// </summary>
    private static (long, string, double?) InferOnly(Stylizer stylizer, StyleStatistics? style, int w, int h, int tw, int th, int frames, FrameAllocator allocator, PeakOperator? peak, out (double ModelMs, double PeakMs)? inTurn)
    {
        using var plan = stylizer.CreatePlan(w, h, tw, th, slots: 1, allocator: allocator);
        if (style is not null)
        {
            plan.SetStyle(style);
        }

        if (!plan.TryRentSlot(out var slot))
        {
            throw new InvalidOperationException("a fresh plan has no free slot");
        }

        for (int i = 0; i < 3; i++)
        {
            plan.Infer(slot);
        }

        var sw = Stopwatch.StartNew();
        for (int i = 0; i < frames; i++)
        {
            plan.Infer(slot);
        }

        sw.Stop();
        inTurn = null;
        if (peak is not null)
        {
            var (conv, model) = InTurn.Time(peak.RunMs, () =>
            {
                long t0 = Stopwatch.GetTimestamp();
                plan.Infer(slot);
                return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }, InTurnPairs);
            Array.Sort(model);
            Array.Sort(conv);
            inTurn = (Percentile.OfSorted(model, 0.5), Percentile.OfSorted(conv, 0.5));
        }

        plan.ReturnSlot(slot);
        return (frames, $"{stylizer.DeviceName}, tensor {tw}x{th}", sw.Elapsed.TotalSeconds);
    }

    /// <summary>Model and conv-peak runs taken in turn after each inference-only case.</summary>
    public const int InTurnPairs = 20;

    /// <summary>The <c>video stylize</c> job on the clip, without audio.</summary>
    private static async Task<(long, string, double?)> PipelineAsync(Stylizer stylizer, PipelineOptions options, string clip, string output, FrameAllocator allocator, CancellationToken ct)
    {
        var job = new StylizeJob(clip, output) { KeepAudio = false, Pipeline = options, Allocator = allocator };
        var stats = (await job.RunAsync(stylizer, cancellationToken: ct).ConfigureAwait(false)).Stats;
        string stages = string.Join(", ", stats.StageMilliseconds().Select(s => $"{s.Stage} {s.Milliseconds:0.0}"));
        return (stats.FramesOut, "ms/frame by stage: " + stages, null);
    }

    private static async Task GenerateAsync(string[] args, CancellationToken ct)
    {
        var (code, _, stderr) = await MediaTools.RunAsync("ffmpeg", ["-nostdin", "-v", "error", "-y", .. args], ct).ConfigureAwait(false);
        if (code != 0)
        {
            throw new MediaException($"cannot generate benchmark input: {stderr.Trim().Split('\n')[0]}");
        }
    }
}
