using Microsoft.ML.OnnxRuntime;
using Video.Inference;

namespace Video.Inference.Tests;

/// <summary>The execution-provider chain on this GPU-less machine (the GPU is the one thing faked by absence).</summary>
public class DeviceTests
{
    [SkippableFact]
    public void Configure_Auto_FallsBackToCpu()
    {
        ExecutionProviders.EnsureEnvironment();
        using var options = new SessionOptions();
        Skip.If(HasCuda(), "a CUDA runtime is installed here");
        Assert.Equal("cpu", ExecutionProviders.Configure(options, Device.Auto));
    }

    [SkippableTheory]
    [InlineData(Device.Cuda, "--device cuda: CUDA is not available here")]
    [InlineData(Device.TensorRT, "--device tensorrt: TensorRT is not available here")]
    public void Configure_ExplicitGpuWithoutGpu_ThrowsClearly(Device device, string expected)
    {
        Skip.If(HasCuda(), "a CUDA runtime is installed here");
        ExecutionProviders.EnsureEnvironment();
        using var options = new SessionOptions();
        var e = Assert.Throws<ModelException>(() => ExecutionProviders.Configure(options, device));
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
        Assert.Contains("libcublas", e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Configure_AutoWithFullGpuOptions_StillFallsBackToCpu()
    {
        Skip.If(HasCuda(), "a CUDA runtime is installed here");
        ExecutionProviders.EnsureEnvironment();
        using var options = new SessionOptions();
        var gpu = new GpuOptions { TensorRtEngineCache = "/tmp/trt", TensorRtProfileMin = "input:1x3x64x64", TensorRtProfileOpt = "input:1x3x360x640", TensorRtProfileMax = "input:1x3x1080x1920", CudaGraphs = true };
        Assert.Equal("cpu", ExecutionProviders.Configure(options, Device.Auto, gpu: gpu));
    }

    [Fact]
    public void GpuOptions_Settings_UseTheProvidersOptionNames()
    {
        var gpu = new GpuOptions { DeviceId = 1, TensorRtFp16 = true, TensorRtEngineCache = "/cache", CudnnConvAlgoSearch = "HEURISTIC", CudaGraphs = true };
        var trt = gpu.TensorRtSettings();
        Assert.Equal("1", trt["device_id"]);
        Assert.Equal("1", trt["trt_fp16_enable"]);
        Assert.Equal("/cache", trt["trt_engine_cache_path"]);
        Assert.False(trt.ContainsKey("trt_profile_min_shapes"));
        var cuda = gpu.CudaSettings();
        Assert.Equal("HEURISTIC", cuda["cudnn_conv_algo_search"]);
        Assert.Equal("1", cuda["enable_cuda_graph"]);
    }

    [Theory]
    [InlineData("""{ "cudnnConvAlgoSearch": "FASTEST" }""", "cudnnConvAlgoSearch must be")]
    [InlineData("""{ "tensorRtProfileMin": "input:1x3x64x64" }""", "give all of tensorRtProfileMin")]
    [InlineData("""{ "deviceId": "zero" }""", "malformed GPU config")]
    public void GpuOptions_Load_BadFile_ThrowsOneLine(string json, string expected)
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, json);
        try
        {
            var e = Assert.Throws<ModelException>(() => GpuOptions.Load(path));
            Assert.Contains(expected, e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Configure_Cpu_AppendsNothing()
    {
        using var options = new SessionOptions();
        Assert.Equal("cpu", ExecutionProviders.Configure(options, Device.Cpu));
    }

    private static bool HasCuda() =>
        Directory.EnumerateFiles("/usr/lib/x86_64-linux-gnu", "libcublas.so.13*").Any() || Directory.Exists("/usr/local/cuda-13");
}
