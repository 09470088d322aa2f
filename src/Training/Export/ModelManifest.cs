using System.Text.Json;
using System.Text.Json.Serialization;

namespace Video.Training.Export;

/// <summary>The <c>models/NAME.json</c> manifest read by the host (src/Inference). Serialised camelCase; see docs/training.md.</summary>
public sealed record ModelManifest
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // keep '+' readable in provenance
    };

    public required string Name { get; init; }

    public required string Family { get; init; }

    public required string Description { get; init; }

    public required string Model { get; init; }

    public required TensorSpec Input { get; init; }

    public required TensorSpec Output { get; init; }

    public required SizeSpec Size { get; init; }

    public required string SampleSheet { get; init; }

    public AdaInSpec? Adain { get; init; }

    public required Provenance Provenance { get; init; }

    public static ModelManifest Load(string path) =>
        JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty manifest");

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");
}

public sealed record TensorSpec(string Name, string Layout, string ColorOrder, float[] Range)
{
    public static TensorSpec Rgb01(string name) => new(name, "NCHW", "RGB", [0, 1]);
}

public sealed record SizeSpec(string Mode, int? MultipleOf = null, int? Width = null, int? Height = null);

public sealed record AdaInSpec(string StyleEncoder, string StyleInput, string[] Statistics, string AlphaInput);

public sealed record Provenance
{
    public required string Method { get; init; }

    public required string Data { get; init; }

    public required int Steps { get; init; }

    public required Dictionary<string, double> Losses { get; init; }

    public required double Minutes { get; init; }

    public required string GitCommit { get; init; }

    public required string Command { get; init; }

    public required string TrainedAt { get; init; }

    public required string LossNetwork { get; init; }
}
