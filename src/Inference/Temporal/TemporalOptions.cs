using Video.Capture;

namespace Video.Inference.Temporal;

/// <summary>How a <see cref="TemporalFilter"/> blends each stylized frame with the previous output.</summary>
public enum TemporalMode
{
    /// <summary>Frames pass through unchanged.</summary>
    Off,

    /// <summary>
    /// Exponential moving average with the previous output at the same place, weighted down where the input
    /// changed. No motion compensation: cheap, but moving edges blend less (they fail the input check).
    /// </summary>
    Ema,

    /// <summary>
    /// The previous output is warped along the optical flow of the input frames and blended where the flow
    /// is trustworthy (forward–backward consistent and photometrically consistent).
    /// </summary>
    Flow,
}

/// <summary>Settings of a <see cref="TemporalFilter"/>.</summary>
public sealed record TemporalOptions
{
    /// <summary>Filter mode.</summary>
    public TemporalMode Mode { get; init; } = TemporalMode.Flow;

    /// <summary>
    /// Largest weight of the (warped) previous output in [0, 1); 0 disables blending. Higher removes more
    /// flicker; at 0.8 a static pixel keeps about 5 frames of memory.
    /// </summary>
    public double Strength { get; init; } = 0.8;

    /// <summary>
    /// Approximate width of the grey image optical flow is computed on (the frame is box-averaged by an
    /// integer factor); null (the default) picks <see cref="AutoFlowWidth"/>: a quarter of the frame width,
    /// at least <see cref="MinimumAutoFlowWidth"/>.
    /// </summary>
    public int? FlowWidth { get; init; }

    /// <summary>Smallest flow width the automatic choice uses (160 at 640×360 is a quarter of the frame).</summary>
    public const int MinimumAutoFlowWidth = 160;

    /// <summary>
    /// The flow width for frames <paramref name="frameWidth"/> wide: <see cref="FlowWidth"/> when set, else a
    /// quarter of the frame width, at least <see cref="MinimumAutoFlowWidth"/>, so the flow keeps the same share of
    /// the frame at every size; a fixed width would be too coarse on large frames for the filter to follow fine motion.
    /// </summary>
    public int AutoFlowWidth(int frameWidth) => FlowWidth ?? Math.Max(MinimumAutoFlowWidth, frameWidth / 4);

    /// <summary>
    /// Grey-level difference (0–255, on the flow image) between the input and the motion-compensated previous
    /// input up to which the history is fully trusted; trust falls to 0 at three times this. Larger values
    /// smooth more where the scene really changes (smoke, water), at the risk of trails.
    /// </summary>
    public double Tolerance { get; init; } = 20;

    /// <summary>
    /// In <see cref="TemporalMode.Flow"/>, the same check at full size: grey-level difference (averaged over
    /// 3×3 pixels) between the input and the previous input warped along the flow, up to which the history is
    /// fully trusted (trust 0 at three times this). It catches what the check on the small flow image averages
    /// away: a thin part that moved (a leg, an arm, the edge of a sign) where the warped history would be
    /// blended over something new, the ghosting of moving objects. Lower is crisper, higher smooths more; 0 turns
    /// the check off (the filter before it, for comparisons).
    /// </summary>
    public double FineTolerance { get; init; } = 12;

    /// <summary>
    /// In <see cref="TemporalMode.Flow"/>, each channel of the warped history is clamped to the minimum and
    /// maximum of the new stylized frame within this many pixels before blending; 0 turns the clamp off, and
    /// null (the default) uses half the flow's downscale factor (2 at 640×360), the size of the flow's own
    /// error. Stops trails where the flow is wrong, at the cost of keeping flicker larger than the local
    /// contrast.
    /// </summary>
    public int? ClampRadius { get; init; }

    /// <summary>
    /// Levels (0–255) by which the clamp range is widened each way: flicker smaller than this is smoothed
    /// even in flat areas, where the new frame's local range is nearly empty; a colour further away than
    /// this from everything nearby (dark ink over a light wall) is still stopped.
    /// </summary>
    public int ClampMargin { get; init; } = 48;
    /// <summary>
    /// Fraction of pixels whose history is unusable (occluded or changed) above which the frame is treated
    /// as a scene cut and the filter resets.
    /// </summary>
    public double SceneCutFraction { get; init; } = 0.6;

    /// <summary>The default: no filtering.</summary>
    public static TemporalOptions Disabled { get; } = new() { Mode = TemporalMode.Off };

    /// <summary>Parses <c>off</c>, <c>ema</c> or <c>flow</c>.</summary>
    public static TemporalMode ParseMode(string text) => text.Trim().ToLowerInvariant() switch
    {
        "off" => TemporalMode.Off,
        "ema" => TemporalMode.Ema,
        "flow" => TemporalMode.Flow,
        _ => throw new VideoException($"--temporal '{text}' is not one of off, ema, flow"),
    };

    /// <summary>Throws a <see cref="VideoException"/> with a one-line message when a setting is out of range.</summary>
    public void Validate()
    {
        if (!(Strength >= 0 && Strength < 1))
        {
            throw new VideoException($"--temporal-strength {Strength} is out of range [0, 1)");
        }

        if (FlowWidth is { } fw && fw is < 16 or > 4096)
        {
            throw new VideoException($"temporal flow width {FlowWidth} is out of range [16, 4096]");
        }

        if (!(Tolerance > 0 && Tolerance <= 255))
        {
            throw new VideoException($"temporal tolerance {Tolerance} is out of range (0, 255]");
        }

        if (!(FineTolerance >= 0 && FineTolerance <= 85))
        {
            throw new VideoException($"temporal fine tolerance {FineTolerance} is out of range [0, 85]");
        }

        if (ClampRadius is { } r && r is < 0 or > 8)
        {
            throw new VideoException($"temporal clamp radius {ClampRadius} is out of range [0, 8]");
        }

        if (ClampMargin is < 0 or > 255)
        {
            throw new VideoException($"temporal clamp margin {ClampMargin} is out of range [0, 255]");
        }

        if (!(SceneCutFraction > 0 && SceneCutFraction <= 1))
        {
            throw new VideoException($"temporal scene-cut fraction {SceneCutFraction} is out of range (0, 1]");
        }
    }
}
