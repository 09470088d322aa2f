using Microsoft.ML.OnnxRuntime;
using Onnx;
using Video.Inference;
using Video.Inference.Onnx;
using Video.Tests.Shared;

namespace Video.Inference.Tests.Onnx;

/// <summary>The int8 QDQ quantizer on a shipped model and real photos: ONNX Runtime fuses it, and it stays close to float.</summary>
public class Int8QuantizerTests
{
    [SkippableFact]
    public void Quantize_FastModel_FusesIntoQLinearConvAndStaysCloseToFloat()
    {
        var photos = Directory.EnumerateFiles(Path.Combine(SharedData.Require(), "content")).Order(StringComparer.Ordinal).ToList();
        var catalog = ModelCatalog.Load(Repo.Models);
        using var dir = new TempDir();
        string manifestPath = dir.File("starry-night.json");
        var original = catalog.Find("starry-night");
        File.Copy(original.ModelPath, dir.File("starry-night.onnx"));
        var manifest = original with { ManifestPath = manifestPath, Int8 = null };

        // Calibrate on four photos, measure on two others (the trainer's held-out every 8th).
        var result = Int8Variant.Build(manifest, [photos[1], photos[2], photos[3], photos[5]], [photos[0], photos[8]], 320, 184, runs: 2);

        Assert.Equal(6, result.Report.ConvolutionsQuantized);
        Assert.Equal(4, result.Report.ConvolutionsKept);
        Assert.All(result.PsnrDb, p => Assert.True(p.Db > 30, $"{p.Photo}: {p.Db:0.0} dB against float"));
        Assert.All(result.PsnrDb, p => Assert.True(p.Db < 80, $"{p.Photo}: {p.Db:0.0} dB, so the int8 model was not used"));

        // ONNX Runtime's optimized graph runs the quantized convolutions as QLinearConv.
        string optimized = dir.File("optimized.onnx");
        using (var options = ExecutionProviders.CreateSessionOptions())
        {
            options.OptimizedModelFilePath = optimized;
            using var session = new InferenceSession(result.Path, options);
        }

        var ops = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.Select(n => n.OpType).ToList();
        Assert.True(ops.Count(o => o == "QLinearConv") >= 6, "ops: " + string.Join(",", ops.Distinct()));
    }

    [SkippableFact]
    public void Quantize_TargetPsnr_KeepsTheCostliestConvolutionsFloatUntilCalibrationMeetsIt()
    {
        var photos = Directory.EnumerateFiles(Path.Combine(SharedData.Require(), "content")).Order(StringComparer.Ordinal).ToList();
        var original = ModelCatalog.Load(Repo.Models).Find("starry-night");
        using var dir = new TempDir();
        File.Copy(original.ModelPath, dir.File("starry-night.onnx"));
        var manifest = original with { ManifestPath = dir.File("starry-night.json"), Int8 = null };
        string[] calibration = [photos[1], photos[2], photos[3], photos[5]];
        var log = new StringWriter();

        var all = Int8Variant.Build(manifest, calibration, [photos[0], photos[8]], 320, 184, runs: 1, percentile: 0);
        var kept = Int8Variant.Build(manifest, calibration, [photos[0], photos[8]], 320, 184, runs: 1, percentile: 0, targetDb: 45, log: log);

        Assert.Equal(6, all.Report.ConvolutionsQuantized);
        Assert.Equal(6, kept.Report.Candidates.Count);
        Assert.InRange(kept.Report.ConvolutionsQuantized, 0, 5);
        Assert.Equal(kept.Report.Candidates.Except(kept.Report.Quantized).Count(), 6 - kept.Report.ConvolutionsQuantized);
        Assert.True(kept.WorstDb > all.WorstDb, $"with convolutions kept float {kept.WorstDb:0.0} dB, all int8 {all.WorstDb:0.0} dB");
        Assert.Contains("alone in int8: worst calibration photo", log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Find_Int8Suffix_NamesTheVariantOrSaysThereIsNone()
    {
        var catalog = ModelCatalog.Load(Repo.Models);
        var int8 = catalog.Find("starry-night:int8");
        Assert.Equal("starry-night:int8", int8.Name);
        Assert.Equal("starry-night.int8.onnx", int8.Model);
        Assert.True(File.Exists(int8.ModelPath));

        var e = Assert.Throws<ModelException>(() => catalog.Find("toon:int8"));
        Assert.Contains("has no int8 variant", e.Message, StringComparison.Ordinal);
    }
}
