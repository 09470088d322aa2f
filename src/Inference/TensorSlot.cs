using Microsoft.ML.OnnxRuntime;

namespace Video.Inference;

/// <summary>
/// Preallocated input and output tensors for one frame in flight, wrapped once as <see cref="OrtValue"/>s
/// over pinned arrays so that inference writes straight into them.
/// </summary>
/// <remarks>Owned by its <see cref="StylizerPlan"/>; rented for one frame at a time. Not thread safe.</remarks>
public sealed class TensorSlot : IDisposable
{
    internal TensorSlot(long[] inputShape, long[] outputShape, IReadOnlyList<OrtValue> extraInputs)
    {
        Input = GC.AllocateArray<float>((int)inputShape.Aggregate(1L, (a, d) => a * d), pinned: true);
        Output = GC.AllocateArray<float>((int)outputShape.Aggregate(1L, (a, d) => a * d), pinned: true);
        InputValue = OrtValue.CreateTensorValueFromMemory(Input, inputShape);
        OutputValue = OrtValue.CreateTensorValueFromMemory(Output, outputShape);
        Inputs = [InputValue, .. extraInputs];
        Outputs = [OutputValue];
    }

    public float[] Input { get; }

    public float[] Output { get; }

    internal OrtValue InputValue { get; }

    internal OrtValue OutputValue { get; }

    internal OrtValue[] Inputs { get; }

    internal OrtValue[] Outputs { get; }

    public void Dispose()
    {
        InputValue.Dispose();
        OutputValue.Dispose();
    }
}
