using Video.Training.Data;
using Video.Training.Methods;

namespace Video.Training.Tests.Methods;

/// <summary><c>video-train bench --model A --model B</c>: every file is timed (interleaved) and named by its path; bad files are one-line errors.</summary>
public sealed class BenchMethodTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("video-train-bench-").FullName;

    [SkippableFact]
    public void Measure_TwoModels_TimesEachUnderItsPath()
    {
        var a = TestData.ShippedModel("great-wave");
        var b = TestData.ShippedModel("toon");

        var rows = BenchMethod.Measure(64, 48, 7, [a, b], 1);

        Assert.Equal([a, b], rows.Select(r => r.Name));
        Assert.All(rows, r => Assert.True(r.Ms > 0 && double.IsFinite(r.Ms), $"{r.Name}: {r.Ms} ms"));
    }

    [SkippableFact]
    public void Measure_AdaInModel_GetsItsStatisticsInputs()
    {
        var adain = TestData.ShippedModel("adain");

        var rows = BenchMethod.Measure(64, 48, 2, [adain], 1);

        Assert.True(rows.Single().Ms > 0);
    }

    [Fact]
    public void Measure_ModelWithOtherInputs_IsOneLineError()
    {
        var other = Path.Combine(_dir, "two-inputs.onnx");
        var g = new Video.Inference.Onnx.OnnxGraphBuilder("two");
        g.Input("a", 1, 3, null, null);
        g.Input("b", 1, 3, null, null);
        g.Node("Add", ["a", "b"], "out");
        g.Output("out", 1, 3, null, null);
        File.WriteAllBytes(other, g.ToBytes());

        var e = Assert.Throws<TrainingDataException>(() => BenchMethod.Measure(64, 48, 1, [other], 1));

        Assert.Equal($"{other} has inputs a, b; bench takes single-input models and the AdaIN model", e.Message);
    }

    [Fact]
    public void Measure_MissingModel_IsOneLineError()
    {
        var missing = Path.Combine(_dir, "none.onnx");

        var e = Assert.Throws<TrainingDataException>(() => BenchMethod.Measure(64, 48, 1, [missing], 1));

        Assert.Equal($"model not found: {missing}", e.Message);
    }

    [Fact]
    public void Measure_NotAnOnnxFile_IsOneLineError()
    {
        var bad = Path.Combine(_dir, "bad.onnx");
        File.WriteAllText(bad, "not a model");

        var e = Assert.Throws<TrainingDataException>(() => BenchMethod.Measure(64, 48, 1, [bad], 1));

        Assert.StartsWith($"cannot load ONNX model {bad}: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
