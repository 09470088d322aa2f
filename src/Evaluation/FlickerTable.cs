using System.Globalization;
using System.Text;
using System.Text.Json;
using Video.Capture;
using Video.Inference;
using Video.Inference.Temporal;

namespace Video.Evaluation;

/// <summary>One row of the E_warp table: a model on a clip, filter off and on, and the temporal-loss variant.</summary>
public sealed record FlickerTableRow(
    string Model,
    string Clip,
    int Width,
    int Height,
    int Pairs,
    int Cuts,
    double Floor,
    double Off,
    double Flow,
    double? TemporalLoss,
    double? FilterMilliseconds,
    string OffPath,
    string FlowPath,
    string? TemporalLossPath)
{
    public double? Ratio => Off > 0 ? Flow / Off : null;

    /// <summary>Share of the flicker above the clip's own floor that the filter leaves; null when E_warp(off) is at or below the floor.</summary>
    public double? ExcessRatio => Off > Floor ? (Flow - Floor) / (Off - Floor) : null;

    public double? TemporalLossRatio => TemporalLoss is { } t && Off > 0 ? t / Off : null;
}

/// <summary>What <c>video eval flicker-table</c> was asked to do.</summary>
public sealed record FlickerTableRequest
{
    public required IReadOnlyList<string> Clips { get; init; }

    public required IReadOnlyList<string> Models { get; init; }

    public required string ModelsDirectory { get; init; }

    public string? TemporalLossDirectory { get; init; }

    public required string OutputDirectory { get; init; }

    public long? Frames { get; init; }

    public string? Style { get; init; }

    public Device Device { get; init; } = Device.Auto;

    public TemporalOptions Filter { get; init; } = new();

    public int MetricFlowWidth { get; init; } = FlickerMeter.DefaultFlowWidth;

    public bool Reuse { get; init; }

    /// <summary>
    /// Write the stylized versions as PNG sequences (lossless, as Lai et al. measure frames) rather than
    /// H.264 files as <c>video stylize</c> writes them.
    /// </summary>
    public bool Png { get; init; } = true;

    public string? StripsDirectory { get; init; }

    public string? StripClip { get; init; }

    public int StripStart { get; init; } = 40;

    public string? StripCrop { get; init; }
}

/// <summary>
/// The flicker table (<c>video eval flicker-table</c>): stylizes every clip with every model, filter off and
/// <c>--temporal flow</c> (and, when given, with a variant of the model trained with the temporal loss), with
/// the same pipeline as <c>video stylize</c>, measures E_warp of all versions in one pass, and prints the
/// table of docs/temporal.md (which the command prints). Optionally saves the off/on strips (<see cref="FlickerStrips"/>).
/// </summary>
public static class FlickerTable
{
    /// <summary>The style image AdaIN models get, relative to the shared data folder.</summary>
    public const string DefaultStyle = "style/picabia_udnie.jpg";

    /// <summary>The clip strips are made from when it is in the list.</summary>
    public const string DefaultStripClip = "opencv_vtest_people_walking.mp4";

