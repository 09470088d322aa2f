using OpenCvSharp;
using Video.Inference;
using Video.Training.Internal;
using Video.Training.Losses;
using Video.Training.Methods;

namespace Video.Training.Tests.Methods;

/// <summary>Tiny cartoon runs on synthetic photos and synthetic clip art: every term runs, the loss goes down, checkpoints resume, packaging works.</summary>
/// <remarks>
/// Runs alone (<see cref="TorchGlobalState"/>), as <see cref="TrainingRunTests"/> does: each run seeds libtorch's
/// process-wide generator, and another class drawing from it at the same time changes the run's initialisation.
/// </remarks>
[Collection(nameof(TorchGlobalState))]
public sealed class CartoonRunTests : IDisposable
{
    private readonly string _content = TestData.SyntheticFolder(6);
    private readonly string _runs = Directory.CreateTempSubdirectory("video-train-cartoon-").FullName;

    /// <summary>A folder (with a subfolder: cartoon folders are read recursively) of transparent PNG "clip art": outlined flat shapes.</summary>
    private static string SyntheticClipArt(int count)
    {
        var dir = Directory.CreateTempSubdirectory("video-train-clipart-").FullName;
        var sub = Directory.CreateDirectory(Path.Combine(dir, "animals")).FullName;
        var rng = new Random(5);
        for (int i = 0; i < count; i++)
        {
            using var m = new Mat(96, 96, MatType.CV_8UC4, new Scalar(0, 0, 0, 0));
            var colour = new Scalar(rng.Next(40, 100), rng.Next(120, 256), rng.Next(150, 256), 255);
            Cv2.Rectangle(m, new Rect(6, 6, 84, 84), colour, -1);
            Cv2.Circle(m, new Point(rng.Next(30, 66), rng.Next(30, 66)), 16, new Scalar(rng.Next(256), 40, 200, 255), -1);
            Cv2.Rectangle(m, new Rect(6, 6, 84, 84), new Scalar(0, 0, 0, 255), 2);
            Cv2.ImWrite(Path.Combine(i % 2 == 0 ? dir : sub, $"clip_{i:00}.png"), m);
        }

        return dir;
    }

    private CartoonOptions Tiny(string name, string cartoon) => new()
    {
        Name = name, ContentDir = _content, RunDir = Path.Combine(_runs, name), CartoonDir = cartoon, Steps = 4, Batch = 2, Crop = 48,
        ContentShortSide = 56, DomainShortSide = 64, LossMargin = 8, CheckpointEvery = 2, HoldoutEvery = 3, MaxMinutes = 5, LearningRate = 2e-3,
        NceWeight = 1, RgbWeight = 1, NcePatches = 16, DistillWeight = 0, Command = "./video train cartoon first",
    };

