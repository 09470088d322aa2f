using System.CommandLine;
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
        return command;
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
