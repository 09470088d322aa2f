using System.CommandLine;
using System.Globalization;
using Video.Capture;
using Video.Inference;
using Video.Inference.Onnx;

namespace Video.Streaming.Cli;

/// <summary><c>video models</c>: list installed models; <c>video models make-procedural</c>: rebuild the procedural ones.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var models = CommonOptions.ModelsDirectory();
        var command = new Command("models", "List installed models with family, size rules and provenance") { models };
        command.SetAction(parse =>
        {
            var catalog = ModelCatalog.Load(ModelCatalog.ResolveDirectory(parse.GetValue(models)));
            Console.WriteLine($"models in {catalog.Directory}:");
            foreach (var m in catalog.Models)
            {
                string size = m.Size.Mode == SizeMode.Fixed ? $"fixed {m.Size.Width}x{m.Size.Height}" : $"any size, multiple of {m.Size.MultipleOf}";
                long bytes = File.Exists(m.ModelPath) ? new FileInfo(m.ModelPath).Length : 0;
                string isDefault = m.Name == ModelCatalog.DefaultModelName ? " (default)" : string.Empty;
                Console.WriteLine($"  {m.Name,-20} {m.Family.ToString().ToLowerInvariant(),-9} {bytes / 1024.0 / 1024.0,6:0.00} MB  {size,-26} {m.ProvenanceSummary()}{isDefault}");
            }

            foreach (var p in catalog.Problems)
            {
                Console.Error.WriteLine($"video: warning: {p}");
            }

            return ExitCodes.Ok;
        });

        var outDir = new Option<string?>("--out") { Description = "Directory to write to (default: the models directory)" };
        var make = new Command("make-procedural", "Write the hand-designed models (the default 'toon' filter) with their manifests") { outDir, models };
        make.SetAction(parse =>
        {
            string dir = parse.GetValue(outDir) ?? ModelCatalog.ResolveDirectory(parse.GetValue(models));
            if (!Directory.Exists(dir))
            {
                throw new VideoException($"directory not found: {dir}");
            }

            WriteToon(dir);
            Console.WriteLine($"wrote {Path.Combine(dir, "toon.onnx")} and toon.json");
            return ExitCodes.Ok;
        });
        command.Subcommands.Add(make);
        command.Subcommands.Add(QuantizeCommand(models));
        return command;
    }

    /// <summary>
    /// <c>video models quantize NAME</c>: writes the int8 copy of a model calibrated on shared photos and prints its PSNR
    /// against the float model on held-out photos and both inference times, side by side.
    /// </summary>
    private static Command QuantizeCommand(Option<string?> models)
    {
        var name = new Argument<string>("model") { Description = "Model name or manifest .json" };
        var photos = new Option<string?>("--photos") { Description = "Folder of photos: every 8th by name (the trainer's held-out set) measures PSNR, --calibration of the others calibrate (default: ../shared/data/content)" };
        var size = new Option<string>("--size") { Description = "Frame size WxH to calibrate and measure at", DefaultValueFactory = _ => "640x360" };
        var runs = new Option<int>("--runs") { Description = "Interleaved timed runs of each model", DefaultValueFactory = _ => 20 };
        var calibrationCount = new Option<int>("--calibration") { Description = "Photos to calibrate on, spread over those not held out", DefaultValueFactory = _ => 48 };
        var percentile = new Option<double>("--percentile") { Description = "Activation ranges: the share of calibration values inside each range (100: minimum to maximum), or 0 to choose each range by the least rounding and clipping error", DefaultValueFactory = _ => 100 };
        var target = new Option<double?>("--target-db") { Description = "Keep the convolutions that cost the most PSNR float until the worst calibration photo is at least this close to the float model (default: every wide convolution int8)" };
        var quantize = new Command("quantize", "Write NAME.int8.onnx (int8 QDQ convolutions calibrated on photos) and measure it against the float model: PSNR on held-out photos, inference time side by side") { name, photos, size, runs, calibrationCount, percentile, target, models };
        quantize.SetAction(parse =>
        {
            double pct = parse.GetValue(percentile);
            if (pct is not 0 and (<= 50 or > 100) || double.IsNaN(pct))
            {
                throw new VideoException($"--percentile {pct.ToString(CultureInfo.InvariantCulture)}: give a share in (50, 100], or 0 to choose each range by least error");
            }

            if (parse.GetValue(target) is { } db && (db is <= 0 or > 100 || double.IsNaN(db)))
            {
                throw new VideoException($"--target-db {db.ToString(CultureInfo.InvariantCulture)}: give a PSNR in (0, 100] dB");
            }

            var manifest = ModelCatalog.Open(parse.GetValue(models), parse.GetValue(name)!);
            string dir = parse.GetValue(photos) ?? (SharedDataLocator.Find() is { } shared ? Path.Combine(shared, "content") : null) ?? throw new VideoException("no photos: give --photos DIR (../shared/data/content was not found)");
            var all = Directory.EnumerateFiles(dir).Where(ImageSequenceSource.IsImagePath).Order(StringComparer.Ordinal).ToList();
            var heldOut = all.Where((_, i) => i % 8 == 0).ToList();
            var rest = all.Where((_, i) => i % 8 != 0).ToList();
            int count = Math.Min(parse.GetValue(calibrationCount), rest.Count);
            var calibration = Enumerable.Range(0, count).Select(i => rest[i * rest.Count / Math.Max(count, 1)]).ToList();
            if (heldOut.Count == 0 || calibration.Count == 0)
            {
                throw new VideoException($"{dir} has too few photos to calibrate and measure ({all.Count})");
            }

            var (w, h) = CommonOptions.ParseSize(parse.GetValue(size))!.Value;
            var result = Int8Variant.Build(manifest, calibration, heldOut, w, h, parse.GetValue(runs), pct, parse.GetValue(target), Console.Out);
            string command = "./video models quantize " + string.Join(' ', parse.Tokens.Skip(2).Select(t => t.Value));
            var updated = manifest with
            {
                Int8 = new QuantizedModel
                {
                    Model = Path.GetFileName(result.Path),
                    PsnrMeanDb = Math.Round(result.PsnrDb.Average(p => p.Db), 2),
                    PsnrWorstDb = Math.Round(result.WorstDb, 2),
                    Calibration = $"{calibration.Count} photos of {Path.GetFileName(dir.TrimEnd('/'))}/ (not the trainer's held-out every-8th), {w}x{h}, {RangeRule(pct)}, uint8 activations, int8 per-channel weights, {result.Report.ConvolutionsQuantized} convolutions int8 and {result.Report.ConvolutionsKept} float{KeptRule(parse.GetValue(target), result.Report)}; PSNR on the {heldOut.Count} held-out photos; commit {ModelProvenance.CurrentGitCommit()}; {command}",
                },
            };
            updated.Save(manifest.ManifestPath);
            Console.WriteLine($"wrote {result.Path}: {result.Report.ConvolutionsQuantized} convolutions int8, {result.Report.ConvolutionsKept} kept float, calibrated on {calibration.Count} photos at {w}x{h}");
            Console.WriteLine($"PSNR against the float model on {heldOut.Count} held-out photos: worst {result.WorstDb:0.0} dB, mean {result.PsnrDb.Average(p => p.Db):0.0} dB; lowest: {string.Join(", ", result.PsnrDb.OrderBy(p => p.Db).Take(3).Select(p => $"{p.Photo} {p.Db:0.0}"))}");
            Console.WriteLine($"inference only at {w}x{h}, {parse.GetValue(runs)} interleaved runs: float {result.FloatMilliseconds:0.0} ms, int8 {result.Int8Milliseconds:0.0} ms ({result.Speedup:0.00}x)");
            Console.WriteLine($"updated {manifest.ManifestPath}: use it as --model {manifest.Name}{ModelCatalog.Int8Suffix}");
            return ExitCodes.Ok;
        });
        return quantize;
    }

    private static string RangeRule(double percentile) => percentile switch
    {
        0 => "ranges of least rounding and clipping error",
        100 => "min/max ranges",
        _ => $"{percentile.ToString(CultureInfo.InvariantCulture)}th-percentile ranges",
    };

    private static string KeptRule(double? targetDb, Int8Report report)
    {
        var kept = report.Candidates.Except(report.Quantized).ToList();
        return targetDb is { } t && kept.Count > 0
            ? $" ({string.Join(", ", kept)} kept float, the costliest first, until the worst calibration photo reached {t.ToString(CultureInfo.InvariantCulture)} dB against float)"
            : string.Empty;
    }

    internal static void WriteToon(string dir)
    {
        var started = DateTime.UtcNow;
        ProceduralModels.WriteToon(Path.Combine(dir, "toon.onnx"));
        var provenance = new ModelProvenance
        {
            Method = "procedural",
            Data = "none: weights are set by hand (Gaussian blur, sigmoid posterisation with 6 levels, saturation +35 %, Sobel outlines)",
            Steps = 0,
            Losses = [],
            Minutes = Math.Round((DateTime.UtcNow - started).TotalMinutes, 3),
            GitCommit = ModelProvenance.CurrentGitCommit(),
            Command = "./video models make-procedural",
            TrainedAt = started.ToString("O"),
        };
        var manifest = new ModelManifest
        {
            Name = "toon",
            Family = ModelFamily.Cartoon,
            Description = "Procedural cartoon filter (posterised colour + ink outlines); the default until trained models ship",
            Model = "toon.onnx",
            Input = new TensorSpec { Name = "input" },
            Output = new TensorSpec { Name = "output" },
            Size = new SizeRule { Mode = SizeMode.Dynamic, MultipleOf = 1 },
            SampleSheet = "toon.sheet.png",
            Provenance = provenance,
        };
        manifest.Save(Path.Combine(dir, "toon.json"));
    }
}