    [Fact]
    public void CartoonRun_EveryTerm_RunsCheckpointsResumesAndPackages()
    {
        var cartoon = SyntheticClipArt(6);
        var o = Tiny("every-term", cartoon);
        using (var net = new RandomLossNetwork())
        {
            Assert.Equal(0, CartoonMethod.Run(o, net));
            Assert.True(File.Exists(Path.Combine(o.RunDir, CartoonMethod.CriticsFile)));
            Assert.True(File.Exists(Path.Combine(o.RunDir, CartoonMethod.CriticsOptimizerFile)));
            Assert.True(File.Exists(Path.Combine(o.RunDir, CartoonMethod.HeadsFile)));
            Assert.True(File.Exists(Path.Combine(o.RunDir, "domain.sample.png")));
            Assert.Equal(0, CartoonMethod.Run(o with { Steps = 6, Resume = true, SurfaceWeight = 2, Command = "./video train cartoon second" }, net));
        }

        var rows = LossCurve.LoadCsv(Path.Combine(o.RunDir, "losses.csv")).Rows;
        Assert.Equal(6, rows.Count);
        foreach (var term in new[] { "content", "structure", "surface", "texture", "rgb", "nce", "tv", "d_surface", "d_texture", "d_rgb" })
        {
            Assert.All(rows, r => Assert.True(double.IsFinite(r.Values[term]) && r.Values[term] >= 0, $"{term} = {r.Values.GetValueOrDefault(term)} at step {r.Step}"));
        }

        var state = RunState.TryLoad(o.RunDir)!;
        Assert.Equal("cartoon", state.Method);
        Assert.Equal(6, state.Step);
        Assert.Equal(2, state.Options["surfaceWeight"].GetDouble());
        Assert.Equal("./video train cartoon first && ./video train cartoon second", state.Command);
        Assert.Contains("PatchNCE", state.Data, StringComparison.Ordinal);
        Assert.Contains("edge promotion", state.Data, StringComparison.Ordinal);

        var outDir = Path.Combine(_runs, "models");
        Packaging.PackageCartoon(o.RunDir, outDir, _content);
        var manifest = ModelManifest.Load(Path.Combine(outDir, "every-term.json"));
        Assert.Equal(ModelFamily.Cartoon, manifest.Family);
        Assert.Equal(6, manifest.Provenance!.Steps);
        Assert.Contains("surface LSGAN", manifest.Provenance.Data, StringComparison.Ordinal);
        Assert.True(manifest.Provenance.Losses.ContainsKey("structure"));
        Assert.True(File.Exists(Path.Combine(outDir, "every-term.sheet.png")));
    }

    [SkippableFact]
    public void CartoonRun_DistillationFromToon_LossGoesDown()
    {
        // Only the warm start (L1 to the shipped toon filter's output): a plain regression the generator must make progress on.
        var toon = TestData.ShippedModel("toon");
        var o = Tiny("distill", SyntheticClipArt(4)) with
        {
            Steps = 60, CheckpointEvery = 100, ContentWeight = 0, StructureWeight = 0, SurfaceWeight = 0, TextureWeight = 0, RgbWeight = 0, NceWeight = 0,
            TvWeight = 0, DistillWeight = 10, DistillSteps = 100_000, DistillPerceptual = 0, ToonModel = toon, LearningRate = 5e-3,
        };
        using (var net = new RandomLossNetwork())
        {
            Assert.Equal(0, CartoonMethod.Run(o, net));
        }

        var rows = LossCurve.LoadCsv(Path.Combine(o.RunDir, "losses.csv")).Rows;
        // Averages over ten steps each: single batches of random crops vary more than the progress made.
        double first = rows.Take(10).Average(r => r.Values["distill"]), last = rows.TakeLast(10).Average(r => r.Values["distill"]);
        Assert.True(last < 0.9 * first, $"distillation loss did not go down: {first} -> {last}");
    }

    [SkippableFact]
    public void CartoonRun_DistillationWithFeatures_LogsOneDistillTermAndRecordsIt()
    {
        var toon = TestData.ShippedModel("toon");
        var o = Tiny("distill-features", SyntheticClipArt(4)) with
        {
            Steps = 3, ContentWeight = 0, StructureWeight = 0, SurfaceWeight = 0, TextureWeight = 0, RgbWeight = 0, NceWeight = 0,
            DistillWeight = 10, DistillSteps = 2, DistillPerceptual = 1, ToonModel = toon,
        };
        using (var net = new RandomLossNetwork())
        {
            Assert.Equal(0, CartoonMethod.Run(o, net));
        }

        // The weight falls linearly to 0 at step 2: steps 1 and 2 have the term, step 3 does not.
        var rows = LossCurve.LoadCsv(Path.Combine(o.RunDir, "losses.csv")).Rows;
        Assert.True(rows[0].Values["distill"] > 0);
        Assert.False(rows[2].Values.ContainsKey("distill"), "distillation still on after --distill-steps");
        Assert.Contains("ResNet-18 content distance to toon.onnx", RunState.TryLoad(o.RunDir)!.Data, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_runs, recursive: true);
            Directory.Delete(_content, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
