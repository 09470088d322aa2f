using Microsoft.ML.OnnxRuntime;

namespace Video.Inference;

/// <summary>
/// Preallocated input and output tensors for one frame in flight, wrapped once as <see cref="OrtValue"/>s
/// over pinned arrays so that inference writes straight into them.
/// </summary>
/// <remarks>Owned by its <see cref="StylizerPlan"/>; rented for one frame at a time. Not thread safe.</remarks>
public sealed class TensorSlot : IDisposable
{
    internal TensorSlot(InferenceSession session, IReadOnlyList<string> inputNames, string outputName, long[] inputShape, long[] outputShape, IReadOnlyList<OrtValue> extraInputs)
    {
        Input = GC.AllocateArray<float>((int)inputShape.Aggregate(1L, (a, d) => a * d), pinned: true);
        Output = GC.AllocateArray<float>((int)outputShape.Aggregate(1L, (a, d) => a * d), pinned: true);
        InputValue = OrtValue.CreateTensorValueFromMemory(Input, inputShape);
        OutputValue = OrtValue.CreateTensorValueFromMemory(Output, outputShape);
        // Bound once: a run then passes no names or arrays, so it allocates nothing.
        Binding = session.CreateIoBinding();
        Binding.BindInput(inputNames[0], InputValue);
        for (int i = 0; i < extraInputs.Count; i++)
        {
            Binding.BindInput(inputNames[i + 1], extraInputs[i]);
        }

        Binding.BindOutput(outputName, OutputValue);
    }

    public float[] Input { get; }

    public float[] Output { get; }

    internal OrtValue InputValue { get; }

    internal OrtValue OutputValue { get; }

    internal OrtIoBinding Binding { get; }

    public void Dispose()
    {
        Binding.Dispose();
        InputValue.Dispose();
        OutputValue.Dispose();
    }
}
