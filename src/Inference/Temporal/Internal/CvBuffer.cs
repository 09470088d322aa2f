using OpenCvSharp;

namespace Video.Inference.Temporal.Internal;

/// <summary>
/// A preallocated OpenCV matrix with its array wrappers created once, so per-frame OpenCV calls allocate
/// no managed memory and OpenCV never reallocates the data (every call writes the same size and type).
/// </summary>
/// <remarks>Owned by one filter or meter; not thread safe.</remarks>
internal sealed unsafe class CvBuffer : IDisposable
{
    public CvBuffer(int rows, int cols, MatType type)
    {
        Rows = rows;
        Cols = cols;
        Mat = new Mat(rows, cols, type, Scalar.All(0));
        Channels = Mat.Channels();
        In = InputArray.Create(Mat);
        Out = OutputArray.Create(Mat);
        InOut = InputOutputArray.Create(Mat);
    }

    public int Rows { get; }

    public int Cols { get; }

    public int Channels { get; }

    public Mat Mat { get; }

    public InputArray In { get; }

    public OutputArray Out { get; }

    public InputOutputArray InOut { get; }

    public Size Size => new(Cols, Rows);

    /// <summary>The whole matrix as elements of <typeparamref name="T"/> (the matrix is continuous).</summary>
    public Span<T> Span<T>()
        where T : unmanaged => new((void*)Mat.Data, Rows * Cols * Channels);

    public void Dispose()
    {
        InOut.Dispose();
        Out.Dispose();
        In.Dispose();
        Mat.Dispose();
    }
}
