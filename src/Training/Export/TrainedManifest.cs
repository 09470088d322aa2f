using System.Text.Json;
using System.Text.Json.Serialization;
using Video.Inference;
using Video.Training.Internal;

namespace Video.Training.Export;

/// <summary>
/// Writes the <c>models/NAME.json</c> manifest of a trained model through the host's own type
/// (<see cref="ModelManifest"/> in Video.Inference), so trainer and host cannot disagree on the format.
/// </summary>
/// <remarks>
/// The text keeps the trainer's established spelling: lower-case family and size mode (<c>"fast"</c>, <c>"dynamic"</c>),
/// layout and colour order as declared (<c>"NCHW"</c>, <c>"RGB"</c>), no null fields, and readable <c>+</c> and
/// <c>&amp;&amp;</c> in provenance. The host reads enums case-insensitively. Every written file is read back with
/// <see cref="ModelManifest.Load"/> before it replaces the old one.
/// </remarks>
public static class TrainedManifest
{
    /// <summary>state.json's settings (indented camelCase, no nulls) plus readable escaping and enum names.</summary>
    public static readonly JsonSerializerOptions Json = new(RunState.Json)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // keep '+' and '&&' readable in provenance
        Converters = { new JsonStringEnumConverter(new EnumNames()) },
    };

    /// <summary>The manifest of a trained model: RGB [0,1] NCHW tensors <c>input</c>/<c>output</c>, any size that is a multiple of <paramref name="multipleOf"/>.</summary>
    public static ModelManifest Create(string name, ModelFamily family, string description, int multipleOf, TrainingProvenance provenance, AdainSpec? adain = null) => new()
    {
        Name = name,
        Family = family,
        Description = description,
        Model = name + ".onnx",
        Input = new TensorSpec { Name = "input" },
        Output = new TensorSpec { Name = "output" },
        Size = new SizeRule { Mode = SizeMode.Dynamic, MultipleOf = multipleOf },
        SampleSheet = name + ".sheet.png",
        Adain = adain,
        Provenance = JsonSerializer.SerializeToElement(provenance, Json),
    };

    public static string ToJson(ModelManifest manifest) => JsonSerializer.Serialize(manifest, Json);

    /// <summary>Writes <paramref name="path"/> atomically after checking that the host accepts the text.</summary>
    public static void Save(ModelManifest manifest, string path)
    {
        string tmp = path + ".tmp.json";
        File.WriteAllText(tmp, ToJson(manifest) + "\n");
        try
        {
            ModelManifest.Load(tmp);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }

        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>The typed provenance of a manifest written by the trainer.</summary>
    public static TrainingProvenance ProvenanceOf(ModelManifest manifest) =>
        manifest.Provenance is { ValueKind: JsonValueKind.Object } p
            ? p.Deserialize<TrainingProvenance>(Json) ?? throw new InvalidDataException($"{manifest.ManifestPath}: empty provenance")
            : throw new InvalidDataException($"{manifest.ManifestPath}: no provenance");

    /// <summary>Enum names camelCased (<c>Fast</c> → <c>fast</c>) unless they are acronyms (<c>NCHW</c>, <c>RGB</c> stay).</summary>
    private sealed class EnumNames : JsonNamingPolicy
    {
        public override string ConvertName(string name) => name.Any(char.IsLower) ? CamelCase.ConvertName(name) : name;
    }
}

/// <summary>The <c>provenance</c> section of a trained model's manifest: where the model came from and how to make it again.</summary>
public sealed record TrainingProvenance
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

    /// <summary>Weight of the temporal loss in the latest training session that used it; absent when it was never used.</summary>
    public double? TemporalWeight { get; init; }
}
