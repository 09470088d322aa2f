namespace Video.Inference.Benchmarks;

/// <summary>
/// What <c>video-train eager-bench</c> measured for one model at one size: the JSON line the trainer prints and
/// <c>video bench</c> reads back (the two run in separate processes; this type is their contract).
/// </summary>
/// <remarks>
/// Status is <c>ok</c>, <c>n/a</c> (not a trainer architecture; times are NaN) or <c>mismatch</c> (TorchSharp and ONNX
/// Runtime disagree; not timed). MaxAbsDiff is the largest |TorchSharp − ONNX Runtime| over the check frame's output.
/// OrtMedianMs and OrtMeanMs are ONNX Runtime on the same file and frame in the same process, its runs interleaved with
/// the eager frames (one of each in turn), so <see cref="PairedRatio"/> compares the two at the same moments; NaN when
/// not measured.
/// </remarks>
public sealed record EagerBenchResult(
    string Model,
    string Architecture,
    string Status,
    string? Reason,
    int Width,
    int Height,
    int Frames,
    int Threads,
    double MedianMs,
    double MeanMs,
    double P90Ms,
    double Fps,
    double MaxAbsDiff,
    double OrtMedianMs = double.NaN,
    double OrtMeanMs = double.NaN)
{
    /// <summary>Eager median over ONNX Runtime median, both timed frame by frame in turn (how many times faster ONNX Runtime is).</summary>
    public double PairedRatio => MedianMs / OrtMedianMs;
}
