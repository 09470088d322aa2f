using OpenCvSharp;

namespace Video.Inference.Temporal.Internal;

/// <summary>
/// Zero-motion preference for the still parts of a picture, on the filter's small grey images. Farnebäck
/// returns small flows that differ from frame to frame where nothing moves (noise, compression); followed, they
/// shift the warped history back and forth by a fraction of a pixel, and on sharp outlines that is flicker the
/// filter itself adds. Where the flow is shorter than <see cref="MaxFlow"/>, the input barely changed in place
/// (at most <see cref="Level"/> grey levels on average over 3×3 pixels) and standing still explains it at least
/// as well as the flow does (the same sum along the flow), the flow is set to 0.
/// </summary>
/// <remarks>All buffers are allocated once; each call is a handful of vectorised OpenCV passes over the small image.</remarks>
internal sealed class StillScene : IDisposable
{
    /// <summary>Flows shorter than this (flow-image pixels) may be a still scene's noise.</summary>
    public const float MaxFlow = 1;

    /// <summary>Mean grey change (levels, 3×3 pixels of the flow image) up to which a place counts as standing still.</summary>
    public const int Level = 1;

    private static readonly Size Box = new(3, 3);
    private readonly CvBuffer _grid;
    private readonly CvBuffer _map;
    private readonly CvBuffer _warped;
    private readonly CvBuffer _difference;
    private readonly CvBuffer _inPlace;
    private readonly CvBuffer _alongFlow;
    private readonly Mat _none = new();
    private readonly InputArray _noneIn;

    public StillScene(int width, int height)
    {
        _grid = new CvBuffer(height, width, MatType.CV_32FC2);
        _map = new CvBuffer(height, width, MatType.CV_32FC2);
        _warped = new CvBuffer(height, width, MatType.CV_8UC1);
        _difference = new CvBuffer(height, width, MatType.CV_8UC1);
        _inPlace = new CvBuffer(height, width, MatType.CV_16UC1);
        _alongFlow = new CvBuffer(height, width, MatType.CV_16UC1);
        _noneIn = InputArray.Create(_none);
        FlowKernels.FillPixelGrid(_grid.Span<float>(), width, height);
    }

    /// <summary>Sets <paramref name="backward"/> (current → previous) to 0 where the picture stands still; returns how many pixels.</summary>
    public int Apply(CvBuffer current, CvBuffer previous, CvBuffer backward)
    {
        Cv2.Absdiff(current.In, previous.In, _difference.Out);
        Cv2.BoxFilter(_difference.In, _inPlace.Out, MatType.CV_16U, Box, normalize: false, borderType: BorderTypes.Replicate);
        Cv2.Add(_grid.In, backward.In, _map.Out);
        Cv2.Remap(previous.In, _warped.Out, _map.In, _noneIn, InterpolationFlags.Linear, BorderTypes.Replicate);
        Cv2.Absdiff(current.In, _warped.In, _difference.Out);
        Cv2.BoxFilter(_difference.In, _alongFlow.Out, MatType.CV_16U, Box, normalize: false, borderType: BorderTypes.Replicate);
        return FlowKernels.PreferZeroMotion(_inPlace.Span<ushort>(), _alongFlow.Span<ushort>(), backward.Span<float>(), MaxFlow, 9 * Level);
    }

    public void Dispose()
    {
        foreach (var b in new[] { _grid, _map, _warped, _difference, _inPlace, _alongFlow })
        {
            b.Dispose();
        }

        _noneIn.Dispose();
        _none.Dispose();
    }
}
