using System.Text.Json;
using System.Text.Json.Serialization;
using Video.Capture;

namespace Video.Inference;

/// <summary>What a model is for; decides which extra inputs the host feeds it.</summary>
public enum ModelFamily
{
    Fast,
    Adain,
    Cartoon,
    External,
}

/// <summary>Memory layout of an image tensor.</summary>
public enum TensorLayout
{
    NCHW,
    NHWC,
}

/// <summary>Channel order of an image tensor.</summary>
public enum ColorOrder
{
    RGB,
    BGR,
}

/// <summary>Whether a model takes any frame size or one fixed size.</summary>
public enum SizeMode
{
    Dynamic,
    Fixed,
}

/// <summary>How an image tensor is laid out and scaled.</summary>
public sealed record TensorSpec
{
    /// <summary>The ONNX input or output name.</summary>
    public required string Name { get; init; }

    public TensorLayout Layout { get; init; } = TensorLayout.NCHW;

    public ColorOrder ColorOrder { get; init; } = ColorOrder.RGB;

    /// <summary>Value of black and of white: <c>[0, 1]</c>, <c>[0, 255]</c>, <c>[-1, 1]</c>.</summary>
    public float[] Range { get; init; } = [0f, 1f];
}

/// <summary>Size rules: a fixed size, or any size that is a multiple of <see cref="MultipleOf"/>.</summary>
public sealed record SizeRule
{
    public SizeMode Mode { get; init; } = SizeMode.Dynamic;

    public int MultipleOf { get; init; } = 1;

    public int? Width { get; init; }

    public int? Height { get; init; }
}

/// <summary>AdaIN extras: a style encoder whose statistics the main model takes as inputs.</summary>
public sealed record AdainSpec
{
    public required string StyleEncoder { get; init; }

    public string StyleInput { get; init; } = "style";

    public string[] Statistics { get; init; } = ["style_mean", "style_std"];

    public string AlphaInput { get; init; } = "alpha";
}

/// <summary>
/// The JSON file beside a model's <c>.onnx</c>: names, tensor layout and range, size rules, family and
/// provenance. A user brings an external model by writing one of these.
/// </summary>
/// <summary>An int8 copy of a model (QDQ convolutions) and what it costs in quality against the float model (its speed is a machine's: <c>video bench</c>).</summary>
public sealed record QuantizedModel
{
    /// <summary>The int8 ONNX file, relative to the manifest.</summary>
    public required string Model { get; init; }

    /// <summary>Mean PSNR of its output against the float model's on held-out photos (8-bit RGB).</summary>
    public double PsnrMeanDb { get; init; }

    /// <summary>Lowest PSNR over those photos.</summary>
    public double PsnrWorstDb { get; init; }

    /// <summary>What it was calibrated and measured on, and the command.</summary>
    public string? Calibration { get; init; }
}

public sealed record ModelManifest
{
    /// <summary>
    /// The one manifest format, read and written: camelCase keys, no null fields, enums camelCased unless they are
    /// acronyms (<c>"fast"</c>, <c>"dynamic"</c>; <c>"NCHW"</c>, <c>"RGB"</c>), read case-insensitively, and a readable
    /// <c>+</c> and <c>&amp;&amp;</c> in text. Comments and trailing commas are allowed in hand-written files.
    /// </summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(new EnumNames()) },
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    public required string Name { get; init; }

    public required ModelFamily Family { get; init; }

    public string? Description { get; init; }

    /// <summary>The ONNX file, relative to the manifest.</summary>
    public required string Model { get; init; }

    public required TensorSpec Input { get; init; }

    public required TensorSpec Output { get; init; }

    public SizeRule Size { get; init; } = new();

    public string? SampleSheet { get; init; }

    public AdainSpec? Adain { get; init; }

    /// <summary>The int8 variant, when one was made (<c>video models quantize</c>); chosen with the name <c>NAME:int8</c>.</summary>
    public QuantizedModel? Int8 { get; init; }

    /// <summary>Where the model came from: data, steps, losses, time, commit, command.</summary>
    public ModelProvenance? Provenance { get; init; }

    /// <summary>Full path of the manifest file this was read from.</summary>
    [JsonIgnore]
    public string ManifestPath { get; init; } = string.Empty;

    /// <summary>Full path of the ONNX file.</summary>
    [JsonIgnore]
    public string ModelPath => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(ManifestPath) ?? ".", Model));

    /// <summary>Reads and validates a manifest; throws <see cref="ModelException"/> naming the file and the problem.</summary>
    public static ModelManifest Load(string path)
    {
        ModelManifest? m;
        try
        {
            m = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is long line ? $" (line {line + 1})" : string.Empty;
            throw new ModelException($"malformed manifest {path}{where}: {FirstSentence(e.Message)}");
        }
        catch (IOException e)
        {
            throw new ModelException($"cannot read manifest {path}: {e.Message}");
        }
        catch (UnauthorizedAccessException)
        {
            throw new ModelException($"cannot read manifest {path}: permission denied");
        }

        if (m is null)
        {
            throw new ModelException($"malformed manifest {path}: empty");
        }

        m = m with { ManifestPath = Path.GetFullPath(path) };
        m.Validate();
        return m;
    }

    /// <summary>
    /// Writes the manifest to <paramref name="path"/> atomically: the text goes to a temporary file beside it, is read back
    /// and validated with <see cref="Load"/>, and only then replaces the old file. A failure leaves the old file as it was.
    /// </summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        string tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(tmp, ToJson() + "\n");
            Load(tmp);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The provenance as a compact one-line summary, or <c>unknown</c>.</summary>
    public string ProvenanceSummary() => Provenance?.Summary() ?? "unknown";

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(". Path:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).ReplaceLineEndings(" ");
    }

    private void Validate()
    {
        string file = ManifestPath;
        void Require(bool ok, string what)
        {
            if (!ok)
            {
                throw new ModelException($"malformed manifest {file}: {what}");
            }
        }

        Require(!string.IsNullOrWhiteSpace(Name), "'name' is empty");
        Require(!string.IsNullOrWhiteSpace(Model), "'model' is empty");
        Require(!string.IsNullOrWhiteSpace(Input.Name), "'input.name' is empty");
        Require(!string.IsNullOrWhiteSpace(Output.Name), "'output.name' is empty");
        foreach (var (spec, key) in new[] { (Input, "input"), (Output, "output") })
        {
            Require(spec.Range is { Length: 2 } r && float.IsFinite(r[0]) && float.IsFinite(r[1]) && r[0] < r[1], $"'{key}.range' must be [min, max] with min < max");
        }

        if (Size.Mode == SizeMode.Fixed)
        {
            Require(Size.Width is > 0 && Size.Height is > 0, "a fixed 'size' needs positive 'width' and 'height'");
        }
        else
        {
            Require(Size.MultipleOf >= 1, "'size.multipleOf' must be at least 1");
        }

        if (Provenance is { } p)
        {
            Require(!string.IsNullOrWhiteSpace(p.Method) && p.Steps >= 0 && p.Minutes >= 0 && p.Losses is not null, "'provenance' needs a method, steps >= 0, minutes >= 0 and losses");
        }

        if (Family == ModelFamily.Adain)
        {
            Require(Adain is not null, "an adain model needs an 'adain' section");
        }
    }

    /// <summary>Enum names camelCased (<c>Fast</c> → <c>fast</c>) unless they are acronyms (<c>NCHW</c>, <c>RGB</c> stay).</summary>
    private sealed class EnumNames : JsonNamingPolicy
    {
        public override string ConvertName(string name) => name.Any(char.IsLower) ? CamelCase.ConvertName(name) : name;
    }
}
