using Video.Inference.Temporal;
using Video.Streaming.Protos.V1;
using WireTemporalMode = Video.Streaming.Protos.V1.TemporalMode;

namespace Video.Streaming.Grpc.Internal;

/// <summary>A validated <see cref="SessionConfig"/>: what frames arriving after it are stylized with.</summary>
/// <remarks>Immutable; each queued frame carries the settings in force when it arrived, so a switch applies
/// exactly from the next frame on, and a dropped frame never loses a switch.</remarks>
internal sealed record SessionSettings(
    LoadedModel Model,
    RegisteredStyle? Style,
    float Alpha,
    TemporalOptions Temporal,
    Policy Policy,
    int QueueCapacity,
    Encoding OutputEncoding,
    int JpegQuality,
    (int Width, int Height)? InferenceSize,
    int Version);

/// <summary>Turns client configs into <see cref="SessionSettings"/>, throwing <see cref="StreamingException"/> for bad ones.</summary>
internal sealed class SessionConfigResolver
{
    private readonly ModelHost _models;
    private readonly StyleRegistry _styles;
    private readonly StreamingOptions _options;

    public SessionConfigResolver(ModelHost models, StyleRegistry styles, Microsoft.Extensions.Options.IOptions<StreamingOptions> options)
    {
        _models = models;
        _styles = styles;
        _options = options.Value;
    }

    /// <summary>The server's models, whose cached plans give memory back under the frame budget.</summary>
    public ModelHost Models => _models;

    /// <summary>Validates <paramref name="config"/>; <paramref name="previous"/> is the stream's settings so far (null for the first).</summary>
    public SessionSettings Resolve(SessionConfig? config, SessionSettings? previous)
    {
        config ??= new SessionConfig();
        var model = _models.Get(config.Model);
        ImageCodec.CheckOutputEncoding(config.OutputEncoding);

        var temporal = TemporalOptions.Disabled;
        if (config.Temporal is { Mode: WireTemporalMode.Ema or WireTemporalMode.Flow } wire)
        {
            if (!(wire.Strength >= 0 && wire.Strength < 1))
            {
                throw Invalid($"temporal strength {wire.Strength} is out of range [0, 1)");
            }

            // 0 (the proto default) means the filter's own default strength; TEMPORAL_MODE_OFF disables it.
            temporal = new TemporalOptions
            {
                Mode = wire.Mode == WireTemporalMode.Ema ? Inference.Temporal.TemporalMode.Ema : Inference.Temporal.TemporalMode.Flow,
                Strength = wire.Strength == 0 ? new TemporalOptions().Strength : wire.Strength,
            };
        }
        else if (config.Temporal is { } other && other.Mode is not (WireTemporalMode.Unspecified or WireTemporalMode.Off))
        {
            throw Invalid($"unknown temporal mode #{(int)other.Mode}; use OFF, EMA or FLOW");
        }

        if (config.HasAlpha && (float.IsNaN(config.Alpha) || config.Alpha < 0 || config.Alpha > 1))
        {
            throw Invalid($"alpha {config.Alpha} is out of range [0, 1]");
        }

        RegisteredStyle? style = null;
        if (!string.IsNullOrEmpty(config.StyleId))
        {
            if (!model.NeedsStyle)
            {
                throw new StreamingException(StreamingError.OutOfOrder, $"model '{model.Name}' ({model.Manifest.Family}) takes no style; style_id is for AdaIN models");
            }

            style = _styles.Get(config.StyleId);
            if (!string.Equals(style.Model, model.Name, StringComparison.OrdinalIgnoreCase))
            {
                throw new StreamingException(StreamingError.OutOfOrder, $"style '{style.Id}' was registered for model '{style.Model}', not '{model.Name}'");
            }
        }
        else if (model.NeedsStyle)
        {
            throw new StreamingException(StreamingError.OutOfOrder, $"model '{model.Name}' needs a style: register a style image with RegisterStyle and set style_id");
        }

        if (config.JpegQuality > 100)
        {
            throw Invalid($"jpeg_quality {config.JpegQuality} is out of range 1..100");
        }

        (int, int)? inferenceSize = null;
        if (config.InferenceWidth != 0 || config.InferenceHeight != 0)
        {
            if (config.InferenceWidth == 0 || config.InferenceHeight == 0 || config.InferenceWidth > _options.MaxFrameWidth || config.InferenceHeight > _options.MaxFrameHeight)
            {
                throw Invalid($"inference size {config.InferenceWidth}x{config.InferenceHeight} is not valid: give both, at most {_options.MaxFrameWidth}x{_options.MaxFrameHeight}");
            }

            inferenceSize = ((int)config.InferenceWidth, (int)config.InferenceHeight);
        }

        var policy = config.Policy switch
        {
            Policy.Unspecified => previous?.Policy ?? Policy.All,
            Policy.Latest or Policy.All => config.Policy,
            _ => throw Invalid($"unknown policy #{(int)config.Policy}; use POLICY_LATEST or POLICY_ALL"),
        };
        if (previous is not null && policy != previous.Policy)
        {
            throw Invalid($"the policy is fixed by the stream's first config ({previous.Policy}); open a new stream to change it");
        }

        if (config.QueueCapacity > 8)
        {
            throw Invalid($"queue_capacity {config.QueueCapacity} is out of range 1..8");
        }

        // The lossless queue is the server's choice; queue_capacity only shapes POLICY_LATEST.
        int capacity = policy == Policy.All ? _options.LosslessQueueCapacity
            : config.QueueCapacity == 0 ? previous?.QueueCapacity ?? _options.DefaultQueueCapacity : (int)config.QueueCapacity;
        if (previous is not null && capacity != previous.QueueCapacity)
        {
            throw Invalid($"queue_capacity is fixed by the stream's first config ({previous.QueueCapacity})");
        }

        return new SessionSettings(
            model,
            style,
            config.HasAlpha ? config.Alpha : 1f,
            temporal,
            policy,
            capacity,
            config.OutputEncoding,
            config.JpegQuality == 0 ? 90 : (int)config.JpegQuality,
            inferenceSize,
            (previous?.Version ?? 0) + 1);
    }

    private static StreamingException Invalid(string message) => new(StreamingError.InvalidInput, message);
}
