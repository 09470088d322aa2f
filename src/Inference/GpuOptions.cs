using System.Globalization;
using System.Text.Json;

namespace Video.Inference;

/// <summary>
/// Settings for the GPU execution providers, read from a JSON file (<c>--gpu-config</c>). They take effect
/// only where TensorRT or CUDA load; on a CPU-only machine they are validated and then unused.
/// </summary>
/// <remarks>Immutable; thread safe.</remarks>
public sealed record GpuOptions
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    public int DeviceId { get; init; }

    /// <summary>TensorRT: build FP16 engines (faster on GPUs with tensor cores; our models tolerate the lower precision).</summary>
    public bool TensorRtFp16 { get; init; } = true;

    /// <summary>TensorRT: directory for built engines, so later starts skip the minutes-long build.</summary>
    public string? TensorRtEngineCache { get; init; }

    /// <summary>TensorRT dynamic-shape profile, e.g. <c>input:1x3x180x320</c>, <c>input:1x3x720x1280</c>, <c>input:1x3x1080x1920</c>.</summary>
    public string? TensorRtProfileMin { get; init; }

    public string? TensorRtProfileOpt { get; init; }

    public string? TensorRtProfileMax { get; init; }

    /// <summary>CUDA: cuDNN convolution algorithm search: EXHAUSTIVE, HEURISTIC or DEFAULT.</summary>
    public string CudnnConvAlgoSearch { get; init; } = "EXHAUSTIVE";

    /// <summary>CUDA: capture the graph once and replay it (valid only for fixed input shapes and device-resident IO).</summary>
    public bool CudaGraphs { get; init; }

    /// <summary>Reads a JSON file; throws <see cref="ModelException"/> with one line when it is malformed.</summary>
    public static GpuOptions Load(string path)
    {
        try
        {
            var o = JsonSerializer.Deserialize<GpuOptions>(File.ReadAllText(path), Json) ?? new GpuOptions();
            o.Validate(path);
            return o;
        }
        catch (JsonException e)
        {
            throw new ModelException($"malformed GPU config {path}: {e.Message.Split(". Path:")[0]}");
        }
        catch (IOException e)
        {
            throw new ModelException($"cannot read GPU config {path}: {e.Message}");
        }
    }

    /// <summary>The TensorRT provider's option names and values.</summary>
    public Dictionary<string, string> TensorRtSettings()
    {
        var d = new Dictionary<string, string>
        {
            ["device_id"] = DeviceId.ToString(CultureInfo.InvariantCulture),
            ["trt_fp16_enable"] = TensorRtFp16 ? "1" : "0",
        };
        if (TensorRtEngineCache is { Length: > 0 } cache)
        {
            d["trt_engine_cache_enable"] = "1";
            d["trt_engine_cache_path"] = cache;
            d["trt_timing_cache_enable"] = "1";
        }

        if (TensorRtProfileMin is not null && TensorRtProfileOpt is not null && TensorRtProfileMax is not null)
        {
            d["trt_profile_min_shapes"] = TensorRtProfileMin;
            d["trt_profile_opt_shapes"] = TensorRtProfileOpt;
            d["trt_profile_max_shapes"] = TensorRtProfileMax;
        }

        return d;
    }

    /// <summary>The CUDA provider's option names and values.</summary>
    public Dictionary<string, string> CudaSettings() => new()
    {
        ["device_id"] = DeviceId.ToString(CultureInfo.InvariantCulture),
        ["cudnn_conv_algo_search"] = CudnnConvAlgoSearch,
        ["enable_cuda_graph"] = CudaGraphs ? "1" : "0",
    };

    private void Validate(string path)
    {
        if (CudnnConvAlgoSearch is not ("EXHAUSTIVE" or "HEURISTIC" or "DEFAULT"))
        {
            throw new ModelException($"GPU config {path}: cudnnConvAlgoSearch must be EXHAUSTIVE, HEURISTIC or DEFAULT");
        }

        int profiles = new[] { TensorRtProfileMin, TensorRtProfileOpt, TensorRtProfileMax }.Count(p => p is not null);
        if (profiles is not (0 or 3))
        {
            throw new ModelException($"GPU config {path}: give all of tensorRtProfileMin, tensorRtProfileOpt and tensorRtProfileMax, or none");
        }

        if (DeviceId < 0)
        {
            throw new ModelException($"GPU config {path}: deviceId must be 0 or more");
        }
    }
}
