using Microsoft.ML.OnnxRuntime;
using Video.Capture;

namespace Video.Inference;

/// <summary>
/// Preallocated input and output tensors for one frame in flight, wrapped once as <see cref="OrtValue"/>s
/// over pinned buffers from the <see cref="FrameAllocator"/> so that inference writes straight into them.
/// </summary>
/// <remarks>
/// Owned by its <see cref="StylizerPlan"/>; rented for one frame at a time. Not thread safe. The
/// <see cref="OrtValue"/>s are disposed before the buffers they wrap.
/// </remarks>
public sealed class TensorSlot : IDisposable
{
    private readonly PixelBuffer<float> _input;
    private readonly PixelBuffer<float> _output;

    internal TensorSlot(FrameAllocator allocator, InferenceSession session, IReadOnlyList<string> inputNames, string outputName, long[] inputShape, long[] outputShape, IReadOnlyList<OrtValue> extraInputs)
    {
        _input = allocator.Allocate<float>((int)inputShape.Aggregate(1L, (a, d) => a * d));
        try
        {
            _output = allocator.Allocate<float>((int)outputShape.Aggregate(1L, (a, d) => a * d));
        }
        catch
        {
            _input.Dispose();
            throw;
        }

        // The tensors start at zero, as a fresh array would (the allocator hands out memory as it was left).
        _input.Span.Clear();
        _output.Span.Clear();
        InputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _input.Memory, inputShape);
        OutputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _output.Memory, outputShape);
        // Bound once: a run then passes no names or arrays, so it allocates nothing.
        Binding = session.CreateIoBinding();
        Binding.BindInput(inputNames[0], InputValue);
        for (int i = 0; i < extraInputs.Count; i++)
        {
            Binding.BindInput(inputNames[i + 1], extraInputs[i]);
        }

        Binding.BindOutput(outputName, OutputValue);
    }

    /// <summary>The input tensor's elements.</summary>
    public Span<float> Input => _input.Span;

    /// <summary>The output tensor's elements.</summary>
    public Span<float> Output => _output.Span;

    internal Memory<float> InputMemory => _input.Memory;

    internal Memory<float> OutputMemory => _output.Memory;

    internal OrtValue InputValue { get; }

    internal OrtValue OutputValue { get; }

    internal OrtIoBinding Binding { get; }

    public void Dispose()
    {
        Binding.Dispose();
        InputValue.Dispose();
        OutputValue.Dispose();
        _input.Dispose();
        _output.Dispose();
    }

    /// <summary>Disposes the native values but leaves the tensor memory rented (the slot was never returned).</summary>
    internal void DisposeKeepingMemory()
    {
        Binding.Dispose();
        InputValue.Dispose();
        OutputValue.Dispose();
    }
}
