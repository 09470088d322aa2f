using System.Globalization;
using OpenCvSharp;
using TorchSharp;
using Video.Inference;
using Video.Training.Data;
using Video.Training.Export;
using Video.Training.Internal;
using Video.Training.Losses;
using Video.Training.Models;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Methods;

/// <summary>Options of arbitrary-style (AdaIN) decoder training.</summary>
internal sealed record AdaInOptions : RunOptions
{
    public AdaInOptions()
    {
        Steps = 4000;
        Crop = 128;
        StyleWeight = 5;
    }

    public required string StyleDir { get; init; }

    public int ShortSide { get; init; } = 200;

    public int StyleHoldoutEvery { get; init; } = 5;
}

/// <summary>
/// Trains the AdaIN decoder (Huang &amp; Belongie 2017) over many styles. The encoder is the pretrained ResNet-18 trunk
/// through layer2.1, and the same network (its first <c>--loss-blocks</c> blocks, four by default) is the loss network.
/// </summary>
internal static class AdaInMethod
{
    public const string WeightsFile = "decoder.bin";

    /// <summary>Long side at which the sheets feed a style image to the style encoder (the host's default limit).</summary>
    public const int StyleLongSide = 512;

    private static readonly string[] SeenSheetStyles = ["hokusai_great_wave.jpg", "munch_the_scream.jpg", "kandinsky_composition_vii.jpg", "picabia_udnie.jpg"];
    private static readonly string[] UnseenSheetStyles = ["vangogh_starry_night.jpg", "turner_shipwreck_of_the_minotaur.jpg", "hashiguchi_goyo_ducks.jpg", "monet_san_giorgio_maggiore_at_dusk.jpg"];

    public static int Run(AdaInOptions o, ResNet18LossNetwork net)
    {
        var previous = TrainingSession.Previous(o);
        torch.manual_seed(o.Seed);
        using var content = ImageFolder.Load(o.ContentDir, o.ShortSide, o.HoldoutEvery, o.ContentLimit);
        using var styles = ImageFolder.Load(o.StyleDir, o.ShortSide, o.StyleHoldoutEvery);
        Console.WriteLine($"adain '{o.Name}': {content.Count} content photos ({content.HeldOutFiles.Count} held out), {styles.Count} styles ({styles.HeldOutFiles.Count} held out), {content.Unreadable + styles.Unreadable} unreadable skipped");
        using var model = new AdaInStylizer(net);
        var opt = torch.optim.Adam(model.parameters(), lr: o.LearningRate);
        var session = TrainingSession.Start(o, previous, () => new RunState
        {
            Method = "adain",
            Name = o.Name,
            Command = o.Command,
            GitCommit = ModelProvenance.CurrentGitCommit(),
            StartedAt = DateTime.UtcNow.ToString("O"),
            LossNetwork = net.Description + $"; its first {AdaInStylizer.EncoderBlocks} blocks (through {ResNet18LossNetwork.BlockNames[AdaInStylizer.EncoderBlocks - 1]}) are the AdaIN encoder",
        }, model, opt, WeightsFile);
        var state = session.State;
        state.Unreadable = content.Unreadable + styles.Unreadable;
        state.HeldOutContent = content.HeldOutFiles.Select(f => Path.GetFileName(f)).ToList();
        state.StyleFiles = styles.TrainFiles.Select(f => Path.GetFileName(f)).ToList();
        state.HeldOutStyleFiles = styles.HeldOutFiles.Select(f => Path.GetFileName(f)).ToList();
        state.Data = $"{content.TrainFiles.Count} photos of content/ (every {o.HoldoutEvery}th file by name held out) and {styles.TrainFiles.Count} paintings of style/ (every {o.StyleHoldoutEvery}th held out as unseen styles: {string.Join(", ", state.HeldOutStyleFiles)}); {state.Unreadable} unreadable skipped; random {o.Crop}px crops of images scaled to a {o.ShortSide}px short side, batch {o.Batch}";
        session.RecordOptions(o);

        session.Run($"adain '{o.Name}'", $"adain '{o.Name}'", rng =>
        {
            var x = content.SampleBatch(rng, o.Batch, o.Crop);
            var s = styles.SampleBatch(rng, o.Batch, o.Crop);
            Tensor t, colour;
            (Tensor, Tensor)[] targets;
            using (torch.no_grad())
            {
                var st = model.StyleStatistics(s);
                t = StyleLosses.AdaIn(model.Encode(x), st.Mean, st.Std);
                colour = StyleLosses.AdaIn(x, st.RgbMean, st.RgbStd);
                targets = net.Features(s).Select(StyleLosses.MeanStd).ToArray();
            }

            opt.zero_grad();
            var z = model.LogitChange(t, colour);
            var y = AdaInStylizer.Apply(z, colour);
            var feats = net.Features(y);
            // The encoder's features are ReLU outputs (>= 0) but the AdaIN target is not: its negative part can never be
            // reached, and chasing it pushes whole regions of the output to black (docs/training.md, AdaIN).
            var lc = StyleLosses.ContentLoss(feats[net.ContentLayer], functional.relu(t));
            var ls = StyleLosses.MeanStdLoss(feats, targets);
            var ltv = StyleLosses.TotalVariation(y);
            return o.ChangeWeight == 0
                ? LossTerms.BackwardAndStep(opt, ("content", o.ContentWeight, lc), ("style", o.StyleWeight, ls), ("tv", o.TvWeight, ltv))
                : LossTerms.BackwardAndStep(opt, ("content", o.ContentWeight, lc), ("style", o.StyleWeight, ls), ("tv", o.TvWeight, ltv), ("change", o.ChangeWeight, z.pow(2).mean()));
        });
        if (o.OutDir is not null)
        {
            Package(o.RunDir, o.OutDir);
        }

        return 0;
    }

