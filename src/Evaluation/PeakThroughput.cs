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
    public static IReadOnlyList<PeakResult> Measure(double secondsEach = 1.5)
    {
        ExecutionProviders.EnsureEnvironment();
        var rng = new Random(3);
        float[] Random(int n, float scale)
        {
            var a = new float[n];
            for (int i = 0; i < a.Length; i++)
            {
                a[i] = ((float)rng.NextDouble() - 0.5f) * scale;
            }

            return a;
        }

        var conv = new OnnxGraphBuilder("peak_conv");
        conv.Input("x", 1, 64, 180, 320);
        var w = conv.Initializer("w", Random(64 * 64 * 9, 0.1f), 64, 64, 3, 3);
        var b = conv.Initializer("b", Random(64, 0.1f), 64);
        conv.Node("Conv", ["x", w, b], "y", ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }));
        conv.Output("y", 1, 64, 180, 320);

        var mm = new OnnxGraphBuilder("peak_matmul");
        mm.Input("x", 1024, 1024);
        var m = mm.Initializer("m", Random(1024 * 1024, 0.1f), 1024, 1024);
        mm.Node("MatMul", ["x", m], "y");
        mm.Output("y", 1024, 1024);

        return
        [
            Run("Conv 3x3 64->64 on 1x64x180x320", conv.ToBytes(), [1, 64, 180, 320], [1, 64, 180, 320], Random(64 * 180 * 320, 1f), secondsEach),
            Run("MatMul 1024x1024 by 1024x1024", mm.ToBytes(), [1024, 1024], [1024, 1024], Random(1024 * 1024, 1f), secondsEach),
        ];
    }

    private static PeakResult Run(string name, byte[] model, long[] inShape, long[] outShape, float[] input, double seconds)
    {
        double gflop = ModelCost.Count(global::Onnx.ModelProto.Parser.ParseFrom(model).Graph, new Dictionary<string, long[]>()).Flops / 1e9;
        using var so = ExecutionProviders.CreateSessionOptions();
        using var session = new InferenceSession(model, so);
        using var run = new RunOptions();
        var output = new float[outShape.Aggregate(1L, (a, d) => a * d)];
        using var x = OrtValue.CreateTensorValueFromMemory(input, inShape);
        using var y = OrtValue.CreateTensorValueFromMemory(output, outShape);
        string[] inNames = ["x"], outNames = ["y"];
        OrtValue[] ins = [x], outs = [y];
        for (int i = 0; i < 2; i++)
        {
            session.Run(run, inNames, ins, outNames, outs);
        }

        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 5 || (total.Elapsed.TotalSeconds < seconds && times.Count < 200))
        {
            long t0 = Stopwatch.GetTimestamp();
            session.Run(run, inNames, ins, outNames, outs);
            times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }

        times.Sort();
        return new PeakResult(name, gflop, Percentile.OfSorted([.. times], 0.5), times.Count);
    }
}