    /// <summary>Runs every model on every clip and measures them; throws <see cref="VideoException"/> on bad input before any work starts.</summary>
    public static async Task<IReadOnlyList<FlickerTableRow>> RunAsync(FlickerTableRequest request, TextWriter log, CancellationToken cancellationToken)
    {
        var (jobs, style) = Validate(request);
        Directory.CreateDirectory(request.OutputDirectory);
        if (request.StripsDirectory is not null)
        {
            Directory.CreateDirectory(request.StripsDirectory);
        }

        string? stripClip = request.StripsDirectory is null ? null : PickStripClip(request);
        var rows = new List<FlickerTableRow>();
        int step = 0;
        foreach (var (manifest, variant) in jobs)
        {
            using var stylizer = Stylizer.Load(manifest, new StylizerOptions { Device = request.Device, Warn = log.WriteLine });
            using var variantStylizer = variant is null ? null : Stylizer.Load(variant, new StylizerOptions { Device = request.Device, Warn = log.WriteLine });
            var styleStats = EncodeStyle(stylizer, style);
            var variantStyle = variantStylizer is null ? null : EncodeStyle(variantStylizer, style);
            foreach (var clip in request.Clips)
            {
                step++;
                string stem = Path.Combine(request.OutputDirectory, $"{Path.GetFileNameWithoutExtension(clip)}-{manifest.Name}");
                string extension = request.Png ? "/" : ".mp4";
                string offPath = stem + "-off" + extension, flowPath = stem + "-flow" + extension;
                string? variantPath = variant is null ? null : stem + "-tloss" + extension;
                string where = $"[{step}/{jobs.Count * request.Clips.Count}] {manifest.Name} on {Path.GetFileName(clip)}";
                await StylizeAsync(stylizer, styleStats, clip, offPath, TemporalOptions.Disabled, request, log, $"{where}: filter off", cancellationToken).ConfigureAwait(false);
                double? filterMs = await StylizeAsync(stylizer, styleStats, clip, flowPath, request.Filter, request, log, $"{where}: --temporal flow", cancellationToken).ConfigureAwait(false);
                if (variantStylizer is not null)
                {
                    await StylizeAsync(variantStylizer, variantStyle, clip, variantPath!, TemporalOptions.Disabled, request, log, $"{where}: temporal-loss variant, filter off", cancellationToken).ConfigureAwait(false);
                }

                log.WriteLine($"{where}: measuring E_warp");
                string[] versions = variantPath is null ? [offPath, flowPath] : [offPath, flowPath, variantPath];
                var m = await Flicker.MeasureAsync(clip, versions, request.MetricFlowWidth, request.Frames, FlickerMeter.DefaultCutError, cancellationToken).ConfigureAwait(false);
                var row = new FlickerTableRow(
                    manifest.Name,
                    Path.GetFileName(clip),
                    m.Width,
                    m.Height,
                    m.Pairs,
                    m.Cuts,
                    m.OriginalWarpError,
                    m.WarpErrors[0],
                    m.WarpErrors[1],
                    variantPath is null ? null : m.WarpErrors[2],
                    filterMs,
                    offPath,
                    flowPath,
                    variantPath);
                rows.Add(row);
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{where}: floor {row.Floor:0.000000} off {row.Off:0.000000} flow {row.Flow:0.000000} ratio {row.Ratio:0.00}"));
                if (stripClip is not null && string.Equals(Path.GetFullPath(clip), stripClip, StringComparison.Ordinal))
                {
                    await FlickerStrips.SaveAsync(row, request, log, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        return rows;
    }

    /// <summary>Writes the table as <c>table.md</c> and <c>table.json</c> to the request's output directory and returns both texts.</summary>
    public static async Task<(string Markdown, string Json)> SaveAsync(IReadOnlyList<FlickerTableRow> rows, FlickerTableRequest request, CancellationToken cancellationToken)
    {
        string markdown = Markdown(rows, request);
        string json = Json(rows, request);
        await File.WriteAllTextAsync(Path.Combine(request.OutputDirectory, "table.md"), markdown, cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(request.OutputDirectory, "table.json"), json, cancellationToken).ConfigureAwait(false);
        return (markdown, json);
    }

    /// <summary>The markdown table of docs/temporal.md, with the settings and a command that reproduces a row.</summary>
    public static string Markdown(IReadOnlyList<FlickerTableRow> rows, FlickerTableRequest request)
    {
        var inv = CultureInfo.InvariantCulture;
        var b = new StringBuilder();
        b.AppendLine("| model | clip | size, pairs | floor (original) | E_warp per frame (off) | E_warp filtered (flow) | ratio flow/off | excess ratio | trained with temporal loss (off; ratio to per-frame) | filter ms/frame |");
        b.AppendLine("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
        foreach (var r in rows)
        {
            string ratio = r.Ratio is { } x ? (x <= 0.5 ? $"**{x.ToString("0.00", inv)}**" : x.ToString("0.00", inv)) : "—";
            string excess = r.ExcessRatio is { } e ? e.ToString("0.00", inv) : "— (off below floor)";
            string loss = r.TemporalLoss is { } t ? string.Create(inv, $"{t:0.000000} ({r.TemporalLossRatio:0.00}×)") : "not trained";
            string ms = r.FilterMilliseconds is { } fm ? fm.ToString("0.0", inv) : "—";
            string cuts = r.Cuts > 0 ? string.Create(inv, $" (+{r.Cuts} cut)") : string.Empty;
            b.AppendLine(string.Create(inv, $"| {r.Model} | {r.Clip} | {r.Width}x{r.Height}, {r.Pairs}{cuts} | {r.Floor:0.000000} | {r.Off:0.000000} | {r.Flow:0.000000} | {ratio} | {excess} | {loss} | {ms} |"));
        }

        b.AppendLine();
        int met = rows.Count(r => r.Ratio is <= 0.5);
        b.AppendLine(string.Create(inv, $"Goal flow/off ≤ 0.5 met on {met} of {rows.Count} rows."));
        var f = request.Filter;
        b.AppendLine(string.Create(inv, $"Filter: --temporal flow, strength {f.Strength}, tolerance {f.Tolerance}, flow width {(f.FlowWidth is { } w ? w.ToString(inv) : "auto (frame width / 4, at least 160)")}; versions stored as {(request.Png ? "PNG sequences (lossless)" : "H.264 CRF 20")}; metric flow up to {request.MetricFlowWidth} px wide, occlusions and motion boundaries masked; scene-cut pairs (original's own pair error > {FlickerMeter.DefaultCutError} with under {FlickerMeter.CutVisibleFraction:0%} of pixels visible) left out; {(request.Frames is { } n ? $"first {n} frames of each clip" : "whole clips")}; device {request.Device.ToString().ToLowerInvariant()}."));
        if (rows.Count > 0)
        {
            var r = rows[0];
            string frames = request.Frames is { } k ? string.Create(inv, $" --frames {k}") : string.Empty;
            b.AppendLine();
            b.AppendLine($"Reproduce a row: `./video eval flicker {Quote(request.Clips.First(c => Path.GetFileName(c) == r.Clip))} {Quote(r.FlowPath)} --vs {Quote(r.OffPath)}{frames}`");
        }

        return b.ToString();
    }

    /// <summary>The rows and settings as one JSON object.</summary>
    public static string Json(IReadOnlyList<FlickerTableRow> rows, FlickerTableRequest request)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("metric", "E_warp");
            w.WriteStartObject("filter");
            w.WriteNumber("strength", request.Filter.Strength);
            w.WriteNumber("tolerance", request.Filter.Tolerance);
            if (request.Filter.FlowWidth is { } fw)
            {
                w.WriteNumber("flowWidth", fw);
            }
            else
            {
                w.WriteString("flowWidth", "auto");
            }

            w.WriteEndObject();
            w.WriteNumber("metricFlowWidth", request.MetricFlowWidth);
            w.WriteString("format", request.Png ? "png" : "mp4");
            if (request.Frames is { } n)
            {
                w.WriteNumber("frames", n);
            }
            else
            {
                w.WriteNull("frames");
            }

            w.WriteStartArray("rows");
            foreach (var r in rows)
            {
                w.WriteStartObject();
                w.WriteString("model", r.Model);
                w.WriteString("clip", r.Clip);
                w.WriteNumber("width", r.Width);
                w.WriteNumber("height", r.Height);
                w.WriteNumber("pairs", r.Pairs);
                w.WriteNumber("cutPairsLeftOut", r.Cuts);
                w.WriteNumber("floor", r.Floor);
                w.WriteNumber("off", r.Off);
                w.WriteNumber("flow", r.Flow);
                Number(w, "ratio", r.Ratio);
                Number(w, "excessRatio", r.ExcessRatio);
                Number(w, "temporalLoss", r.TemporalLoss);
                Number(w, "temporalLossRatio", r.TemporalLossRatio);
                Number(w, "filterMsPerFrame", r.FilterMilliseconds);
                w.WriteString("offPath", r.OffPath);
                w.WriteString("flowPath", r.FlowPath);
                if (r.TemporalLossPath is null)
                {
                    w.WriteNull("temporalLossPath");
                }
                else
                {
                    w.WriteString("temporalLossPath", r.TemporalLossPath);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + Environment.NewLine;
    }

    /// <summary>Clips from files and folders (every file of a folder, by name); the shared data's video folder when none are given.</summary>
    public static IReadOnlyList<string> ResolveClips(IReadOnlyList<string> values)
    {
        if (values.Count == 0)
        {
            string data = SharedDataLocator.Find() ?? throw new VideoException("../shared/data/video not found; pass --clips (or set VIDEO_SHARED_DATA)");
            values = [Path.Combine(data, "video")];
        }

        var clips = new List<string>();
        foreach (var v in values)
        {
            if (Directory.Exists(v))
            {
                clips.AddRange(Directory.EnumerateFiles(v).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).Select(Path.GetFullPath));
            }
            else
            {
                MediaProbe.CheckReadable(v);
                clips.Add(Path.GetFullPath(v));
            }
        }

        if (clips.Count == 0)
        {
            throw new VideoException($"no clips in {string.Join(", ", values)}");
        }

        return clips;
    }

    private static (List<(ModelManifest Model, ModelManifest? Variant)> Jobs, string? Style) Validate(FlickerTableRequest request)
    {
        request.Filter.Validate();
        if (request.Frames is < 2)
        {
            throw new VideoException($"--frames {request.Frames} is out of range: flicker needs at least 2 frames");
        }

        if (request.MetricFlowWidth is < 32 or > 8192)
        {
            throw new VideoException($"--metric-flow-width {request.MetricFlowWidth} is out of range [32, 8192]");
        }

        if (request.StripStart < 0)
        {
            throw new VideoException($"--strip-start {request.StripStart} is negative");
        }

        if (request.StripCrop is not null)
        {
            ParseCrop(request.StripCrop);
        }

        var catalog = ModelCatalog.Load(request.ModelsDirectory);
        var models = request.Models.Count == 0 ? catalog.Models.ToList() : request.Models.Select(catalog.Find).ToList();
        if (models.Count == 0)
        {
            throw new VideoException($"no models in {catalog.Directory}");
        }

        ModelCatalog? variants = request.TemporalLossDirectory is null ? null : ModelCatalog.Load(request.TemporalLossDirectory);
        var jobs = models.Select(m => (m, variants?.Models.FirstOrDefault(v => string.Equals(v.Name, m.Name, StringComparison.OrdinalIgnoreCase)))).ToList();
        foreach (var (m, v) in jobs)
        {
            if (v is not null && v.Family != m.Family)
            {
                throw new VideoException($"the temporal-loss variant of '{m.Name}' is a {v.Family.ToString().ToLowerInvariant()} model but '{m.Name}' is {m.Family.ToString().ToLowerInvariant()}");
            }
        }

        string? style = null;
        if (jobs.Any(j => j.m.Family == ModelFamily.Adain))
        {
            style = request.Style ?? (SharedDataLocator.Find() is { } data ? Path.Combine(data, DefaultStyle) : null)
                ?? throw new VideoException("AdaIN models need a style: pass --style IMAGE (../shared/data not found)");
            if (!File.Exists(style))
            {
                throw new VideoException($"style image not found: {style}");
            }
        }

        if (request.StripClip is not null && !request.Clips.Any(c => string.Equals(Path.GetFileName(c), request.StripClip, StringComparison.Ordinal)))
        {
            throw new VideoException($"--strip-clip {request.StripClip} is not one of the clips");
        }

        return (jobs, style);
    }

    private static string PickStripClip(FlickerTableRequest request)
    {
        string name = request.StripClip ?? DefaultStripClip;
        return request.Clips.FirstOrDefault(c => string.Equals(Path.GetFileName(c), name, StringComparison.Ordinal)) ?? request.Clips[0];
    }

    private static StyleStatistics? EncodeStyle(Stylizer stylizer, string? style)
    {
        if (!stylizer.TakesStyle)
        {
            return null;
        }

        using var image = FrameMats.LoadRgb(style!);
        return stylizer.EncodeStyle(image);
    }

    /// <summary>Runs the <c>video stylize</c> job on (the first frames of) a clip; returns the filter's ms per frame when it ran.</summary>
    private static async Task<double?> StylizeAsync(Stylizer stylizer, StyleStatistics? style, string clip, string output, TemporalOptions temporal, FlickerTableRequest request, TextWriter log, string what, CancellationToken cancellationToken)
    {
        if (request.Reuse && (File.Exists(output) || (Directory.Exists(output) && Directory.EnumerateFiles(output).Any())))
        {
            log.WriteLine($"{what}: reusing {output}");
            return null;
        }

        log.WriteLine($"{what} → {output}");
        var job = new StylizeJob(clip, output)
        {
            MaxFrames = request.Frames,
            KeepAudio = false,
            Pipeline = new PipelineOptions { Temporal = temporal, Style = style },
        };
        var stats = (await job.RunAsync(stylizer, cancellationToken: cancellationToken).ConfigureAwait(false)).Stats;
        return temporal.Mode == TemporalMode.Off ? null : stats.StageMilliseconds().First(s => s.Stage == "temporal").Milliseconds;
    }

    internal static (int W, int H, int X, int Y) ParseCrop(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 4 && parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            var v = parts.Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
            if (v[0] > 0 && v[1] > 0)
            {
                return (v[0], v[1], v[2], v[3]);
            }
        }

        throw new VideoException($"--strip-crop '{text}' is not W:H:X:Y (e.g. 320:240:200:150)");
    }

    private static string Quote(string path) => path.Contains(' ', StringComparison.Ordinal) ? $"'{path}'" : path;

    private static void Number(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
