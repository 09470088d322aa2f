using OpenCvSharp;
using Video.Capture;
using Video.Inference.Temporal.Internal;

namespace Video.Evaluation;

/// <summary>
/// Measures flicker as the warping error E_warp of Lai et al. 2018 ("Learning Blind Video Temporal
/// Consistency"): for each pair of consecutive frames, optical flow is computed on the <em>original</em>
/// frames, the previous frame of each version is warped onto the current one, and the squared difference is
/// averaged over the pixels that are visible in both (forward–backward consistency) and not on a motion
/// boundary (Lai et al.'s mask, after Ruder et al.), and over RGB, with
/// values in [0, 1]. E_warp of a version is the mean over all pairs. The original itself is measured the
/// same way, which gives the floor (what flow errors and real change alone cost).
/// </summary>
/// <remarks>
/// Frames are borrowed for the call to <see cref="Push"/>; the meter keeps copies of the previous ones. Flow
/// is Farnebäck on a grey image box-averaged to at most <see cref="DefaultFlowWidth"/> pixels wide (Lai et
/// al. use FlowNet2 at full size; ratios between versions are what we compare). Not thread safe.
/// </remarks>
public sealed class FlickerMeter : IDisposable
{
    /// <summary>Default largest width of the grey image the metric's flow is computed on.</summary>
    public const int DefaultFlowWidth = 640;

    /// <summary>
    /// A pair is a scene cut when the <em>original</em> frames still differ by more than this after motion
    /// compensation (an RMS difference above 25 of 255 levels on the visible pixels) <em>and</em> fewer than
    /// <see cref="CutVisibleFraction"/> of the pixels pass the occlusion check: no motion maps one frame onto
    /// the other, so the pair says nothing about temporal consistency and is left out of every version's
    /// mean. Fast, blurred motion (a large error, but most pixels still visible) is kept. The figures behind both
    /// thresholds are in docs/temporal.md, "Scene cuts are left out".
    /// </summary>
    public const double DefaultCutError = 0.01;

    /// <summary>Largest share of visible pixels a scene-cut pair can have (see <see cref="DefaultCutError"/>).</summary>
    public const double CutVisibleFraction = 0.5;

    // (A constructor argument overrides it, e.g. for synthetic cuts between textures so alike that the flow still looks consistent.)

    /// <summary>Flow components below this (in pixels of the flow image) are numerical noise and set to 0.</summary>
    private const float FlowNoise = 0.05f;

    private readonly int _factor;
    private readonly int _flowWidth;
    private readonly int _flowHeight;
    private readonly int[] _rowSums;
    private readonly CvBuffer _current;
    private readonly CvBuffer _previous;
    private readonly CvBuffer _backward;
    private readonly CvBuffer _forward;
    private readonly CvBuffer _lowVisible;
    private readonly CvBuffer _visible;
    private readonly CvBuffer _fullFlow;
    private readonly CvBuffer _grid;
    private readonly CvBuffer _map;
    private readonly CvBuffer _warped;
    private readonly CvBuffer[] _history;
    private readonly double[] _sums;
    private readonly Mat _none = new();
    private readonly InputArray _noneIn;
    private readonly List<FlickerPair> _pairs = [];
    private readonly double _cutError;
    private readonly double _cutVisible;
    private long _pushed;
    private CvBuffer _cur;
    private CvBuffer _prev;
    private bool _started;

