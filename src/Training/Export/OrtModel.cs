using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace Video.Training.Export;

/// <summary>A thin ONNX Runtime session (CPU provider) for parity tests, sample sheets and the benchmark.</summary>
/// <remarks>Not thread safe. Owns its session.</remarks>
internal sealed class OrtModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();

    public OrtModel(string path, int threads = 2)
    {
        using var so = Video.Inference.ExecutionProviders.CreateSessionOptions(threads);
        try
        {
            _session = new InferenceSession(path, so);
        }
        catch (OnnxRuntimeException e)
        {
            throw new Data.TrainingDataException($"cannot load ONNX model {path}: {e.Message.Split('\n')[0]}");
        }
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

    /// <summary>Binds pre-built inputs and preallocated outputs for timing (inference only, no copies, no allocation per run, as the host's plans run); the caller disposes the result.</summary>
    public TimedRuns Bind(IReadOnlyDictionary<string, (float[] Data, long[] Shape)> inputs) => new(this, inputs);

    /// <summary>Runs of one session on bound inputs and outputs, timed one by one (see <see cref="Bind"/>).</summary>
    /// <remarks>Not thread safe. Owns the input and output values.</remarks>
    public sealed class TimedRuns : IDisposable
    {
        private readonly OrtModel _model;
        private readonly string[] _names;
        private readonly List<OrtValue> _values;
        private readonly string[] _outputNames;
        private readonly List<OrtValue> _outputs = new();

        internal TimedRuns(OrtModel model, IReadOnlyDictionary<string, (float[] Data, long[] Shape)> inputs)
        {
            _model = model;
            _names = inputs.Keys.ToArray();
            _values = _names.Select(n => OrtValue.CreateTensorValueFromMemory(inputs[n].Data, inputs[n].Shape)).ToList();
            _outputNames = [.. model._session.OutputNames];

            // One run to learn the output shapes; the timed runs then write into buffers allocated here, once.
            using (var first = model._session.Run(model._run, _names, _values, _outputNames))
            {
                foreach (var o in first)
                {
                    var shape = o.GetTensorTypeAndShape().Shape;
                    _outputs.Add(OrtValue.CreateTensorValueFromMemory(new float[shape.Aggregate(1L, (a, d) => a * d)], shape));
                }
            }
        }

        /// <summary>Wall time of one run in milliseconds.</summary>
        public double RunMs()
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            _model._session.Run(_model._run, _names, _values, _outputNames, _outputs);
            return System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }

        public void Dispose()
        {
            foreach (var v in _values.Concat(_outputs))
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
