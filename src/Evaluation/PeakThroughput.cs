using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Video.Inference;
using Video.Inference.Onnx;

namespace Video.Evaluation;

/// <summary>One peak measurement: a single large operator in ONNX Runtime and the GFLOP/s it reached.</summary>
public sealed record PeakResult(string Name, double GFlop, double MedianMs, int Runs)
{
    public double GFlops => GFlop / (MedianMs / 1000.0);
}

/// <summary>
/// The practical peak of this CPU for the operators our models spend their time in: one large 3×3 Conv (64→64 channels
/// on 1×64×180×320) and one 1024×1024×1024 MatMul, each as a one-node ONNX graph run by ONNX Runtime with the session
/// options the stylizer uses (CPU provider, all graph optimisations, sequential execution, the runtime's default
/// intra-op thread count). Inputs and outputs are preallocated; the median of the timed runs is reported.
/// </summary>
/// <remarks>Stateless. FLOPs are counted by <see cref="ModelCost"/>, the same counter as the models'.</remarks>
public static class PeakThroughput
{
    /// <summary>Measures both peak operators, each for about <paramref name="secondsEach"/> seconds.</summary>
    public static IReadOnlyList<PeakResult> Measure(double secondsEach = 1.5)
    {
        using var conv = PeakOperator.Conv();
        using var matmul = PeakOperator.MatMul();
        return [conv.Measure(secondsEach), matmul.Measure(secondsEach)];
    }
}

/// <summary>
/// One peak operator as a one-node ONNX Runtime session on preallocated input and output, ready to run again: the bench
/// times it in turn with a model's runs (<see cref="RunMs"/>) so the model's share of the peak is taken at the same moments.
/// </summary>
/// <remarks>Not thread safe. Owns its session and values.</remarks>
public sealed class PeakOperator : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();
    private readonly OrtValue _x;
    private readonly OrtValue _y;
    private readonly OrtValue[] _ins;
    private readonly OrtValue[] _outs;
    private static readonly string[] InNames = ["x"];
    private static readonly string[] OutNames = ["y"];

    private PeakOperator(string name, byte[] model, long[] inShape, long[] outShape, float[] input)
    {
        Name = name;
        GFlop = ModelCost.Count(global::Onnx.ModelProto.Parser.ParseFrom(model).Graph, new Dictionary<string, long[]>()).Flops / 1e9;
        ExecutionProviders.EnsureEnvironment();
        using var so = ExecutionProviders.CreateSessionOptions();
        _session = new InferenceSession(model, so);
        _x = OrtValue.CreateTensorValueFromMemory(input, inShape);
        _y = OrtValue.CreateTensorValueFromMemory(new float[outShape.Aggregate(1L, (a, d) => a * d)], outShape);
        _ins = [_x];
        _outs = [_y];
        for (int i = 0; i < 2; i++)
        {
            RunMs();
        }
    }

    public string Name { get; }

    public double GFlop { get; }

    /// <summary>A 3×3 <c>Conv</c> 64→64 on 1×64×180×320 (the conv peak).</summary>
    public static PeakOperator Conv()
    {
        var rng = new Random(3);
        var conv = new OnnxGraphBuilder("peak_conv");
        conv.Input("x", 1, 64, 180, 320);
        var w = conv.Initializer("w", Random(rng, 64 * 64 * 9, 0.1f), 64, 64, 3, 3);
        var b = conv.Initializer("b", Random(rng, 64, 0.1f), 64);
        conv.Node("Conv", ["x", w, b], "y", ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }));
        conv.Output("y", 1, 64, 180, 320);
        return new PeakOperator("Conv 3x3 64->64 on 1x64x180x320", conv.ToBytes(), [1, 64, 180, 320], [1, 64, 180, 320], Random(rng, 64 * 180 * 320, 1f));
    }

    /// <summary>A 1024×1024 by 1024×1024 <c>MatMul</c>.</summary>
    public static PeakOperator MatMul()
    {
        var rng = new Random(5);
        var mm = new OnnxGraphBuilder("peak_matmul");
        mm.Input("x", 1024, 1024);
        var m = mm.Initializer("m", Random(rng, 1024 * 1024, 0.1f), 1024, 1024);
        mm.Node("MatMul", ["x", m], "y");
        mm.Output("y", 1024, 1024);
        return new PeakOperator("MatMul 1024x1024 by 1024x1024", mm.ToBytes(), [1024, 1024], [1024, 1024], Random(rng, 1024 * 1024, 1f));
    }

    /// <summary>Wall time of one run in milliseconds.</summary>
    public double RunMs()
    {
        long t0 = Stopwatch.GetTimestamp();
        _session.Run(_run, InNames, _ins, OutNames, _outs);
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }

    /// <summary>The median of at least 5 runs over about <paramref name="seconds"/> (at most 200).</summary>
    public PeakResult Measure(double seconds)
    {
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 5 || (total.Elapsed.TotalSeconds < seconds && times.Count < 200))
        {
            times.Add(RunMs());
        }

        times.Sort();
        return new PeakResult(Name, GFlop, Percentile.OfSorted([.. times], 0.5), times.Count);
    }

    public void Dispose()
    {
        _x.Dispose();
        _y.Dispose();
        _run.Dispose();
        _session.Dispose();
    }

    private static float[] Random(Random rng, int n, float scale)
    {
        var a = new float[n];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = ((float)rng.NextDouble() - 0.5f) * scale;
        }

        return a;
    }
}
