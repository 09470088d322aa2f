using Microsoft.ML.OnnxRuntime;

namespace Video.Inference;

/// <summary>
/// One pinned buffer and <see cref="OrtValue"/> per non-image model input (style statistics, α), owned by a
/// plan and bound into each of its slots, so changing the style rewrites the buffers in place.
/// </summary>
internal sealed class ExtraInputBuffers : IDisposable
{
    private readonly Dictionary<string, float[]> _buffers = new(StringComparer.Ordinal);
    private readonly List<OrtValue> _values = [];
    private readonly List<string> _names = [];

    public ExtraInputBuffers(IReadOnlyDictionary<string, long[]> shapes, string? alphaInput)
    {
        foreach (var (name, shape) in shapes)
        {
            var buffer = GC.AllocateArray<float>((int)shape.Aggregate(1L, (a, d) => a * d), pinned: true);
            if (name == alphaInput)
            {
                buffer.AsSpan().Fill(1f);
            }

            _buffers[name] = buffer;
            _names.Add(name);
            _values.Add(OrtValue.CreateTensorValueFromMemory(buffer, shape));
        }
    }

    public IReadOnlyList<string> Names => _names;

    public IReadOnlyList<OrtValue> Values => _values;

    public void Set(string name, ReadOnlySpan<float> values)
    {
        if (!_buffers.TryGetValue(name, out var buffer))
        {
            throw new ModelException($"the model has no input '{name}'");
        }

        if (values.Length != buffer.Length)
        {
            throw new ModelException($"input '{name}' takes {buffer.Length} values, got {values.Length}");
        }

        values.CopyTo(buffer);
    }

    public void Dispose()
    {
        foreach (var v in _values)
        {
            v.Dispose();
        }
    }
}
