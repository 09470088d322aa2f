using Video.Inference;
using Video.Inference.Temporal;

namespace Video.Evaluation;

/// <summary>
/// <c>video eval temporal-apply</c>: the temporal filter over the output of any stylizer, so its flicker can be measured
/// with the filter on and off.
/// </summary>
/// <remarks>Stateless: each call is one <see cref="StylizeJob"/> (<see cref="StylizeJob.RunOverStylizedAsync"/>), which writes a hidden temporary file renamed on success.</remarks>
public static class TemporalApply
{
    /// <summary>
    /// Runs the temporal filter over an already stylized clip, guided by the original (the same work the
    /// pipeline's temporal stage does, without running a model): for filtering the output of any stylizer.
    /// </summary>
    public static async Task<(long Frames, long Blended, long SceneCuts)> RunAsync(string original, string stylized, string output, TemporalOptions options, CancellationToken cancellationToken)
    {
        // A folder is read as the frames of one clip, as a stylized clip of it would have been written.
        var job = new StylizeJob(original, output) { Sequence = Directory.Exists(original), Pipeline = new PipelineOptions { Temporal = options } };
        var result = await job.RunOverStylizedAsync(stylized, cancellationToken: cancellationToken).ConfigureAwait(false);
        return (result.Stats.FramesOut, result.FramesBlended, result.SceneCuts);
    }
}
