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
        Assert.Contains("libcublas.so.13", e.Message, StringComparison.Ordinal);
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
