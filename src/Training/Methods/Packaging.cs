using System.Globalization;
using OpenCvSharp;
using TorchSharp;
using Video.Inference;
using Video.Training.Data;
using Video.Training.Export;
using Video.Training.Internal;
using Video.Training.Models;
using static TorchSharp.torch;

namespace Video.Training.Methods;

/// <summary>Turns a run directory into <c>NAME.onnx</c> + <c>NAME.json</c> + <c>NAME.sheet.png</c> (AdaIN adds <c>NAME.style.onnx</c>).</summary>
internal static class Packaging
{
    /// <summary>Held-out photos preferred for sheet rows (varied subjects); others are taken evenly from the held-out list.</summary>
    private static readonly string[] PreferredRows = ["gcompris_erase_kitten.jpg", "gcompris_explore_monuments_eiffeltower.jpg", "kphotoalbum_grand_canyon_1.jpg"];

    public static void PackageFast(string runDir, string outDir, string contentDir, string stylePath)
    {
        var state = RunState.TryLoad(runDir) ?? throw new TrainingDataException($"no state.json in {runDir}");
        var spec = FastOptions.SpecOf(state);
        using var style = SampleSheet.FitCell(stylePath);
        PackageGenerator(
            runDir, outDir, contentDir, state, spec, ModelFamily.Fast,
            $"real-time per-style model trained on {Path.GetFileNameWithoutExtension(stylePath)} (cheap half-resolution generator + detail-restoring upsample)",
            ("style: " + Path.GetFileName(stylePath), _ => style.Clone()));
    }

    /// <summary>
    /// Packages a cartoon run (<see cref="CartoonMethod"/>): family <c>cartoon</c>, and a sheet of held-out photo | the hand-set
    /// <c>toon</c> filter (when models/toon.onnx is found) | the trained model.
    /// </summary>
    public static void PackageCartoon(string runDir, string outDir, string contentDir, GeneratorUpsample upsample = GeneratorUpsample.Bilinear)
    {
        var state = RunState.TryLoad(runDir) ?? throw new TrainingDataException($"no state.json in {runDir}");
        string domain = state.StyleFiles.Count == 0 ? "cartoon images"
            : state.StyleFiles[0].TrimEnd('/') == CartoonImages.OpenClipartDir ? CartoonImages.OpenClipartPackage
            : Path.GetFileName(state.StyleFiles[0].TrimEnd('/'));
        OrtModel? toon = null;
        try
        {
            toon = new OrtModel(CartoonMethod.ResolveToon(null));
        }
        catch (TrainingDataException)
        {
            Console.WriteLine("package: models/toon.onnx not found; the sheet has no toon column");
        }

        using (toon)
        {
            PackageGenerator(
                runDir, outDir, contentDir, state, CartoonOptions.Spec with { Upsample = upsample }, ModelFamily.Cartoon,
                $"real-time cartoon model trained on photos and {domain}/ (White-box / CartoonGAN losses{(state.Data.Contains("PatchNCE", StringComparison.Ordinal) ? ", CUT PatchNCE" : "")}; cheap half-resolution generator + {upsample.ToString().ToLowerInvariant()} x2 upsample)",
                toon is null ? null : ("toon (hand-set filter)", x => ImageTensors.ToBgr(toon.Run("input", x))));
        }
    }

    /// <summary>
    /// Exports a run's <see cref="FastStylizer"/> checkpoint: ONNX, a sheet of held-out photo | <paramref name="middle"/> column
    /// (when given) | result, with the TorchSharp vs ONNX Runtime parity on every row, and the manifest.
    /// </summary>
    private static void PackageGenerator(string runDir, string outDir, string contentDir, RunState state, StylizerSpec spec, ModelFamily family, string description, (string Title, Func<Tensor, Mat> Cell)? middle)
    {
        using var model = new FastStylizer(spec);
        model.load(Path.Combine(runDir, FastMethod.WeightsFile));
        model.eval();
        Directory.CreateDirectory(outDir);
        string name = state.Name;
        string onnx = Path.Combine(outDir, name + ".onnx");
        OnnxExporter.ExportFast(model, onnx, Metadata(state));

        using var ort = new OrtModel(onnx);
        var rows = new List<IReadOnlyList<Mat>>();
        double maxDiff = 0;
        foreach (var row in SheetRows(contentDir, state.HeldOutContent))
        {
            var content = SampleSheet.ContentCell(row);
            using var scope = torch.NewDisposeScope();
            var x = ImageTensors.FromBgr(content).unsqueeze(0);
            var y = ort.Run("input", x);
            using (torch.no_grad())
            {
                maxDiff = Math.Max(maxDiff, (model.FullFrame(x) - y).abs().max().item<float>());
            }

            rows.Add(middle is { } mid ? [content, mid.Cell(x), ImageTensors.ToBgr(y)] : [content, ImageTensors.ToBgr(y)]);
        }

        string sheet = name + ".sheet.png";
        var titles = new List<string> { "content (not trained on)" };
        if (middle is { } m)
        {
            titles.Add(m.Title);
        }

        titles.Add("result: " + name);
        SampleSheet.Save(Path.Combine(outDir, sheet), titles, rows);
        DisposeRows(rows);

        var manifest = TrainedManifest.Create(name, family, description, spec.SizeMultiple, ProvenanceOf(state));
        manifest.Save(Path.Combine(outDir, name + ".json"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"packaged {name}: {onnx} ({new FileInfo(onnx).Length / 1024.0:0} KiB), sheet, manifest; TorchSharp vs ONNX Runtime max abs diff {maxDiff:0.0e0}"));
    }

    internal static ModelProvenance ProvenanceOf(RunState state) => new()
    {
        Method = state.Method,
        Data = state.Data,
        Steps = state.Step,
        Losses = state.Losses,
        Minutes = state.Minutes,
        GitCommit = state.GitCommit,
        Command = state.Command,
        TrainedAt = state.FinishedAt ?? state.StartedAt,
        LossNetwork = state.LossNetwork,
        TemporalWeight = state.TemporalWeight,
    };

    internal static Dictionary<string, string> Metadata(RunState state) => new()
    {
        ["name"] = state.Name,
        ["method"] = state.Method,
        ["gitCommit"] = state.GitCommit,
        ["steps"] = state.Step.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Sheet rows: three held-out content photos plus one face from the faces/ folder next to the content folder (never trained on).</summary>
    internal static List<string> SheetRows(string contentDir, IReadOnlyList<string> heldOut)
    {
        var rows = PreferredRows.Where(heldOut.Contains).Select(f => Path.Combine(contentDir, f)).Where(File.Exists).ToList();
        for (int i = 0; rows.Count < 3 && i < heldOut.Count; i += Math.Max(1, heldOut.Count / 3))
        {
            var p = Path.Combine(contentDir, heldOut[i]);
            if (!rows.Contains(p) && File.Exists(p))
            {
                rows.Add(p);
            }
        }

        var faces = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(contentDir).TrimEnd('/'))!, "faces");
        if (Directory.Exists(faces))
        {
            var face = ImageFolder.ListImages(faces).FirstOrDefault(f => Path.GetFileName(f).StartsWith("london", StringComparison.Ordinal))
                ?? ImageFolder.ListImages(faces)[0];
            rows.Add(face);
        }

        if (rows.Count == 0)
        {
            throw new TrainingDataException($"no held-out content photos for the sample sheet in {contentDir}");
        }

        return rows;
    }

    internal static void DisposeRows(IEnumerable<IReadOnlyList<Mat>> rows)
    {
        foreach (var m in rows.SelectMany(r => r))
        {
            m.Dispose();
        }
    }
}
