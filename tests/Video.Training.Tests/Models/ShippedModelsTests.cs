using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using Video.Inference;
using Video.Training.Export;

namespace Video.Training.Tests.Models;

/// <summary>Every manifest in models/ validates, points at files that exist, and its ONNX graphs load and run in ONNX Runtime.</summary>
public class ShippedModelsTests
{
    public static TheoryData<string> Manifests()
    {
        var data = new TheoryData<string>();
        var dir = Path.Combine(TestData.RepoRoot, "models");
        foreach (var f in Directory.Exists(dir) ? Directory.GetFiles(dir, "*.json").Order(StringComparer.Ordinal).ToArray() : [])
        {
            data.Add(Path.GetFileName(f));
        }

        if (data.Count == 0)
        {
            data.Add("(none)");
        }

        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Manifests))]
    public void Manifest_Validates_AndModelRuns(string file)
    {
        Skip.If(file == "(none)", "no models shipped yet");
        var dir = Path.Combine(TestData.RepoRoot, "models");
        using (var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, file))))
        {
            var kind = doc.RootElement.GetProperty("family").GetString();
            var method = doc.RootElement.GetProperty("provenance").GetProperty("method").GetString();
            Skip.IfNot(kind is "fast" or "adain" or "cartoon" && method != "procedural", $"{file} is a {kind} model made by {method}, not by the trainer (validated by Video.Inference.Tests)");
        }

        var m = ModelManifest.Load(Path.Combine(dir, file));
        Assert.Equal(Path.GetFileNameWithoutExtension(file), m.Name);
        Assert.False(string.IsNullOrWhiteSpace(m.Description));
        foreach (var t in new[] { m.Input, m.Output })
        {
            Assert.Equal(TensorLayout.NCHW, t.Layout);
            Assert.Equal(ColorOrder.RGB, t.ColorOrder);
            Assert.Equal(new float[] { 0, 1 }, t.Range);
        }

        Assert.Equal(SizeMode.Dynamic, m.Size.Mode);
        Assert.True(m.Size.MultipleOf > 1);
        var onnx = Path.Combine(dir, m.Model);
        Assert.True(new FileInfo(onnx).Length < 20 * 1024 * 1024, "model must be < 20 MB");
        Assert.True(File.Exists(Path.Combine(dir, m.SampleSheet!)), "sample sheet missing");
        string family = m.Family switch { ModelFamily.Adain => "adain", ModelFamily.Cartoon => "cartoon", _ => "fast" };
        var p = m.Provenance!;
        Assert.Equal(family, p.Method);
        Assert.True(p.Steps > 0);
        Assert.InRange(p.Minutes, 0.1, 60);
        Assert.Matches("^[0-9a-f]{40}$", p.GitCommit);
        Assert.StartsWith("./video train " + family, p.Command, StringComparison.Ordinal);
        Assert.True(m.Family == ModelFamily.Cartoon
            ? p.Losses.ContainsKey("tv") && new[] { "structure", "surface", "texture", "nce" }.Any(p.Losses.ContainsKey)
            : p.Data.Contains("distilled from the trained run", StringComparison.Ordinal)
                ? p.Losses.ContainsKey("teacher") && p.Command.Contains(" --teacher ", StringComparison.Ordinal) && p.Data.Contains("; teacher: ", StringComparison.Ordinal)
                    && p.Command.Split("./video train fast").Length > 2 // the teacher's commands, then the student's
                : p.Losses.ContainsKey("content") && p.Losses.ContainsKey("style") && p.Losses.ContainsKey("tv"));
        Assert.False(string.IsNullOrWhiteSpace(p.Data));
        Assert.False(string.IsNullOrWhiteSpace(p.LossNetwork));
        Assert.True(DateTimeOffset.TryParse(p.TrainedAt, System.Globalization.CultureInfo.InvariantCulture, out _));

        int side = m.Size.MultipleOf * 8;
        torch.manual_seed(1);
        var x = torch.rand(1, 3, side, side + m.Size.MultipleOf);
        using var main = new OrtModel(onnx);
        Assert.Contains(m.Input.Name, main.InputNames);
        Assert.Contains(m.Output.Name, main.OutputNames);
        var inputs = new Dictionary<string, torch.Tensor> { [m.Input.Name] = x };
        if (m.Family == ModelFamily.Adain)
        {
            Assert.NotNull(m.Adain);
            using var enc = new OrtModel(Path.Combine(dir, m.Adain!.StyleEncoder));
            Assert.Equal(m.Adain.StyleInput, enc.InputNames.Single());
            Assert.Equal(m.Adain.Statistics, enc.OutputNames);
            var stats = enc.Run(m.Adain.StyleInput, torch.rand(1, 3, 96, 128));
            var all = enc.Run(new Dictionary<string, torch.Tensor> { [m.Adain.StyleInput] = torch.rand(1, 3, 96, 128) });
            for (int i = 0; i < m.Adain.Statistics.Length; i++)
            {
                inputs[m.Adain.Statistics[i]] = all[i];
            }

            inputs[m.Adain.AlphaInput] = torch.tensor(new[] { 0.5f });
            Assert.NotNull(stats);
        }

        var y = main.Run(inputs)[Array.IndexOf(main.OutputNames.ToArray(), m.Output.Name)];
        Assert.Equal(x.shape, y.shape);
        Assert.InRange(y.min().item<float>(), 0f, 1f);
        Assert.InRange(y.max().item<float>(), 0f, 1f);
    }

    /// <summary>
    /// Every manifest in models/ is in the one format: read and written again it comes back byte for byte, and saving it
    /// elsewhere loses no field or value.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(Manifests))]
    public void Manifest_RoundTripsByteForByte(string file)
    {
        Skip.If(file == "(none)", "no models shipped yet");
        var path = Path.Combine(TestData.RepoRoot, "models", file);
        string original = File.ReadAllText(path);
        var m = ModelManifest.Load(path);
        string written = m.ToJson() + "\n";
        Assert.Equal(original, written);

        AssertContains(JsonNode.Parse(original)!, JsonNode.Parse(written)!, "$");
        var dir = Directory.CreateTempSubdirectory("video-train-manifest-").FullName;
        try
        {
            var copy = Path.Combine(dir, file);
            m.Save(copy);
            var again = ModelManifest.Load(copy);
            Assert.Equal(m.Family, again.Family);
            Assert.Equal(m.Size, again.Size);
            Assert.Equal(m.Adain?.Statistics, again.Adain?.Statistics);
            Assert.Equal(JsonSerializer.Serialize(m.Provenance, ModelManifest.Json), JsonSerializer.Serialize(again.Provenance, ModelManifest.Json));
            Assert.Single(Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Every non-null value of <paramref name="expected"/> is in <paramref name="actual"/> (strings compared ignoring case: enum spelling).</summary>
    private static void AssertContains(JsonNode expected, JsonNode? actual, string at)
    {
        Assert.True(actual is not null, $"{at} is missing");
        switch (expected)
        {
            case JsonObject o:
                foreach (var (key, value) in o)
                {
                    if (value is not null)
                    {
                        AssertContains(value, actual!.AsObject()[key], at + "." + key);
                    }
                }

                break;
            case JsonArray a:
                Assert.Equal(a.Count, actual!.AsArray().Count);
                for (int i = 0; i < a.Count; i++)
                {
                    AssertContains(a[i]!, actual.AsArray()[i], $"{at}[{i}]");
                }

                break;
            default:
                var e = expected.AsValue();
                if (e.GetValueKind() == JsonValueKind.String)
                {
                    Assert.Equal(e.GetValue<string>(), actual!.GetValue<string>(), ignoreCase: true);
                }
                else
                {
                    Assert.Equal(e.ToJsonString(), actual!.ToJsonString());
                }

                break;
        }
    }
}
