using Video.Capture;

namespace Video.Evaluation;

/// <summary>Flicker figures of one original clip and its stylized versions.</summary>
public sealed record FlickerReport(
    string Original,
    string Stylized,
    string? Versus,
    int Width,
    int Height,
    int Pairs,
    double OriginalWarpError,
    double StylizedWarpError,
    double? VersusWarpError,
    double VisibleFraction)
{
    /// <summary>Pairs left out as scene cuts.</summary>
    public int Cuts { get; init; }

    /// <summary>Per-pair figures, for <c>--pairs</c>.</summary>
    public IReadOnlyList<FlickerPair> PairDetails { get; init; } = [];

    /// <summary>E_warp of the stylized clip divided by that of <see cref="Versus"/>.</summary>
    public double? Ratio => VersusWarpError is { } v && v > 0 ? StylizedWarpError / v : null;
}

/// <summary>E_warp of an original and several versions of it, measured in one pass (<c>WarpErrors</c> in the order the versions were given).</summary>
public sealed record FlickerMeasurement(int Width, int Height, int Pairs, int Cuts, double OriginalWarpError, IReadOnlyList<double> WarpErrors, double VisibleFraction, IReadOnlyList<FlickerPair> PairDetails);

/// <summary>
/// Flicker of stylized clips as E_warp (Lai et al. 2018) next to the original's own, read from files: the measurement
/// behind <c>video eval flicker</c> and the flicker table.
/// </summary>
/// <remarks>Stateless; each call opens its own sources and a <see cref="FlickerMeter"/>.</remarks>
public static class Flicker
{
    /// <summary>Measures E_warp of the original and the stylized versions, reading the clips in lockstep.</summary>
    public static async Task<FlickerReport> ReportAsync(string original, string stylized, string? versus, int flowWidth, CancellationToken cancellationToken, long? maxFrames = null, double cutError = FlickerMeter.DefaultCutError, bool motionBoundaries = true, FrameAllocator? allocator = null)
    {
        string[] versions = versus is null ? [stylized] : [stylized, versus];
        var m = await MeasureAsync(original, versions, flowWidth, maxFrames, cutError, cancellationToken, motionBoundaries, allocator).ConfigureAwait(false);
        return new FlickerReport(original, stylized, versus, m.Width, m.Height, m.Pairs, m.OriginalWarpError, m.WarpErrors[0], versus is null ? null : m.WarpErrors[1], m.VisibleFraction)
        {
            Cuts = m.Cuts,
            PairDetails = m.PairDetails,
        };
    }

    /// <summary>
    /// Measures E_warp of <paramref name="original"/> and of each clip in <paramref name="versions"/> (all of
    /// one size and frame count), reading them in lockstep; with <paramref name="maxFrames"/>, only the first
    /// that many frames of each. <paramref name="motionBoundaries"/> false masks occlusions only (the metric
    /// before motion boundaries were masked too).
    /// </summary>
    public static async Task<FlickerMeasurement> MeasureAsync(string original, IReadOnlyList<string> versions, int flowWidth, long? maxFrames, double cutError, CancellationToken cancellationToken, bool motionBoundaries = true, FrameAllocator? allocator = null)
    {
        if (maxFrames is < 2)
        {
            throw new VideoException($"--frames {maxFrames} is out of range: flicker needs at least 2 frames");
        }

        if (flowWidth is < 32 or > 8192)
        {
            throw new VideoException($"--flow-width {flowWidth} is out of range [32, 8192]");
        }

        string[] paths = [original, .. versions];
        foreach (var p in paths)
        {
            MediaProbe.CheckReadable(p);
        }

        var sources = new List<IFrameSource>();
        var pools = new List<FramePool>();
        var readers = new List<IAsyncEnumerator<Frame>>();
        try
        {
            foreach (var p in paths)
            {
                sources.Add(await FrameSources.OpenAsync(p, null, cancellationToken).ConfigureAwait(false));
            }

            var info = sources[0].Info;
            for (int i = 1; i < paths.Length; i++)
            {
                var other = sources[i].Info;
                if (other.Width != info.Width || other.Height != info.Height)
                {
                    throw new VideoException($"{paths[i]} is {other.Width}x{other.Height} but {original} is {info.Width}x{info.Height}; E_warp compares frames of one size");
                }
            }

            foreach (var _ in paths)
            {
                pools.Add((allocator ?? FrameAllocator.Default).CreatePool(info.Width, info.Height, PixelFormat.Rgb24, 2));
            }

            for (int i = 0; i < paths.Length; i++)
            {
                readers.Add(sources[i].ReadAllAsync(pools[i], cancellationToken).GetAsyncEnumerator(cancellationToken));
            }

            using var meter = new FlickerMeter(info.Width, info.Height, paths.Length - 1, flowWidth, cutError) { MotionBoundaries = motionBoundaries };
            var frames = new Frame?[paths.Length];
            var versionFrames = new Frame[paths.Length - 1];
            long count = 0;
            while (maxFrames is null || count < maxFrames)
            {
                try
                {
                    for (int i = 0; i < paths.Length; i++)
                    {
                        frames[i] = await readers[i].MoveNextAsync().ConfigureAwait(false) ? readers[i].Current : null;
                    }

                    int ended = frames.Count(f => f is null);
                    if (ended == paths.Length)
                    {
                        break;
                    }

                    if (ended > 0)
                    {
                        string shorter = paths[Array.FindIndex(frames, f => f is null)];
                        string longer = paths[Array.FindIndex(frames, f => f is not null)];
                        throw new VideoException($"{shorter} has {count} frames but {longer} has more; E_warp compares clips frame for frame");
                    }

                    for (int i = 1; i < paths.Length; i++)
                    {
                        versionFrames[i - 1] = frames[i]!;
                    }

                    meter.Push(frames[0]!, versionFrames);
                    count++;
                }
                finally
                {
                    for (int i = 0; i < frames.Length; i++)
                    {
                        frames[i]?.Dispose();
                        frames[i] = null;
                    }
                }
            }

            if (meter.Pairs + meter.Cuts < 1)
            {
                throw new VideoException($"{original} has fewer than 2 frames; flicker needs consecutive frames");
            }

            if (meter.Pairs < 1)
            {
                throw new VideoException($"every frame pair of {original} is a scene cut; nothing to measure");
            }

            return new FlickerMeasurement(
                info.Width,
                info.Height,
                meter.Pairs,
                meter.Cuts,
                meter.OriginalWarpError,
                Enumerable.Range(0, versions.Count).Select(meter.WarpError).ToList(),
                meter.MeanVisibleFraction,
                meter.PairDetails.ToList());
        }
        finally
        {
            foreach (var r in readers)
            {
                await r.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var s in sources)
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var p in pools)
            {
                p.Dispose();
            }
        }
    }
}
