using Video.Capture;
using Video.Inference;
using Video.Inference.Onnx;
using Video.Tests.Shared;

namespace Video.Inference.Tests;

public class ManifestTests : FrameLeakCheckedTest
{
    [Fact]
    public void Load_MalformedJson_ThrowsNamingTheFileAndLine()
    {
        using var dir = new TempDir();
        string path = ModelFixtures.WriteManifest(dir, "bad", "{ \"name\": \"bad\",\n  \"family\": \"fast\",\n  \"model\": }");
        var e = Assert.Throws<ModelException>(() => ModelManifest.Load(path));
        Assert.StartsWith($"malformed manifest {path} (line 3)", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("""{ "name": "x", "family": "fast", "model": "x.onnx", "input": { "name": "input" } }""", "output")]
    [InlineData("""{ "name": "x", "family": "painting", "model": "x.onnx", "input": { "name": "i" }, "output": { "name": "o" } }""", "malformed manifest")]
    [InlineData("""{ "name": "x", "family": "fast", "model": "x.onnx", "input": { "name": "i", "range": [1, 0] }, "output": { "name": "o" } }""", "'input.range' must be [min, max]")]
    [InlineData("""{ "name": "x", "family": "fast", "model": "x.onnx", "input": { "name": "i" }, "output": { "name": "o" }, "size": { "mode": "fixed" } }""", "fixed 'size' needs")]
    [InlineData("""{ "name": "x", "family": "adain", "model": "x.onnx", "input": { "name": "i" }, "output": { "name": "o" } }""", "needs an 'adain' section")]
    public void Load_InvalidManifest_ThrowsSayingWhat(string json, string expected)
    {
        using var dir = new TempDir();
        string path = ModelFixtures.WriteManifest(dir, "x", json);
        var e = Assert.Throws<ModelException>(() => ModelManifest.Load(path));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Save_InvalidManifest_ThrowsAndLeavesTheOldFileAndNoTemporaryFile()
    {
        using var dir = new TempDir();
        string path = ModelFixtures.WriteManifest(dir, "x", """{ "name": "x", "family": "fast", "model": "x.onnx", "input": { "name": "i" }, "output": { "name": "o" } }""");
        string before = File.ReadAllText(path);
        var good = ModelManifest.Load(path);

        var e = Assert.Throws<ModelException>(() => (good with { Input = new TensorSpec { Name = "i", Range = [1f, 0f] } }).Save(path));

        Assert.Contains("'input.range' must be [min, max]", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(path));
        Assert.DoesNotContain(Directory.GetFiles(Path.GetDirectoryName(path)!), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void Save_OneFormat_LowerCaseEnumsNoNullsReadableText()
    {
        using var dir = new TempDir();
        var m = new ModelManifest
        {
            Name = "x", Family = ModelFamily.Cartoon, Model = "x.onnx", Input = new TensorSpec { Name = "i" }, Output = new TensorSpec { Name = "o" },
            Provenance = new ModelProvenance { Method = "procedural", Data = "a + b", Steps = 0, Losses = [], Minutes = 0.5, GitCommit = "unknown", Command = "a && b" },
        };
        string path = Path.Combine(dir.Path, "x.json");
        m.Save(path);
        string text = File.ReadAllText(path);

        Assert.Contains("\"family\": \"cartoon\"", text, StringComparison.Ordinal);
        Assert.Contains("\"mode\": \"dynamic\"", text, StringComparison.Ordinal);
        Assert.Contains("\"layout\": \"NCHW\"", text, StringComparison.Ordinal);
        Assert.Contains("\"command\": \"a && b\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("null", text, StringComparison.Ordinal);
        Assert.Equal("a + b", ModelManifest.Load(path).Provenance!.Data);
    }

    [Fact]
    public void Catalog_UnknownModel_ListsInstalledOnes()
    {
        using var dir = new TempDir();
        ModelFixtures.Affine(dir, name: "one");
        ModelFixtures.Affine(dir, name: "two");
        var e = Assert.Throws<ModelException>(() => ModelCatalog.Load(dir.Path).Find("three"));
        Assert.Equal("unknown model 'three' (installed: one, two)", e.Message);
    }

    [Fact]
    public void Catalog_BrokenManifestForRequestedName_ReportsTheBreakage()
    {
        using var dir = new TempDir();
        ModelFixtures.Affine(dir, name: "good");
        ModelFixtures.WriteManifest(dir, "broken", "{ not json");
        var catalog = ModelCatalog.Load(dir.Path);
        Assert.Single(catalog.Models);
        Assert.Single(catalog.Problems);
        var e = Assert.Throws<ModelException>(() => catalog.Find("broken"));
        Assert.StartsWith("malformed manifest", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("image", "output", "input 'image' not found (the model has 'input')")]
    [InlineData("input", "result", "output 'result' not found (the model has 'output')")]
    public void Load_ModelNotMatchingManifest_Throws(string inputName, string outputName, string expected)
    {
        using var dir = new TempDir();
        ProceduralModels.WriteAffine(dir.File("m.onnx"), 1, 0);
        string path = ModelFixtures.WriteManifest(dir, "m", $$"""
            { "name": "m", "family": "fast", "model": "m.onnx", "input": { "name": "{{inputName}}" }, "output": { "name": "{{outputName}}" } }
            """);
        var e = Assert.Throws<ModelException>(() => Stylizer.Load(ModelManifest.Load(path), new StylizerOptions { Device = Device.Cpu }));
        Assert.Contains("does not match its manifest", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_FixedSizeDisagreeingWithModel_Throws()
    {
        using var dir = new TempDir();
        ProceduralModels.WriteZooShapedSepia(dir.File("z.onnx"));
        string path = ModelFixtures.WriteManifest(dir, "z", """
            { "name": "z", "family": "external", "model": "z.onnx", "input": { "name": "input1" }, "output": { "name": "output1" },
              "size": { "mode": "fixed", "width": 256, "height": 256 } }
            """);
        var e = Assert.Throws<ModelException>(() => Stylizer.Load(ModelManifest.Load(path), new StylizerOptions { Device = Device.Cpu }));
        Assert.Contains("is 224x224, manifest says 256x256", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NhwcManifestForNchwModel_ThrowsOnChannels()
    {
        using var dir = new TempDir();
        ProceduralModels.WriteZooShapedSepia(dir.File("z.onnx"));
        string path = ModelFixtures.WriteManifest(dir, "z", """
            { "name": "z", "family": "external", "model": "z.onnx", "input": { "name": "input1", "layout": "NHWC" }, "output": { "name": "output1" },
              "size": { "mode": "fixed", "width": 224, "height": 224 } }
            """);
        var e = Assert.Throws<ModelException>(() => Stylizer.Load(ModelManifest.Load(path), new StylizerOptions { Device = Device.Cpu }));
        Assert.Contains("224 channels in NHWC layout", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingOnnxFile_Throws()
    {
        using var dir = new TempDir();
        string path = ModelFixtures.WriteManifest(dir, "gone", """{ "name": "gone", "family": "fast", "model": "gone.onnx", "input": { "name": "input" }, "output": { "name": "output" } }""");
        var e = Assert.Throws<ModelException>(() => Stylizer.Load(ModelManifest.Load(path)));
        Assert.Contains("file not found", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CorruptOnnxFile_Throws()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("junk.onnx"), "this is not a protobuf");
        string path = ModelFixtures.WriteManifest(dir, "junk", """{ "name": "junk", "family": "fast", "model": "junk.onnx", "input": { "name": "input" }, "output": { "name": "output" } }""");
        var e = Assert.Throws<ModelException>(() => Stylizer.Load(ModelManifest.Load(path), new StylizerOptions { Device = Device.Cpu }));
        Assert.StartsWith("model 'junk': cannot load junk.onnx", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShippedManifests_AllValidateAndLoad()
    {
        var catalog = ModelCatalog.Load(Repo.Models);
        Assert.Empty(catalog.Problems);
        Assert.Contains(catalog.Models, m => m.Name == ModelCatalog.DefaultModelName);
        foreach (var m in catalog.Models)
        {
            Assert.True(File.Exists(m.ModelPath), $"{m.Name}: {m.ModelPath} missing");
            Assert.True(new FileInfo(m.ModelPath).Length < 20 * 1024 * 1024, $"{m.Name} is over 20 MB");
            var p = m.Provenance;
            Assert.NotNull(p);
            Assert.False(string.IsNullOrWhiteSpace(p.Data), $"{m.Name}: provenance lacks 'data'");
            Assert.False(string.IsNullOrWhiteSpace(p.Command), $"{m.Name}: provenance lacks 'command'");
            Assert.Matches("^([0-9a-f]{40}|unknown)$", p.GitCommit);
            Assert.NotNull(p.Losses);
            Assert.True(p.Minutes > 0, $"{m.Name}: provenance minutes {p.Minutes}");
        }
    }

    [Fact]
    public void TemporalLossVariants_ValidateLoadAndRecordTheirWeight()
    {
        var shipped = ModelCatalog.Load(Repo.Models);
        var variants = ModelCatalog.Load(Path.Combine(Repo.Models, "temporal-loss"));
        Assert.Empty(variants.Problems);
        Assert.NotEmpty(variants.Models);
        foreach (var m in variants.Models)
        {
            Assert.Contains(shipped.Models, s => s.Name == m.Name);
            Assert.True(m.Provenance?.TemporalWeight > 0, $"{m.Name}: provenance lacks a positive temporalWeight");
            using var stylizer = Stylizer.Load(m, new StylizerOptions { Device = Device.Cpu });
            using var plan = stylizer.CreatePlan(64, 48, 64, 48, allocator: Allocator);
            using var frame = Allocator.AllocateFrame(64, 48);
            frame.Pixels.Fill(100);
            plan.StylizeInPlace(frame);
            Assert.Contains(frame.Pixels.ToArray(), b => b != 100);
        }
    }
}
