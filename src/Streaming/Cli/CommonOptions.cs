using System.CommandLine;
using Video.Capture;
using Video.Inference;

namespace Video.Streaming.Cli;

/// <summary>Options shared by several commands.</summary>
internal static class CommonOptions
{
    public static Option<string?> ModelsDirectory() => new("--models")
    {
        Description = "Models directory (default: $VIDEO_MODELS, else models/ next to the program)",
    };

    public static Option<string> Device() => new Option<string>("--device")
    {
        Description = "Execution provider: auto (TensorRT, then CUDA, then CPU), cpu, cuda, tensorrt",
        DefaultValueFactory = _ => "auto",
    }.AcceptOnlyFromAmong("auto", "cpu", "cuda", "tensorrt");

    public static Option<string?> GpuConfig() => new("--gpu-config")
    {
        Description = "JSON file with TensorRT/CUDA settings (fp16, engine cache, shape profiles, cuDNN search, CUDA graphs); see docs/models.md",
    };

    public static GpuOptions? LoadGpu(string? path) => path is null ? null : GpuOptions.Load(path);

    public static Device ParseDevice(string text) => text switch
    {
        "cpu" => Inference.Device.Cpu,
        "cuda" => Inference.Device.Cuda,
        "tensorrt" => Inference.Device.TensorRT,
        _ => Inference.Device.Auto,
    };

    /// <summary>Parses "WxH" (e.g. 640x360).</summary>
    public static (int Width, int Height)? ParseSize(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], out int w) && int.TryParse(parts[1], out int h) && w is > 0 and <= 8192 && h is > 0 and <= 8192)
        {
            return (w, h);
        }

        throw new VideoException($"--size '{text}' is not WIDTHxHEIGHT (e.g. 640x360)");
    }
}