    /// <summary>Creates a meter for an original and <paramref name="versions"/> stylized versions of it, all of one size.</summary>
    public FlickerMeter(int width, int height, int versions, int flowWidth = DefaultFlowWidth, double cutError = DefaultCutError, double cutVisibleFraction = CutVisibleFraction)
    {
        _cutError = cutError;
        _cutVisible = cutVisibleFraction;
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 8);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 8);
        ArgumentOutOfRangeException.ThrowIfNegative(versions);
        Width = width;
        Height = height;
        Versions = versions;
        _factor = Math.Max(1, (int)Math.Ceiling(width / (double)flowWidth));
        _flowWidth = width / _factor;
        _flowHeight = height / _factor;
        _rowSums = new int[_flowWidth];
        _current = new CvBuffer(_flowHeight, _flowWidth, MatType.CV_8UC1);
        _previous = new CvBuffer(_flowHeight, _flowWidth, MatType.CV_8UC1);
        _cur = _current;
        _prev = _previous;
        _backward = new CvBuffer(_flowHeight, _flowWidth, MatType.CV_32FC2);
        _forward = new CvBuffer(_flowHeight, _flowWidth, MatType.CV_32FC2);
        _lowVisible = new CvBuffer(_flowHeight, _flowWidth, MatType.CV_8UC1);
        _visible = new CvBuffer(height, width, MatType.CV_8UC1);
        _fullFlow = new CvBuffer(height, width, MatType.CV_32FC2);
        _grid = new CvBuffer(height, width, MatType.CV_32FC2);
        _map = new CvBuffer(height, width, MatType.CV_32FC2);
        _warped = new CvBuffer(height, width, MatType.CV_8UC3);
        _history = new CvBuffer[versions + 1];
        for (int v = 0; v <= versions; v++)
        {
            _history[v] = new CvBuffer(height, width, MatType.CV_8UC3);
        }

        _sums = new double[versions + 1];
        _noneIn = InputArray.Create(_none);
        FlowKernels.FillPixelGrid(_grid.Span<float>(), width, height);
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>
    /// Whether motion boundaries are masked out as well as occlusions (Lai et al.'s mask; default true).
    /// Set before the first <see cref="Push"/>.
    /// </summary>
    public bool MotionBoundaries { get; init; } = true;

    /// <summary>Number of stylized versions measured beside the original.</summary>
    public int Versions { get; }

    /// <summary>Frame pairs measured so far (scene cuts not counted).</summary>
    public int Pairs { get; private set; }

    /// <summary>Pairs left out as scene cuts (see <see cref="DefaultCutError"/>).</summary>
    public int Cuts { get; private set; }

    /// <summary>Mean fraction of pixels visible in both frames of a pair (the rest are masked out).</summary>
    public double MeanVisibleFraction => Pairs == 0 ? 0 : _visibleSum / Pairs;

    private double _visibleSum;

    /// <summary>Every pair measured so far, in order.</summary>
    public IReadOnlyList<FlickerPair> PairDetails => _pairs;

    /// <summary>E_warp of the original (the floor); 0 before two frames were pushed.</summary>
    public double OriginalWarpError => Pairs == 0 ? 0 : _sums[0] / Pairs;

    /// <summary>E_warp of version <paramref name="version"/> (0-based); 0 before two frames were pushed.</summary>
    public double WarpError(int version) => Pairs == 0 ? 0 : _sums[version + 1] / Pairs;

    /// <summary>Adds the next frame of the original and of every version (frames borrowed for the call).</summary>
    public void Push(Frame original, ReadOnlySpan<Frame> versions)
    {
        if (versions.Length != Versions)
        {
            throw new ArgumentException($"expected {Versions} versions, got {versions.Length}", nameof(versions));
        }

        CheckSize(original);
        foreach (var v in versions)
        {
            CheckSize(v);
        }

        FlowKernels.DownscaleToGrey(original.Pixels, original.Stride, _factor, _cur.Span<byte>(), _flowWidth, _flowHeight, _rowSums);
        if (_started)
        {
            DenseFlow.Careful.Compute(_cur, _prev, _backward);
            DenseFlow.Careful.Compute(_prev, _cur, _forward);

            // Farnebäck returns up to a few hundredths of a pixel on identical images; treated as motion, that
            // noise would re-sample (blur) every frame and give a perfectly consistent sequence a non-zero error.
            FlowKernels.SnapToZero(_backward.Span<float>(), FlowNoise);
            FlowKernels.SnapToZero(_forward.Span<float>(), FlowNoise);

            // Sundaram/Ruder's threshold is 0.5 px² at full size; the flow here is in pixels of the smaller image.
            float slack = 0.5f / (_factor * _factor);
            int occluded = FlowKernels.ConsistencyMask(_backward.Span<float>(), _forward.Span<float>(), _flowWidth, _flowHeight, slack, _lowVisible.Span<byte>());
            if (MotionBoundaries)
            {
                occluded += FlowKernels.MotionBoundaryMask(_backward.Span<float>(), _flowWidth, _flowHeight, _factor, _lowVisible.Span<byte>());
            }

            double visible = 1 - (occluded / (double)(_flowWidth * _flowHeight));
            double greyChange = FlowKernels.MeanAbsDifference(_cur.Span<byte>(), _prev.Span<byte>());
            Cv2.Resize(_lowVisible.In, _visible.Out, _visible.Size, 0, 0, InterpolationFlags.Nearest);
            Cv2.Resize(_backward.In, _fullFlow.Out, _fullFlow.Size, 0, 0, InterpolationFlags.Linear);
            Cv2.ScaleAdd(_fullFlow.In, _factor, _grid.In, _map.Out);
            var mask = _visible.Span<byte>();
            var errors = new double[versions.Length + 1];
            errors[0] = PairError(original, _history[0], mask);
            for (int v = 0; v < versions.Length; v++)
            {
                errors[v + 1] = PairError(versions[v], _history[v + 1], mask);
            }

            bool cut = _cutError > 0 && errors[0] > _cutError && visible < _cutVisible;
            _pairs.Add(new FlickerPair(_pushed, visible, greyChange, errors, cut));
            if (cut)
            {
                Cuts++;
            }
            else
            {
                for (int v = 0; v < errors.Length; v++)
                {
                    _sums[v] += errors[v];
                }

                _visibleSum += visible;
                Pairs++;
            }
        }

        original.Pixels.CopyTo(_history[0].Span<byte>());
        for (int v = 0; v < versions.Length; v++)
        {
            versions[v].Pixels.CopyTo(_history[v + 1].Span<byte>());
        }

        (_cur, _prev) = (_prev, _cur);
        _started = true;
        _pushed++;
    }

    public void Dispose()
    {
        foreach (var b in new[] { _current, _previous, _backward, _forward, _lowVisible, _visible, _fullFlow, _grid, _map, _warped })
        {
            b.Dispose();
        }

        foreach (var h in _history)
        {
            h.Dispose();
        }

        _noneIn.Dispose();
        _none.Dispose();
    }

    /// <summary>Mean squared difference (RGB in [0, 1]) between <paramref name="current"/> and the warped previous frame, over visible pixels.</summary>
    private double PairError(Frame current, CvBuffer previous, ReadOnlySpan<byte> mask)
    {
        Cv2.Remap(previous.In, _warped.Out, _map.In, _noneIn, InterpolationFlags.Linear, BorderTypes.Replicate);
        var warped = _warped.Span<byte>();
        var pixels = current.Pixels;
        long sum = 0;
        long count = 0;
        for (int p = 0, i = 0; p < mask.Length; p++, i += 3)
        {
            if (mask[p] == 0)
            {
                continue;
            }

            int d0 = pixels[i] - warped[i], d1 = pixels[i + 1] - warped[i + 1], d2 = pixels[i + 2] - warped[i + 2];
            sum += (d0 * d0) + (d1 * d1) + (d2 * d2);
            count++;
        }

        return count == 0 ? 0 : sum / (3.0 * 255 * 255 * count);
    }

    private void CheckSize(Frame frame)
    {
        if (frame.Width != Width || frame.Height != Height || frame.Format != PixelFormat.Rgb24)
        {
            throw new ArgumentException($"the meter was made for {Width}x{Height} RGB24 frames, not {frame.Width}x{frame.Height}", nameof(frame));
        }
    }
}

/// <summary>One measured pair of consecutive frames.</summary>
/// <param name="Frame">Index (0-based) of the later frame of the pair.</param>
/// <param name="VisibleFraction">Share of pixels that passed the occlusion check.</param>
/// <param name="GreyChange">Mean absolute difference (0–255) of the original's two grey flow images, unwarped.</param>
/// <param name="Errors">Warping error of the original (element 0) and of each version.</param>
/// <param name="IsCut">True when the pair was left out of the means as a scene cut.</param>
public sealed record FlickerPair(long Frame, double VisibleFraction, double GreyChange, IReadOnlyList<double> Errors, bool IsCut);