    public static void Package(string runDir, string outDir)
    {
        var state = RunState.TryLoad(runDir) ?? throw new TrainingDataException($"no state.json in {runDir}");
        string contentDir = state.Options["contentDir"].GetString()!;
        string styleDir = state.Options["styleDir"].GetString()!;
        using var net = ResNet18LossNetwork.Load(blocks: AdaInStylizer.EncoderBlocks);
        using var model = new AdaInStylizer(net);
        model.load(Path.Combine(runDir, WeightsFile));
        model.eval();
        Directory.CreateDirectory(outDir);
        string name = state.Name;
        string main = Path.Combine(outDir, name + ".onnx");
        string styleOnnx = Path.Combine(outDir, name + ".style.onnx");
        OnnxExporter.ExportAdaIn(model, main, styleOnnx, Packaging.Metadata(state));

        using var ortMain = new OrtModel(main);
        using var ortStyle = new OrtModel(styleOnnx);
        var seen = Pick(SeenSheetStyles, state.StyleFiles);
        var unseen = Pick(UnseenSheetStyles, state.HeldOutStyleFiles);
        var rows = new List<IReadOnlyList<Mat>>();
        double maxDiff = 0;
        var contentRows = Packaging.SheetRows(contentDir, state.HeldOutContent);
        for (int r = 0; r < contentRows.Count; r++)
        {
            using var scope = torch.NewDisposeScope();
            var cell = SampleSheet.ContentCell(contentRows[r]);
            var x = ImageTensors.FromBgr(cell).unsqueeze(0);
            string seenPath = Path.Combine(styleDir, seen[r % seen.Count]);
            string unseenPath = Path.Combine(styleDir, unseen[r % unseen.Count]);
            Tensor Run(string stylePath, float alpha, bool check)
            {
                var styleImage = ImageTensors.Load(stylePath, StyleLongSide).unsqueeze(0);
                var a = torch.tensor(new[] { alpha });
                var y = RunExported(ortMain, ortStyle, x, styleImage, a);
                if (check)
                {
                    using (torch.no_grad())
                    {
                        maxDiff = Math.Max(maxDiff, (model.FullFrame(x, model.StyleEncoderStatistics(styleImage), a) - y).abs().max().item<float>());
                    }
                }

                return y;
            }

            rows.Add(
            [
                cell, SampleSheet.FitCell(seenPath), ImageTensors.ToBgr(Run(seenPath, 1f, r == 0)), ImageTensors.ToBgr(Run(seenPath, 0.5f, false)),
                SampleSheet.FitCell(unseenPath), ImageTensors.ToBgr(Run(unseenPath, 1f, false)),
            ]);
        }

        string sheet = name + ".sheet.png";
        SampleSheet.Save(Path.Combine(outDir, sheet), ["content (not trained on)", "style (trained on)", "result, alpha = 1", "result, alpha = 0.5", "style NOT trained on", "result, alpha = 1"], rows);
        Packaging.DisposeRows(rows);
        var manifest = TrainedManifest.Create(
            name,
            ModelFamily.Adain,
            "arbitrary style transfer (AdaIN): any style image, alpha trade-off, style mixing by averaging statistics",
            8,
            Packaging.ProvenanceOf(state),
            new AdainSpec { StyleEncoder = name + ".style.onnx", StyleInput = OnnxExporter.StyleInput, Statistics = OnnxExporter.StyleStatistics, AlphaInput = OnnxExporter.AlphaInput });
        manifest.Save(Path.Combine(outDir, name + ".json"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"packaged {name}: {main} + {styleOnnx}, sheet, manifest; TorchSharp vs ONNX Runtime max abs diff {maxDiff:0.0e0}"));
    }

    /// <summary>The exported pair in ONNX Runtime: the style encoder's statistics of <paramref name="styleImage"/>, then the main graph on <paramref name="x"/>.</summary>
    internal static Tensor RunExported(OrtModel main, OrtModel styleEncoder, Tensor x, Tensor styleImage, Tensor alpha)
    {
        var stats = styleEncoder.Run(new Dictionary<string, Tensor> { [OnnxExporter.StyleInput] = styleImage });
        var feeds = new Dictionary<string, Tensor> { ["input"] = x, [OnnxExporter.AlphaInput] = alpha };
        for (int i = 0; i < stats.Length; i++)
        {
            feeds[styleEncoder.OutputNames[i]] = stats[i];
        }

        return main.Run(feeds)[0];
    }

    private static List<string> Pick(string[] preferred, List<string> available)
    {
        var picks = preferred.Where(available.Contains).ToList();
        return picks.Count > 0 ? picks : available.Count > 0 ? available : throw new TrainingDataException("no styles available for the sample sheet");
    }
}
