using Video.Training.Data;
using Video.Training.Methods;

namespace Video.Training.Tests.Methods;

/// <summary><c>video-train bench --model A --model B</c>: every file is timed (interleaved) and named by its path; bad files are one-line errors.</summary>
public sealed class BenchMethodTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("video-train-bench-").FullName;

    private static string Shipped(string name)
    {
        var path = Path.Combine(TestData.RepoRoot, "models", name + ".onnx");
        Skip.IfNot(File.Exists(path), $"{path} is not shipped");
        return path;
    }

    [SkippableFact]
    public void Measure_TwoModels_TimesEachUnderItsPath()
    {
        var a = Shipped("great-wave");
        var b = Shipped("toon");

        var rows = BenchMethod.Measure(64, 48, 7, [a, b], 1);

        Assert.Equal([a, b], rows.Select(r => r.Name));
        Assert.All(rows, r => Assert.True(r.Ms > 0 && double.IsFinite(r.Ms), $"{r.Name}: {r.Ms} ms"));
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
