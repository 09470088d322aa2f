using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Video.Capture;
using Video.Inference;
using Video.Inference.Temporal;

namespace Video.Streaming.Cli;

/// <summary>
/// <c>video bench</c>: measures, in one run and side by side, decode only, decode + encode (the floor),
/// inference only and the full pipeline with and without the temporal filter, for each model and size,
/// and writes the table to <c>docs/benchmarks.md</c>.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var sizes = new Option<string>("--sizes") { Description = "Comma-separated WxH list", DefaultValueFactory = _ => "640x360,1280x720" };
        var modelsList = new Option<string?>("--model") { Description = "Comma-separated model names (default: every installed model)" };
        var frames = new Option<int>("--frames") { Description = "Frames per measurement", DefaultValueFactory = _ => 90 };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON" };
        var output = new Option<string?>("--out") { Description = "Markdown file to write (default: docs/benchmarks.md when ./docs exists)" };
        var device = CommonOptions.Device();
        var models = CommonOptions.ModelsDirectory();
        var command = new Command("bench", "Measure decode, encode, inference and full-pipeline speed per model and size") { sizes, modelsList, frames, json, output, device, models };
        command.SetAction(async (parse, ct) =>
        {
            int n = parse.GetValue(frames);
            if (n is < 10 or > 10_000)
            {
                throw new VideoException($"--frames {n} is outside 10..10000");
            }

            var sizeList = parse.GetValue(sizes)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => CommonOptions.ParseSize(s.Trim())!.Value).ToList();
            var catalog = ModelCatalog.Load(ModelCatalog.ResolveDirectory(parse.GetValue(models)));
            var chosen = parse.GetValue(modelsList) is { } names
                ? names.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(m => catalog.Find(m.Trim())).ToList()
                : catalog.Models.ToList();
            var rows = await RunAsync(sizeList, chosen, n, CommonOptions.ParseDevice(parse.GetValue(device)!), Console.Error, ct).ConfigureAwait(false);
            string markdown = Markdown(rows, n);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                Console.WriteLine(markdown);
            }

            string? outPath = parse.GetValue(output) ?? (Directory.Exists("docs") ? Path.Combine("docs", "benchmarks.md") : null);
            if (outPath is not null)
            {
                await File.WriteAllTextAsync(outPath, markdown, ct).ConfigureAwait(false);
                Console.Error.WriteLine($"wrote {outPath}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>One measurement: a case (decode, encode, infer, pipeline…) at one size for one model.</summary>
    internal sealed record BenchRow(string Size, string Model, string Case, double Fps, double MsPerFrame, double CpuPercent, string Notes);

    internal static async Task<List<BenchRow>> RunAsync(IReadOnlyList<(int Width, int Height)> sizes, IReadOnlyList<ModelManifest> models, int frames, Device device, TextWriter log, CancellationToken ct)
    {
        var rows = new List<BenchRow>();
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
                rows.Add(await MeasureAsync(size, "-", "decode only", ct => CopyAsync(clip, null, ct), ct).ConfigureAwait(false));
                log.WriteLine($"bench {size}: decode + encode");
                rows.Add(await MeasureAsync(size, "-", "decode + encode (floor)", ct => CopyAsync(clip, Path.Combine(dir, "copy.mp4"), ct), ct).ConfigureAwait(false));
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
                    rows.Add(await MeasureAsync(size, manifest.Name, "inference only", _ => Task.FromResult(InferOnly(stylizer, style, w, h, tw, th, frames)), ct).ConfigureAwait(false));
                    foreach (var mode in new[] { TemporalMode.Off, TemporalMode.Flow })
                    {
                        var options = new PipelineOptions { Style = style, Temporal = mode == TemporalMode.Off ? TemporalOptions.Disabled : new TemporalOptions { Mode = mode } };
                        string name = mode == TemporalMode.Off ? "pipeline" : "pipeline + temporal flow";
                        rows.Add(await MeasureAsync(size, manifest.Name, name, ct => PipelineAsync(stylizer, options, clip, Path.Combine(dir, "out.mp4"), ct), ct).ConfigureAwait(false));
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

    internal static string Markdown(IReadOnlyList<BenchRow> rows, int frames)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Benchmarks");
        sb.AppendLine();
        sb.AppendLine($"Written by `./video bench` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {frames} frames per case, all cases in one run.");
        sb.AppendLine("Inference only = ONNX Runtime runs on preallocated tensors; pipeline = decode → preprocess → infer → postprocess → encode (H.264) with stages overlapped.");
        sb.AppendLine("CPU % is the whole machine's busy time (/proc/stat) over the case, so it includes the ffmpeg processes and any other load.");
        sb.AppendLine("Ratios are taken within this run; the machine is shared, so compare ratios rather than absolute figures across runs.");
        sb.AppendLine();
        sb.AppendLine("| size | model | case | fps | ms/frame | CPU % | notes |");
        sb.AppendLine("| --- | --- | --- | ---: | ---: | ---: | --- |");
        foreach (var r in rows)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Size} | {r.Model} | {r.Case} | {r.Fps:0.0} | {r.MsPerFrame:0.0} | {r.CpuPercent:0} | {r.Notes} |");
        }

        sb.AppendLine();
        sb.AppendLine("| size | model | pipeline / inference-only | pipeline + flow / pipeline |");
        sb.AppendLine("| --- | --- | ---: | ---: |");
        foreach (var g in rows.Where(r => r.Model != "-").GroupBy(r => (r.Size, r.Model)))
        {
            double infer = g.First(r => r.Case == "inference only").Fps;
            double pipe = g.First(r => r.Case == "pipeline").Fps;
            double flow = g.First(r => r.Case == "pipeline + temporal flow").Fps;
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {g.Key.Size} | {g.Key.Model} | {pipe / infer:0.00} | {flow / pipe:0.00} |");
        }

        return sb.ToString();
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

    private static async Task<(long, string, double?)> CopyAsync(string clip, string? output, CancellationToken ct)
    {
        await using var source = await FrameSources.OpenAsync(clip, cancellationToken: ct).ConfigureAwait(false);
        var info = source.Info;
        await using var sink = output is null ? null : FfmpegVideoSink.Create(output, info.Width, info.Height, info.FrameRate, null);
        using var pool = new FramePool(info.Width, info.Height, PixelFormat.Rgb24, 4);
        long n = 0;
        while (await source.ReadAsync(pool, ct).ConfigureAwait(false) is { } frame)
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

    /// <summary>Runs the model alone on one preallocated slot; timed without plan creation and warm-up.</summary>
    private static (long, string, double?) InferOnly(Stylizer stylizer, StyleStatistics? style, int w, int h, int tw, int th, int frames)
    {
        using var plan = stylizer.CreatePlan(w, h, tw, th, slots: 1);
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
        plan.ReturnSlot(slot);
        return (frames, $"{stylizer.DeviceName}, tensor {tw}x{th}", sw.Elapsed.TotalSeconds);
    }

    private static async Task<(long, string, double?)> PipelineAsync(Stylizer stylizer, PipelineOptions options, string clip, string output, CancellationToken ct)
    {
        await using var source = await FrameSources.OpenAsync(clip, cancellationToken: ct).ConfigureAwait(false);
        var info = source.Info;
        await using var sink = FfmpegVideoSink.Create(output, info.Width, info.Height, info.FrameRate, null);
        var stats = await new StylizePipeline(stylizer, options).RunAsync(source, sink, cancellationToken: ct).ConfigureAwait(false);
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

    /// <summary>Whole-machine CPU time from /proc/stat.</summary>
    private static class MachineCpu
    {
        public static (long Busy, long Total) Read()
        {
            try
            {
                var parts = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
                long idle = parts[3] + (parts.Length > 4 ? parts[4] : 0);
                long total = parts.Take(8).Sum();
                return (total - idle, total);
            }
            catch (IOException)
            {
                return (0, 0);
            }
        }

        public static double Percent((long Busy, long Total) a, (long Busy, long Total) b) =>
            b.Total > a.Total ? 100.0 * (b.Busy - a.Busy) / (b.Total - a.Total) : double.NaN;
    }
}
