using System.Text.Json.Serialization;
using Video.Capture;
using Video.Inference.Temporal;

namespace Video.Streaming.Live;

/// <summary>What a running <c>video live</c> applies to each frame; every field can change while it runs.</summary>
internal sealed record LiveSettings
{
    /// <summary>Model name (see <c>video models</c>) or manifest path.</summary>
    public required string Model { get; init; }

    /// <summary>Style image for AdaIN models; kept (unused) while a model with a built-in style runs.</summary>
    public string? Style { get; init; }

    /// <summary>AdaIN content/style trade-off in [0, 1].</summary>
    public float Alpha { get; init; } = 1f;

    /// <summary>Temporal filter against flicker.</summary>
    public TemporalOptions Temporal { get; init; } = TemporalOptions.Disabled;

    /// <summary>Keep the input's colours, take only the stylized luminance.</summary>
    public bool PreserveColor { get; init; }

    /// <summary>Checks the values that need no model; throws <see cref="VideoException"/> with the field's name.</summary>
    public void Validate()
    {
        if (Alpha is < 0 or > 1 || float.IsNaN(Alpha))
        {
            throw new VideoException($"alpha {Alpha} is outside [0, 1]");
        }

        Temporal.Validate();
        if (Style is { } s && !File.Exists(s))
        {
            throw new VideoException($"style image not found: {UserText.Quote(s)}");
        }
    }

    /// <summary>These settings with the fields <paramref name="change"/> sets.</summary>
    public LiveSettings With(LiveSettingsChange change) => this with
    {
        Model = change.Model ?? Model,
        Style = change.Style ?? Style,
        Alpha = change.Alpha ?? Alpha,
        PreserveColor = change.PreserveColor ?? PreserveColor,
        Temporal = Temporal with
        {
            Mode = change.Temporal is { } t ? TemporalOptions.ParseMode(t) : Temporal.Mode,
            Strength = change.TemporalStrength ?? Temporal.Strength,
        },
    };

    /// <summary>One line for the status display and logs.</summary>
    public override string ToString() =>
        $"{Model}{(Style is { } s ? $" style {Path.GetFileName(s)} alpha {Alpha:0.0#}" : string.Empty)} temporal {Temporal.Mode.ToString().ToLowerInvariant()}{(PreserveColor ? " colour kept" : string.Empty)}";
}

/// <summary>A change to <see cref="LiveSettings"/>: the fields that are set replace the current ones (the control endpoint's JSON body).</summary>
internal sealed record LiveSettingsChange
{
    [JsonPropertyName("model")]
    public string? Model { get; init; }

    [JsonPropertyName("style")]
    public string? Style { get; init; }

    [JsonPropertyName("alpha")]
    public float? Alpha { get; init; }

    [JsonPropertyName("temporal")]
    public string? Temporal { get; init; }

    [JsonPropertyName("temporalStrength")]
    public double? TemporalStrength { get; init; }

    [JsonPropertyName("preserveColor")]
    public bool? PreserveColor { get; init; }
}
