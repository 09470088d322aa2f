using OpenCvSharp;

namespace Video.Inference.Temporal.Internal;

/// <summary>
/// A preallocated OpenCV matrix with its input wrapper created once, so OpenCV never reallocates the data
/// (every call writes the same size and type) and per-frame calls allocate only output wrappers.
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
    }

    public int Rows { get; }

    public int Cols { get; }

    public int Channels { get; }

    public Mat Mat { get; }

    public InputArray In { get; }

    /// <summary>
    /// A new output wrapper for one call: OpenCvSharp disposes output wrappers after each call (<c>Fix()</c>),
    /// so unlike <see cref="In"/> they cannot be cached; this is the one small managed allocation per call.
    /// </summary>
    public OutputArray Out => Mat;

    public Size Size => new(Cols, Rows);

    /// <summary>The whole matrix as elements of <typeparamref name="T"/> (the matrix is continuous).</summary>
    public Span<T> Span<T>()
        where T : unmanaged => new((void*)Mat.Data, Rows * Cols * Channels);

    public void Dispose()
    {
        In.Dispose();
        Mat.Dispose();
    }
}
