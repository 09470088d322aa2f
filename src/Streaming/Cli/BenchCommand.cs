using System.CommandLine;
using System.Text.Json;
using Video.Capture;
using Video.Evaluation;
using Video.Inference;

namespace Video.Streaming.Cli;

/// <summary>
/// <c>video bench</c>: parses the sizes, models and frame counts, runs <see cref="Bench"/> (decode, encode, inference,
/// pipeline and TorchSharp-eager cases side by side) and prints the tables, writing them to <c>docs/benchmarks.md</c>.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var sizes = new Option<string>("--sizes") { Description = "Comma-separated WxH list", DefaultValueFactory = _ => "640x360,1280x720" };
        var modelsList = new Option<string?>("--model") { Description = "Comma-separated model names, NAME:int8 for an int8 variant (default: every installed model, each followed by its int8 variant)" };
        var frames = new Option<int>("--frames") { Description = "Frames per measurement", DefaultValueFactory = _ => 90 };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON" };
        var output = new Option<string?>("--out") { Description = "Markdown file to write (default: docs/benchmarks.md when ./docs exists)" };
        var eagerFrames = new Option<int?>("--eager-frames") { Description = "Frames timed in the TorchSharp eager baseline (default: min(--frames, 30))" };
        var noEager = new Option<bool>("--no-eager") { Description = "Skip the TorchSharp eager baseline" };
        var device = CommonOptions.Device();
        var models = CommonOptions.ModelsDirectory();
        var command = new Command("bench", "Measure decode, encode, inference, full-pipeline and TorchSharp-eager speed per model and size, and the CPU's utilisation")
        {
            sizes, modelsList, frames, json, output, eagerFrames, noEager, device, models,
        };
        command.SetAction(async (parse, ct) =>
        {
            int n = parse.GetValue(frames);
            if (n is < 10 or > 10_000)
            {
                throw new VideoException($"--frames {n} is outside 10..10000");
            }

            int eagerN = parse.GetValue(eagerFrames) ?? Math.Min(n, 30);
            if (eagerN is < 1 or > 10_000)
            {
                throw new VideoException($"--eager-frames {eagerN} is outside 1..10000");
            }

            var sizeList = parse.GetValue(sizes)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => CommonOptions.ParseSize(s.Trim())!.Value).ToList();
            var catalog = ModelCatalog.Load(ModelCatalog.ResolveDirectory(parse.GetValue(models)));
            var chosen = parse.GetValue(modelsList) is { } names
                ? names.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(m => catalog.Find(m.Trim())).ToList()
                : catalog.Models.SelectMany(m => m.Int8 is null ? [m] : new[] { m, catalog.Find(m.Name + ModelCatalog.Int8Suffix) }).ToList();
            var eager = EagerBaseline.Locate(parse.GetValue(noEager));
            var rows = await Bench.RunAsync(sizeList, chosen, n, CommonOptions.ParseDevice(parse.GetValue(device)!), Console.Error, ct, eager, eagerN).ConfigureAwait(false);
            string markdown = Bench.Markdown(rows, n, eagerN, eager.SkipReason);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
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
}
