using OpenCvSharp;
using Video.Capture;
using Video.Inference.Temporal.Internal;

namespace Video.Inference.Temporal;

/// <summary>What <see cref="TemporalFilter.Apply"/> did with the last frame.</summary>
public enum TemporalOutcome
{
    /// <summary>Mode off, strength 0, or nothing applied yet.</summary>
    PassedThrough,

    /// <summary>No usable history (first frame, after a reset, or its input was never observed): kept as is and remembered.</summary>
    Started,

    /// <summary>Blended with the (warped) previous output.</summary>
    Blended,

    /// <summary>Too much of the picture changed: treated as a scene cut, kept as is, and the history restarted from it.</summary>
    SceneCut,
}

/// <summary>
/// Removes flicker from a stylized video, for any model: the previous stylized output is warped along the
/// optical flow of the <em>input</em> frames and blended into the new output where the flow can be trusted
/// (forward–backward consistent, and the warped previous input looks like the input there, checked on the
/// flow's small image and at full size). Resets itself on scene cuts.
/// </summary>
/// <remarks>
/// <para>
/// Usage per stream: call <see cref="ObserveInput"/> with each input frame before the stylizer overwrites
/// it (it keeps a small grey copy keyed by <see cref="Frame.Index"/>), then <see cref="Apply"/> with the
/// stylized frame, in frame order. Frames whose <see cref="Apply"/> never comes (dropped by a live source)
/// are forgotten automatically; a gap in indices is fine (the flow spans it).
/// </para>
/// <para>
/// Ownership and threads: frames are borrowed for the call only. <see cref="ObserveInput"/> and
/// <see cref="Apply"/> may run concurrently on two different threads, but each must be called by one
/// thread at a time; <see cref="Reset"/> must not overlap either. All buffers are allocated in the
/// constructor: a warm filter allocates nothing per frame. One filter per stream and frame size; create a
/// new one when the size changes.
/// </para>
/// </remarks>
public sealed class TemporalFilter : IDisposable
{
    private const int RingSize = 16;
    private const double CutMeanAbsDifference = 45;

    private readonly TemporalOptions _options;
    private readonly int _factor;
    private readonly int _flowWidth;
    private readonly int _flowHeight;
    private readonly Slot[] _ring = new Slot[RingSize];
    private readonly object _ringLock = new();
    private readonly int[] _observeRowSums;

    private readonly CvBuffer _current;
    private readonly CvBuffer _previous;
    private readonly CvBuffer _backward;
    private readonly CvBuffer _forward;
    private readonly int _checkFactor;
    private readonly CvBuffer _currentCheck;
    private readonly CvBuffer _previousCheck;
    private readonly byte[] _visible;
    private readonly CvBuffer _lowWeights;
    private readonly CvBuffer _weight;
    private readonly CvBuffer _weights;
    private readonly CvBuffer? _lowMap;
    private readonly StillScene? _still;
    private readonly CvBuffer? _map;
    private readonly CvBuffer? _mapWhole;
    private readonly CvBuffer? _mapFraction;
    private readonly CvBuffer? _greyA;
    private readonly CvBuffer? _greyB;
    private readonly CvBuffer? _warpedGrey;
    private readonly CvBuffer? _greyDifference;
    private readonly CvBuffer? _smoothDifference;
    private readonly Size _differenceBox = new(3, 3);
    private readonly CvBuffer _history;
    private readonly CvBuffer? _warped;
    private readonly CvBuffer? _stylizedCopy;
    private readonly CvBuffer? _low;
    private readonly CvBuffer? _high;
    private readonly Mat? _clampKernel;
    private readonly InputArray? _clampKernelIn;
    private readonly Mat _none = new();
    private readonly InputArray _noneIn;
    private CvBuffer _cur;
    private CvBuffer _prev;
    private CvBuffer? _curGrey;
    private CvBuffer? _prevGrey;
    private bool _hasHistory;

