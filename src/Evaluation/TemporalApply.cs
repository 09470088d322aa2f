using Video.Capture;
using Video.Inference.Temporal;

namespace Video.Evaluation;

/// <summary>
/// <c>video eval temporal-apply</c>: the temporal filter over the output of any stylizer, so its flicker can be measured
/// with the filter on and off.
/// </summary>
/// <remarks>Stateless; each call opens its own sources, filter and sink. The output is written by <see cref="FfmpegVideoSink"/> (hidden temporary file, renamed on success).</remarks>
public static class TemporalApply
{
    /// <summary>
    /// Runs the temporal filter over an already stylized clip, guided by the original (the same work the
    /// pipeline's temporal stage does, without running a model): for filtering the output of any stylizer.
    /// </summary>
    public static async Task<(long Frames, long Blended, long SceneCuts)> RunAsync(string original, string stylized, string output, TemporalOptions options, CancellationToken cancellationToken)
    {
        options.Validate();
        MediaProbe.CheckReadable(original);
        MediaProbe.CheckReadable(stylized);
        OutputKinds.FromPath(output);
        await using var source = await FrameSources.OpenAsync(original, null, cancellationToken).ConfigureAwait(false);
        await using var styled = await FrameSources.OpenAsync(stylized, null, cancellationToken).ConfigureAwait(false);
        var info = styled.Info;
        if (source.Info.Width != info.Width || source.Info.Height != info.Height)
        {
            throw new VideoException($"{stylized} is {info.Width}x{info.Height} but {original} is {source.Info.Width}x{source.Info.Height}");
        }

        using var pool = new FramePool(info.Width, info.Height, PixelFormat.Rgb24, 4);
        using var filter = new TemporalFilter(info.Width, info.Height, options);
        await using var sink = FfmpegVideoSink.Create(output, info.Width, info.Height, info.FrameRate, info);
        long n = 0;
        while (true)
        {
            using var input = await source.ReadAsync(pool, cancellationToken).ConfigureAwait(false);
            using var frame = await styled.ReadAsync(pool, cancellationToken).ConfigureAwait(false);
            if (input is null && frame is null)
            {
                break;
            }

            if (input is null || frame is null)
            {
                throw new VideoException($"{(input is null ? original : stylized)} has {n} frames but {(input is null ? stylized : original)} has more");
            }

            input.Index = n;
            frame.Index = n;
            filter.ObserveInput(input);
            filter.Apply(frame);
            await sink.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            n++;
        }

        await sink.CompleteAsync(cancellationToken).ConfigureAwait(false);
        return (n, filter.FramesBlended, filter.SceneCuts);
    }
}
