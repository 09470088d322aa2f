using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace Video.Training.Export;

/// <summary>A thin ONNX Runtime session (CPU provider) for parity tests, sample sheets and the benchmark.</summary>
/// <remarks>Not thread safe. Owns its session.</remarks>
public sealed class OrtModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();

    public OrtModel(string path, int threads = 2)
    {
        using var so = Video.Inference.ExecutionProviders.CreateSessionOptions(threads);
        _session = new InferenceSession(path, so);
    }

    public IReadOnlyList<string> InputNames => _session.InputNames;

    public IReadOnlyList<string> OutputNames => _session.OutputNames;

    /// <summary>Runs the model on float tensors (copied in and out) and returns the outputs in <see cref="OutputNames"/> order.</summary>
    public Tensor[] Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        var names = inputs.Keys.ToArray();
        var values = new List<OrtValue>();
        try
        {
            foreach (var n in names)
            {
                var t = inputs[n].detach().contiguous().to(ScalarType.Float32);
                values.Add(OrtValue.CreateTensorValueFromMemory(t.data<float>().ToArray(), t.shape));
            }

            using var outputs = _session.Run(_run, names, values, _session.OutputNames);
            return outputs.Select(o =>
            {
                var shape = o.GetTensorTypeAndShape().Shape;
                return torch.tensor(o.GetTensorDataAsSpan<float>().ToArray(), shape);
            }).ToArray();
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    public Tensor Run(string inputName, Tensor input) => Run(new Dictionary<string, Tensor> { [inputName] = input })[0];

    /// <summary>Median wall time (ms) of <paramref name="runs"/> runs on pre-built inputs (inference only, no copies).</summary>
    public double BenchmarkMs(IReadOnlyDictionary<string, (float[] Data, long[] Shape)> inputs, int warmup, int runs)
    {
        var names = inputs.Keys.ToArray();
        var values = names.Select(n => OrtValue.CreateTensorValueFromMemory(inputs[n].Data, inputs[n].Shape)).ToList();
        try
        {
            var times = new List<double>();
            for (int i = 0; i < warmup + runs; i++)
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                using var outputs = _session.Run(_run, names, values, _session.OutputNames);
                if (i >= warmup)
                {
                    times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
            }

            times.Sort();
            return times[times.Count / 2];
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    public void Dispose()
    {
        _run.Dispose();
        _session.Dispose();
    }
}