    /// <summary>Creates a filter for frames of the given size.</summary>
    public TemporalFilter(int width, int height, TemporalOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 2);
        options.Validate();
        _options = options;
        Width = width;
        Height = height;
        _factor = Math.Min(FlowKernels.DownscaleFactor(width, options.AutoFlowWidth(width)), Math.Max(1, Math.Min(width, height) / 8));
        _flowWidth = width / _factor;
        _flowHeight = height / _factor;
        int lowPixels = _flowWidth * _flowHeight;
        _observeRowSums = new int[_flowWidth];
        bool flow = options.Mode == TemporalMode.Flow;
        for (int i = 0; i < RingSize; i++)
        {
            _ring[i] = new Slot(lowPixels, flow && options.FineTolerance > 0 ? width * height : 0);
        }

        _current = new CvBuffer(_flowHeight, _flowWidth, MatType.CV_8UC1);
        _previous = new CvBuffer(_flowHeight, _flowWidth, MatType.CV_8UC1);
        _cur = _current;
        _prev = _previous;
        _backward = new CvBuffer(_flowHeight, _flowWidth, MatType.CV_32FC2);

        // The forward flow only feeds the occlusion check: it runs on the flow image halved (a quarter of the
        // cost; the full-size photometric check catches the thin parts a coarser check misses), with a larger
        // slack for its coarser pixels.
        _checkFactor = Math.Min(_flowWidth, _flowHeight) >= 32 ? 2 : 1;
        _currentCheck = new CvBuffer(_flowHeight / _checkFactor, _flowWidth / _checkFactor, MatType.CV_8UC1);
        _previousCheck = new CvBuffer(_flowHeight / _checkFactor, _flowWidth / _checkFactor, MatType.CV_8UC1);
        _forward = new CvBuffer(_flowHeight / _checkFactor, _flowWidth / _checkFactor, MatType.CV_32FC2);
        _visible = new byte[lowPixels];
        _lowWeights = new CvBuffer(_flowHeight, _flowWidth, MatType.CV_8UC1);
        _weight = new CvBuffer(height, width, MatType.CV_8UC1);
        _weights = new CvBuffer(height, width, MatType.CV_8UC3);
        _history = new CvBuffer(height, width, MatType.CV_8UC3);
        _noneIn = InputArray.Create(_none);
        if (flow)
        {
            _lowMap = new CvBuffer(_flowHeight, _flowWidth, MatType.CV_32FC2);
            _still = new StillScene(_flowWidth, _flowHeight);
            _map = new CvBuffer(height, width, MatType.CV_32FC2);
            _mapWhole = new CvBuffer(height, width, MatType.CV_16SC2);
            _mapFraction = new CvBuffer(height, width, MatType.CV_16UC1);
            _warped = new CvBuffer(height, width, MatType.CV_8UC3);
            if (options.FineTolerance > 0)
            {
                _greyA = new CvBuffer(height, width, MatType.CV_8UC1);
                _greyB = new CvBuffer(height, width, MatType.CV_8UC1);
                _curGrey = _greyA;
                _prevGrey = _greyB;
                _warpedGrey = new CvBuffer(height, width, MatType.CV_8UC1);
                _greyDifference = new CvBuffer(height, width, MatType.CV_8UC1);
                _smoothDifference = new CvBuffer(height, width, MatType.CV_8UC1);
            }

            ClampRadius = options.ClampRadius ?? Math.Max(1, _factor / 2);
            if (ClampRadius > 0)
            {
                _stylizedCopy = new CvBuffer(height, width, MatType.CV_8UC3);
                _low = new CvBuffer(height, width, MatType.CV_8UC3);
                _high = new CvBuffer(height, width, MatType.CV_8UC3);
                int k = (2 * ClampRadius) + 1;
                _clampKernel = Cv2.GetStructuringElement(MorphShapes.Rect, new Size(k, k));
                _clampKernelIn = InputArray.Create(_clampKernel);
            }
        }
    }

    /// <summary>Frame width this filter was made for.</summary>
    public int Width { get; }

    /// <summary>Frame height this filter was made for.</summary>
    public int Height { get; }

    /// <summary>The settings.</summary>
    public TemporalOptions Options => _options;

    /// <summary>Size of the grey image the flow is computed on.</summary>
    public (int Width, int Height) FlowSize => (_flowWidth, _flowHeight);

    /// <summary>Radius of the neighbourhood clamp in <see cref="TemporalMode.Flow"/> (0: off); see <see cref="TemporalOptions.ClampRadius"/>.</summary>
    public int ClampRadius { get; }

    /// <summary>What the last <see cref="Apply"/> did.</summary>
    public TemporalOutcome LastOutcome { get; private set; }

    /// <summary>Frames blended so far.</summary>
    public long FramesBlended { get; private set; }

    /// <summary>Scene cuts detected so far.</summary>
    public long SceneCuts { get; private set; }

    private bool Enabled => _options.Mode != TemporalMode.Off && _options.Strength > 0;

    /// <summary>
    /// Records what the input frame looks like (grey copies, small and in <see cref="TemporalMode.Flow"/> also
    /// full-size, keyed by its <see cref="Frame.Index"/>);
    /// call it before the frame is stylized in place. The frame is borrowed for the call.
    /// </summary>
    public void ObserveInput(Frame input)
    {
        if (!Enabled)
        {
            return;
        }

        CheckSize(input);
        Slot slot;
        lock (_ringLock)
        {
            slot = ClaimSlot();
            slot.Index = input.Index;
            slot.State = SlotState.Writing;
        }

        FlowKernels.DownscaleToGrey(input.Pixels, input.Stride, _factor, slot.Grey, _flowWidth, _flowHeight, _observeRowSums, slot.FullGrey, Width, Height);
        lock (_ringLock)
        {
            slot.State = SlotState.Ready;
        }
    }

    /// <summary>
    /// Blends the stylized frame (in place) with the filter's history and makes the result the new history.
    /// Call in frame order, after <see cref="ObserveInput"/> saw the same frame's input.
    /// </summary>
    public void Apply(Frame stylized)
    {
        if (!Enabled)
        {
            LastOutcome = TemporalOutcome.PassedThrough;
            return;
        }

        CheckSize(stylized);
        if (!TakeGrey(stylized.Index, _cur.Span<byte>(), _curGrey is null ? default : _curGrey.Span<byte>()))
        {
            // Without the input we cannot know how it moved: restart from this frame (next frame blends again
            // only after its own input is observed).
            _hasHistory = false;
            LastOutcome = TemporalOutcome.Started;
            return;
        }

        if (!_hasHistory)
        {
            Remember(stylized, TemporalOutcome.Started);
            return;
        }

        var cur = _cur.Span<byte>();
        var prev = _prev.Span<byte>();
        if (FlowKernels.MeanAbsDifference(cur, prev) > CutMeanAbsDifference)
        {
            Remember(stylized, TemporalOutcome.SceneCut);
            return;
        }

        bool flow = _options.Mode == TemporalMode.Flow;
        if (flow)
        {
            DenseFlow.Fast.Compute(_cur, _prev, _backward);

            // Where the picture stands still, follow no flow: Farnebäck's small, frame-to-frame different
            // flows there would jitter the history by fractions of a pixel, flicker on sharp outlines.
            _still!.Apply(_cur, _prev, _backward);
            if (_checkFactor == 1)
            {
                DenseFlow.Check.Compute(_prev, _cur, _forward);
            }
            else
            {
                FlowKernels.Halve(cur, _flowWidth, _flowHeight, _checkFactor, _currentCheck.Span<byte>());
                FlowKernels.Halve(prev, _flowWidth, _flowHeight, _checkFactor, _previousCheck.Span<byte>());
                DenseFlow.Check.Compute(_previousCheck, _currentCheck, _forward);
            }

            FlowKernels.ConsistencyMask(_backward.Span<float>(), _forward.Span<float>(), _flowWidth, _flowHeight, slack: _checkFactor == 1 ? 0.25f : 1f, _visible, _checkFactor);
        }

        int unusable = FlowKernels.BlendWeights(cur, prev, flow ? _backward.Span<float>() : default, _visible, _flowWidth, _flowHeight, (float)_options.Strength, (float)_options.Tolerance, _lowWeights.Span<byte>());
        if (unusable > _options.SceneCutFraction * _flowWidth * _flowHeight)
        {
            Remember(stylized, TemporalOutcome.SceneCut);
            return;
        }

        Cv2.Resize(_lowWeights.In, _weight.Out, _weight.Size, 0, 0, InterpolationFlags.Linear);
        CvBuffer history = _history;
        if (flow)
        {
            // Where each pixel comes from: built at the flow's size and upsampled bilinearly. Its identity part
            // is affine, so this equals upsampling the flow and adding the pixel grid, in one full-size pass
            // instead of three; the border pixels, where the resize replicates, are put right afterwards. It
            // serves two remaps, so it is converted once to OpenCV's fixed-point form (1/32 pixel).
            FlowKernels.LowResolutionMap(_backward.Span<float>(), _flowWidth, _flowHeight, Width, Height, _lowMap!.Span<float>());
            Cv2.Resize(_lowMap.In, _map!.Out, _map.Size, 0, 0, InterpolationFlags.Linear);
            FlowKernels.FixMapBorders(_map.Span<float>(), _flowWidth, _flowHeight, Width, Height);
            Cv2.ConvertMaps(_map.In, _noneIn, _mapWhole!.Out, _mapFraction!.Out, MatType.CV_16SC2);
            Cv2.Remap(_history.In, _warped!.Out, _mapWhole.In, _mapFraction.In, InterpolationFlags.Linear, BorderTypes.Replicate);
            history = _warped;

            // The full-size photometric check (Lai et al. and ReCoNet weight their temporal losses the same way,
            // on the input): the check on the flow's small image averages away a thin part that moved (a leg,
            // an arm, the edge of a sign) when the coarse flow does not follow it, and there the warped history
            // would be blended over something new, a faded, half-transparent copy of the old frame (ghosting).
            // |grey input − warped previous grey input|, box-averaged over 3×3 pixels against single-pixel
            // noise, lowers each weight.
            if (_prevGrey is not null)
            {
                Cv2.Remap(_prevGrey.In, _warpedGrey!.Out, _mapWhole.In, _mapFraction.In, InterpolationFlags.Linear, BorderTypes.Replicate);
                FlowKernels.AbsDifference(_curGrey!.Span<byte>(), _warpedGrey.Span<byte>(), _greyDifference!.Span<byte>());
                Cv2.Blur(_greyDifference.In, _smoothDifference!.Out, _differenceBox);
                FlowKernels.LimitWeights(_smoothDifference.Span<byte>(), _weight.Span<byte>(), (float)_options.Strength, (float)_options.FineTolerance);

                // The same scene-cut rule as above, on the full-size weights: two unrelated pictures can pass the
                // check on the small image where their box averages happen to agree.
                if (FlowKernels.CountBelow(_weight.Span<byte>(), (byte)Math.Ceiling(51 * _options.Strength)) > _options.SceneCutFraction * Width * Height)
                {
                    Remember(stylized, TemporalOutcome.SceneCut);
                    return;
                }
            }
        }

        // One weight per channel, so the blend is a plain per-byte (vectorised) loop.
        Cv2.CvtColor(_weight.In, _weights.Out, ColorConversionCodes.GRAY2RGB);

        if (flow && _low is not null)
        {
            // Neighbourhood clamp (as in temporal anti-aliasing): where the flow is wrong by more than the
            // radius, the warped history holds colours the new frame has nowhere near; clamping them to the
            // new frame's local range stops them from being smeared along as trails.
            stylized.Pixels.CopyTo(_stylizedCopy!.Span<byte>());
            Cv2.Erode(_stylizedCopy.In, _low.Out, _clampKernelIn!, null, 1, BorderTypes.Replicate);
            Cv2.Dilate(_stylizedCopy.In, _high!.Out, _clampKernelIn!, null, 1, BorderTypes.Replicate);
            FlowKernels.Blend(stylized.Pixels, history.Span<byte>(), _weights.Span<byte>(), _low.Span<byte>(), _high.Span<byte>(), _options.ClampMargin);
        }
        else
        {
            FlowKernels.Blend(stylized.Pixels, history.Span<byte>(), _weights.Span<byte>());
        }
        FramesBlended++;
        Remember(stylized, TemporalOutcome.Blended);
    }

    /// <summary>Forgets all history (e.g. when a stream restarts or seeks).</summary>
    public void Reset()
    {
        lock (_ringLock)
        {
            foreach (var slot in _ring)
            {
                slot.State = SlotState.Free;
            }
        }

        _hasHistory = false;
        LastOutcome = TemporalOutcome.PassedThrough;
    }

    public void Dispose()
    {
        foreach (var b in new[] { _current, _previous, _backward, _forward, _lowWeights, _weight, _weights, _currentCheck, _previousCheck, _lowMap, _map, _mapWhole, _mapFraction, _history, _warped, _stylizedCopy, _low, _high, _greyA, _greyB, _warpedGrey, _greyDifference, _smoothDifference })
        {
            b?.Dispose();
        }

        _still?.Dispose();
        _clampKernelIn?.Dispose();
        _clampKernel?.Dispose();

        _noneIn.Dispose();
        _none.Dispose();
    }

    private void Remember(Frame output, TemporalOutcome outcome)
    {
        output.Pixels.CopyTo(_history.Span<byte>());
        (_cur, _prev) = (_prev, _cur);
        (_curGrey, _prevGrey) = (_prevGrey, _curGrey);
        _hasHistory = true;
        LastOutcome = outcome;
        if (outcome == TemporalOutcome.SceneCut)
        {
            SceneCuts++;
        }
    }

    private bool TakeGrey(long index, Span<byte> destination, Span<byte> fullDestination)
    {
        Slot? found = null;
        lock (_ringLock)
        {
            foreach (var slot in _ring)
            {
                if (slot.State == SlotState.Ready && slot.Index == index)
                {
                    found = slot;
                    slot.State = SlotState.Reading;
                    break;
                }
            }
        }

        if (found is null)
        {
            return false;
        }

        found.Grey.CopyTo(destination);
        found.FullGrey.CopyTo(fullDestination);
        lock (_ringLock)
        {
            found.State = SlotState.Free;

            // Inputs older than this one will never be applied (their frames were dropped).
            foreach (var slot in _ring)
            {
                if (slot.State == SlotState.Ready && slot.Index < index)
                {
                    slot.State = SlotState.Free;
                }
            }
        }

        return true;
    }

    private Slot ClaimSlot()
    {
        Slot? oldest = null;
        foreach (var slot in _ring)
        {
            if (slot.State == SlotState.Free)
            {
                return slot;
            }

            if (slot.State == SlotState.Ready && (oldest is null || slot.Index < oldest.Index))
            {
                oldest = slot;
            }
        }

        return oldest ?? throw new InvalidOperationException("temporal filter: every input slot is in use");
    }

    private void CheckSize(Frame frame)
    {
        if (frame.Width != Width || frame.Height != Height || frame.Format != PixelFormat.Rgb24)
        {
            throw new ArgumentException($"the temporal filter was made for {Width}x{Height} RGB24 frames, not {frame.Width}x{frame.Height} {frame.Format}", nameof(frame));
        }
    }

    private enum SlotState
    {
        Free,
        Writing,
        Ready,
        Reading,
    }

    private sealed class Slot(int pixels, int fullPixels)
    {
        public byte[] Grey { get; } = new byte[pixels];

        /// <summary>The grey input at full size (flow mode only, for the full-size photometric check).</summary>
        public byte[] FullGrey { get; } = new byte[fullPixels];

        public long Index { get; set; }

        public SlotState State { get; set; }
    }
}
