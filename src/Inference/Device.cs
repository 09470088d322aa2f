using Microsoft.ML.OnnxRuntime;

namespace Video.Inference;

/// <summary>Which execution provider to run models on.</summary>
public enum Device
{
    /// <summary>TensorRT, else CUDA, else CPU (with one warning when falling back).</summary>
    Auto,
    Cpu,
    Cuda,
    TensorRT,
}

/// <summary>Builds ONNX Runtime session options for a <see cref="Device"/>: the TensorRT → CUDA → CPU chain.</summary>
/// <remarks>Thread safe. The fallback warning is written once per process.</remarks>
public static class ExecutionProviders
{
    private static int _warned;

    /// <summary>Creates the process-wide ONNX Runtime environment with quiet native logging; call before any session option exists.</summary>
    public static void EnsureEnvironment()
    {
        // The static constructor does the work, once.
    }

    /// <summary>
    /// The session options every stylizer session uses (all graph optimisations, sequential execution,
    /// <paramref name="intraOpThreads"/> threads, 0 = ONNX Runtime's default, no spin-waiting, subnormals flushed to zero, fatal-only logging); the
    /// execution provider is added by <see cref="Configure"/>. The caller disposes them.
    /// </summary>
    public static SessionOptions CreateSessionOptions(int intraOpThreads = 0)
    {
        EnsureEnvironment();
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };

        // Subnormal floats are ~100x slower on x86 and appear in the near-zero activations of our generators; they
        // change no pixel of an 8-bit result (docs/realtime.md).
        options.AddSessionConfigEntry("session.set_denormal_as_zero", "1");
        // ONNX Runtime's intra-op threads spin while they wait for work by default. On two cores that spinning takes the
        // CPU ffmpeg's decoder and encoder need between model calls: without it the pipeline ran 1.2-2x faster side by
        // side (docs/realtime.md). VIDEO_ORT_SPIN=1 turns it back on.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", Environment.GetEnvironmentVariable("VIDEO_ORT_SPIN") == "1" ? "1" : "0");
        return options;
    }

    static ExecutionProviders()
    {
        // ONNX Runtime logs failed provider loads itself, in colour, on stderr; this class reports them in one line instead.
        try
        {
            var envOptions = new EnvironmentCreationOptions { logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL, logId = "video" };
            OrtEnv.CreateInstanceWithOptions(ref envOptions);
        }
        catch (OnnxRuntimeException)
        {
            // The environment already exists (created by an earlier session); keep its settings.
        }
    }

    /// <summary>
    /// Appends the providers for <paramref name="device"/> to <paramref name="options"/> and returns the one
    /// in use ("tensorrt", "cuda" or "cpu"). An explicit GPU device that is not available throws
    /// <see cref="ModelException"/>; <see cref="Device.Auto"/> falls back to CPU and calls <paramref name="warn"/> once.
    /// </summary>
    public static string Configure(SessionOptions options, Device device, Action<string>? warn = null, GpuOptions? gpu = null)
    {
        gpu ??= new GpuOptions();
        Action<SessionOptions> tensorRt = o =>
        {
            using var trt = new OrtTensorRTProviderOptions();
            trt.UpdateOptions(gpu.TensorRtSettings());
            o.AppendExecutionProvider_Tensorrt(trt);
        };
        Action<SessionOptions> cuda = o =>
        {
            using var c = new OrtCUDAProviderOptions();
            c.UpdateOptions(gpu.CudaSettings());
            o.AppendExecutionProvider_CUDA(c);
        };

        switch (device)
        {
            case Device.Cpu:
                return "cpu";
            case Device.TensorRT:
                Append(options, "tensorrt", tensorRt, out var trtError);
                if (trtError is not null)
                {
                    throw new ModelException($"--device tensorrt: TensorRT is not available here ({trtError}); use --device auto or cpu");
                }

                // CUDA after TensorRT takes the nodes TensorRT cannot.
                Append(options, "cuda", cuda, out _);
                return "tensorrt";
            case Device.Cuda:
                Append(options, "cuda", cuda, out var cudaError);
                if (cudaError is not null)
                {
                    throw new ModelException($"--device cuda: CUDA is not available here ({cudaError}); use --device auto or cpu");
                }

                return "cuda";
            default:
                if (Append(options, "tensorrt", tensorRt, out _))
                {
                    Append(options, "cuda", cuda, out _);
                    return "tensorrt";
                }

                if (Append(options, "cuda", cuda, out var error))
                {
                    return "cuda";
                }

                if (Interlocked.Exchange(ref _warned, 1) == 0)
                {
                    warn?.Invoke($"warning: no GPU execution provider ({error}); running on CPU");
                }

                return "cpu";
        }
    }

    private static bool Append(SessionOptions options, string name, Action<SessionOptions> append, out string? error)
    {
        try
        {
            append(options);
            error = null;
            return true;
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or NotSupportedException)
        {
            error = Summarize(e.Message);
            return false;
        }
    }

    private static string Summarize(string message)
    {
        // "...Failed to load shared library ... libcublas.so.13: cannot open shared object file..." → the missing library.
        var m = System.Text.RegularExpressions.Regex.Match(message, @"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file");
        if (m.Success)
        {
            return $"{m.Groups[1].Value} not found";
        }

        if (message.Contains("Failed to load shared library", StringComparison.Ordinal))
        {
            return "CUDA 13 / TensorRT libraries such as libcublas.so.13 are not installed";
        }

        string first = message.ReplaceLineEndings(" ");
        return first.Length > 160 ? first[..160] + "…" : first;
    }
}
