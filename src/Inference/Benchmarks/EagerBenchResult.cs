namespace Video.Inference.Benchmarks;

/// <summary>
/// What <c>video-train eager-bench</c> measured for one model at one size: the JSON line the trainer prints and
/// <c>video bench</c> reads back (the two run in separate processes; this type is their contract).
/// </summary>
/// <remarks>
/// Status is <c>ok</c>, <c>n/a</c> (not a trainer architecture; times are NaN) or <c>mismatch</c> (TorchSharp and ONNX
/// Runtime disagree; not timed). MaxAbsDiff is the largest |TorchSharp − ONNX Runtime| over the check frame's output.
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
    double MaxAbsDiff);
