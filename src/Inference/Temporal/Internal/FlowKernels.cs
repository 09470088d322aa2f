using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Video.Inference.Temporal.Internal;

/// <summary>Per-pixel loops of the temporal filter and the flicker metric (allocation free, scalar).</summary>
internal static class FlowKernels
{
    /// <summary>Integer factor that brings <paramref name="width"/> closest to <paramref name="targetWidth"/> (at least 1).</summary>
    public static int DownscaleFactor(int width, int targetWidth) => Math.Max(1, (int)Math.Round(width / (double)targetWidth));

    /// <summary>
    /// Box-averages an RGB24 image by <paramref name="factor"/> in each direction into 8-bit luma (BT.601
    /// weights). Pixels beyond the last whole block are ignored. <paramref name="rowSums"/> needs
    /// <paramref name="dstWidth"/> elements. When <paramref name="fullGrey"/> is not empty, the luma of every
    /// pixel of the <paramref name="fullWidth"/> × <paramref name="fullHeight"/> image is also written there
    /// (same weights, rounded), in the same pass.
    /// </summary>
    public static void DownscaleToGrey(ReadOnlySpan<byte> rgb, int stride, int factor, Span<byte> grey, int dstWidth, int dstHeight, Span<int> rowSums, Span<byte> fullGrey = default, int fullWidth = 0, int fullHeight = 0)
    {
        int area = factor * factor;
        int half = (area << 8) / 2;
        bool full = !fullGrey.IsEmpty;
        for (int y = 0; y < dstHeight; y++)
        {
            rowSums[..dstWidth].Clear();
            for (int dy = 0; dy < factor; dy++)
            {
                int sy = (y * factor) + dy;
                var row = rgb.Slice(sy * stride, dstWidth * factor * 3);
                int i = 0;
                if (full)
                {
                    var fullRow = fullGrey.Slice(sy * fullWidth, fullWidth);

                    // Without bounds checks (the slices above are checked once): this loop sees every pixel.
                    ref byte src = ref MemoryMarshal.GetReference(row);
                    ref byte out0 = ref MemoryMarshal.GetReference(fullRow[..(dstWidth * factor)]);
                    for (int x = 0, p = 0; x < dstWidth; x++)
                    {
                        int s = 0;
                        for (int k = 0; k < factor; k++, i += 3, p++)
                        {
                            int l = (77 * Unsafe.Add(ref src, i)) + (150 * Unsafe.Add(ref src, i + 1)) + (29 * Unsafe.Add(ref src, i + 2));
                            Unsafe.Add(ref out0, p) = (byte)((l + 128) >> 8);
                            s += l;
                        }

                        rowSums[x] += s;
                    }

                    if (fullWidth > dstWidth * factor)
                    {
                        int done = dstWidth * factor;
                        ToGrey(rgb.Slice((sy * stride) + (done * 3)), stride, fullWidth - done, 1, fullRow[done..]);
                    }

                    continue;
                }

                for (int x = 0; x < dstWidth; x++)
                {
                    int s = 0;
                    for (int k = 0; k < factor; k++, i += 3)
                    {
                        s += (77 * row[i]) + (150 * row[i + 1]) + (29 * row[i + 2]);
                    }

                    rowSums[x] += s;
                }
            }

            var dst = grey.Slice(y * dstWidth, dstWidth);
            for (int x = 0; x < dstWidth; x++)
            {
                dst[x] = (byte)((rowSums[x] + half) / (area << 8));
            }
        }

        if (full && fullHeight > dstHeight * factor)
        {
            int done = dstHeight * factor;
            ToGrey(rgb.Slice(done * stride), stride, fullWidth, fullHeight - done, fullGrey[(done * fullWidth)..]);
        }
    }

    /// <summary>Box-averages an 8-bit grey image by <paramref name="factor"/> (1: a copy) into <paramref name="destination"/>.</summary>
    public static void Halve(ReadOnlySpan<byte> grey, int width, int height, int factor, Span<byte> destination)
    {
        if (factor == 1)
        {
            grey.CopyTo(destination);
            return;
        }

        int dw = width / factor, dh = height / factor, area = factor * factor;
        for (int y = 0; y < dh; y++)
        {
            for (int x = 0; x < dw; x++)
            {
                int s = 0;
                for (int dy = 0; dy < factor; dy++)
                {
                    var row = grey.Slice((((y * factor) + dy) * width) + (x * factor), factor);
                    foreach (byte b in row)
                    {
                        s += b;
                    }
                }

                destination[(y * dw) + x] = (byte)((s + (area / 2)) / area);
            }
        }
    }

    /// <summary>
    /// The remap at the flow's size: for each flow pixel j, where its centre lands in the full-size previous
    /// frame, (j + ½)·s − ½ + s·b(j) with s = full size / flow size per axis. Upsampled bilinearly (as
    /// <c>Cv2.Resize</c> does, centres aligned) this is exactly x + s·b at full size, except in the outer
    /// pixels where the resize replicates the edge (<see cref="FixMapBorders"/>).
    /// </summary>
    public static void LowResolutionMap(ReadOnlySpan<float> flow, int width, int height, int fullWidth, int fullHeight, Span<float> map)
    {
        float sx = fullWidth / (float)width, sy = fullHeight / (float)height;
        for (int y = 0, i = 0; y < height; y++)
        {
            float gy = ((y + 0.5f) * sy) - 0.5f;
            for (int x = 0; x < width; x++, i += 2)
            {
                map[i] = ((x + 0.5f) * sx) - 0.5f + (sx * flow[i]);
                map[i + 1] = gy + (sy * flow[i + 1]);
            }
        }
    }

    /// <summary>
    /// Corrects the identity part of an upsampled <see cref="LowResolutionMap"/> in the border pixels, where the
    /// bilinear resize clamps to the outermost flow pixel (up to half a flow pixel on each side).
    /// </summary>
    public static void FixMapBorders(Span<float> map, int width, int height, int fullWidth, int fullHeight)
    {
        float sx = fullWidth / (float)width, sy = fullHeight / (float)height;
        for (int x = 0; x < fullWidth; x++)
        {
            float fix = BorderFix(x, sx, width);
            if (fix != 0)
            {
                for (int y = 0; y < fullHeight; y++)
                {
                    map[2 * ((y * fullWidth) + x)] += fix;
                }
            }
            else if (x < fullWidth / 2)
            {
                x = Math.Max(x, fullWidth - 1 - (int)MathF.Ceiling(sx)); // skip the interior
            }
        }

        for (int y = 0; y < fullHeight; y++)
        {
            float fix = BorderFix(y, sy, height);
            if (fix != 0)
            {
                var row = map.Slice(2 * y * fullWidth, 2 * fullWidth);
                for (int i = 1; i < row.Length; i += 2)
                {
                    row[i] += fix;
                }
            }
            else if (y < fullHeight / 2)
            {
                y = Math.Max(y, fullHeight - 1 - (int)MathF.Ceiling(sy));
            }
        }
    }

    // What the clamped resize got wrong at full-size coordinate v (0 inside): the source coordinate of v was
    // clamped to the first or last flow pixel, whose identity part is (c + ½)·s − ½.
    private static float BorderFix(int v, float s, int size)
    {
        float c = ((v + 0.5f) / s) - 0.5f;
        if (c >= 0 && c <= size - 1)
        {
            return 0;
        }

        return v - (((Math.Clamp(c, 0, size - 1) + 0.5f) * s) - 0.5f);
    }

    /// <summary>Fills an interleaved (x, y) map with each pixel's own coordinates: the identity for <c>Cv2.Remap</c>, to which flow is added.</summary>
    public static void FillPixelGrid(Span<float> grid, int width, int height)
    {
        for (int y = 0, i = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++, i += 2)
            {
                grid[i] = x;
                grid[i + 1] = y;
            }
        }
    }

    /// <summary>Sets flow components whose magnitude is below <paramref name="threshold"/> to exactly 0.</summary>
    public static void SnapToZero(Span<float> flow, float threshold)
    {
        for (int i = 0; i < flow.Length; i++)
        {
            if (Math.Abs(flow[i]) < threshold)
            {
                flow[i] = 0;
            }
        }
    }

    /// <summary>Mean absolute difference of two equally sized 8-bit images.</summary>
    public static double MeanAbsDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        long sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += Math.Abs(a[i] - b[i]);
        }

        return a.Length == 0 ? 0 : sum / (double)a.Length;
    }

    /// <summary>Bilinear sample of an interleaved two-channel float field at (x, y), clamped to the border.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float U, float V) SampleFlow(ReadOnlySpan<float> flow, int width, int height, float x, float y)
    {
        x = Math.Clamp(x, 0, width - 1);
        y = Math.Clamp(y, 0, height - 1);
        int x0 = Math.Min((int)x, width - 2 < 0 ? 0 : width - 2);
        int y0 = Math.Min((int)y, height - 2 < 0 ? 0 : height - 2);
        int x1 = Math.Min(x0 + 1, width - 1);
        int y1 = Math.Min(y0 + 1, height - 1);
        float fx = x - x0, fy = y - y0;
        int i00 = ((y0 * width) + x0) * 2, i01 = ((y0 * width) + x1) * 2, i10 = ((y1 * width) + x0) * 2, i11 = ((y1 * width) + x1) * 2;
        float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
        return (
            (w00 * flow[i00]) + (w01 * flow[i01]) + (w10 * flow[i10]) + (w11 * flow[i11]),
            (w00 * flow[i00 + 1]) + (w01 * flow[i01 + 1]) + (w10 * flow[i10 + 1]) + (w11 * flow[i11 + 1]));
    }

    /// <summary>Bilinear sample of an 8-bit image at (x, y), clamped to the border.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SampleGrey(ReadOnlySpan<byte> image, int width, int height, float x, float y)
    {
        x = Math.Clamp(x, 0, width - 1);
        y = Math.Clamp(y, 0, height - 1);
        int x0 = Math.Min((int)x, width - 2 < 0 ? 0 : width - 2);
        int y0 = Math.Min((int)y, height - 2 < 0 ? 0 : height - 2);
        int x1 = Math.Min(x0 + 1, width - 1);
        int y1 = Math.Min(y0 + 1, height - 1);
        float fx = x - x0, fy = y - y0;
        float top = image[(y0 * width) + x0] + (fx * (image[(y0 * width) + x1] - image[(y0 * width) + x0]));
        float bottom = image[(y1 * width) + x0] + (fx * (image[(y1 * width) + x1] - image[(y1 * width) + x0]));
        return top + (fy * (bottom - top));
    }

    /// <summary>
    /// Forward–backward consistency (Sundaram et al. 2010): a pixel x of the current frame, with backward
    /// flow b(x) into the previous frame and forward flow f at x + b(x), is visible in both frames when
    /// |b + f|² ≤ 0.01·(|b|² + |f|²) + <paramref name="slack"/>, and lands inside the previous frame.
    /// Writes 1 for visible, 0 for occluded; returns the number of occluded pixels. The forward flow may be
    /// <paramref name="forwardFactor"/> times smaller than the backward one (both in their own pixels).
    /// </summary>
    public static int ConsistencyMask(ReadOnlySpan<float> backward, ReadOnlySpan<float> forward, int width, int height, float slack, Span<byte> visible, int forwardFactor = 1)
    {
        int fw = width / forwardFactor, fh = height / forwardFactor;
        float inv = 1f / forwardFactor;
        int occluded = 0;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = (y * width) + x;
                float bu = backward[2 * i], bv = backward[(2 * i) + 1];
                float px = x + bu, py = y + bv;
                bool ok = px >= -0.5f && py >= -0.5f && px <= width - 0.5f && py <= height - 0.5f;
                if (ok)
                {
                    var (fu, fv) = SampleFlow(forward, fw, fh, ((px + 0.5f) * inv) - 0.5f, ((py + 0.5f) * inv) - 0.5f);
                    fu *= forwardFactor;
                    fv *= forwardFactor;
                    float du = bu + fu, dv = bv + fv;
                    ok = (du * du) + (dv * dv) <= (0.01f * ((bu * bu) + (bv * bv) + (fu * fu) + (fv * fv))) + slack;
                }

                visible[i] = ok ? (byte)1 : (byte)0;
                occluded += ok ? 0 : 1;
            }
        }

        return occluded;
    }

    /// <summary>
    /// Zero-motion preference (see <see cref="StillScene"/>): sets the flow to 0 where it is shorter than
    /// <paramref name="maxLength"/> pixels and the 3×3 sum of |current − previous| in place is at most
    /// <paramref name="stillSum"/> and no larger than the same sum taken along the flow. Returns the number of
    /// pixels set to 0.
    /// </summary>
    public static int PreferZeroMotion(ReadOnlySpan<ushort> inPlaceSums, ReadOnlySpan<ushort> alongFlowSums, Span<float> backward, float maxLength, int stillSum)
    {
        int zeroed = 0;
        float max2 = maxLength * maxLength;
        for (int i = 0; i < inPlaceSums.Length; i++)
        {
            int still = inPlaceSums[i];
            if (still > stillSum || still > alongFlowSums[i])
            {
                continue;
            }

            float u = backward[2 * i], v = backward[(2 * i) + 1];
            if ((u != 0 || v != 0) && (u * u) + (v * v) < max2)
            {
                backward[2 * i] = 0;
                backward[(2 * i) + 1] = 0;
                zeroed++;
            }
        }

        return zeroed;
    }

    /// <summary>
    /// Motion boundaries (Ruder et al. 2016; the second half of Lai et al.'s occlusion mask): clears
    /// <paramref name="visible"/> where the backward flow changes fast, |∇u|² + |∇v|² &gt;
    /// 0.01·|b|² + 0.002, with forward differences (0 in the last column and row) and |b| in pixels of the
    /// full frame, <paramref name="scale"/> times the flow image's. The gradient is the same at either size
    /// (flow and distance scale together). Returns the number of pixels it cleared that were visible.
    /// </summary>
    public static int MotionBoundaryMask(ReadOnlySpan<float> backward, int width, int height, float scale, Span<byte> visible)
    {
        float relative = 0.01f * scale * scale;
        int cleared = 0;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = (y * width) + x;
                float u = backward[2 * i], v = backward[(2 * i) + 1];
                float ux = 0, vx = 0, uy = 0, vy = 0;
                if (x + 1 < width)
                {
                    ux = u - backward[2 * (i + 1)];
                    vx = v - backward[(2 * (i + 1)) + 1];
                }

                if (y + 1 < height)
                {
                    uy = u - backward[2 * (i + width)];
                    vy = v - backward[(2 * (i + width)) + 1];
                }

                float gradient = (ux * ux) + (uy * uy) + (vx * vx) + (vy * vy);
                if (visible[i] != 0 && gradient > (relative * ((u * u) + (v * v))) + 0.002f)
                {
                    visible[i] = 0;
                    cleared++;
                }
            }
        }

        return cleared;
    }

    /// <summary>
    /// Per-pixel blend weight (0–255) of the previous output: <paramref name="strength"/> where the pixel is
    /// visible and the input at x matches the previous input at x + b(x) (or at x when
    /// <paramref name="backward"/> is empty), falling to 0 as the grey difference grows from
    /// <paramref name="tolerance"/> to 3 × <paramref name="tolerance"/>. Returns the number of pixels
    /// whose weight is below a fifth of the strength (history unusable).
    /// </summary>
    public static int BlendWeights(ReadOnlySpan<byte> current, ReadOnlySpan<byte> previous, ReadOnlySpan<float> backward, ReadOnlySpan<byte> visible, int width, int height, float strength, float tolerance, Span<byte> weights)
    {
        int unusable = 0;
        float max = 255f * strength;
        float low = max / 5;
        bool warped = !backward.IsEmpty;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = (y * width) + x;
                float w = 0;
                if (!warped || visible[i] != 0)
                {
                    float before = warped ? SampleGrey(previous, width, height, x + backward[2 * i], y + backward[(2 * i) + 1]) : previous[i];
                    float e = Math.Abs(current[i] - before);
                    float trust = Math.Clamp(1.5f - (e / (2 * tolerance)), 0f, 1f);
                    w = max * trust;
                }

                weights[i] = (byte)(w + 0.5f);
                unusable += w < low ? 1 : 0;
            }
        }

        return unusable;
    }

    /// <summary>
    /// out = stylized + w·(history − stylized) per byte, with w = <paramref name="weights"/>/255 given per
    /// byte (one weight per channel: the per-pixel weight repeated for R, G and B), written into
    /// <paramref name="stylized"/>. When <paramref name="low"/> and <paramref name="high"/> are not empty,
    /// each history byte is first clamped to [low, high] (the minimum and maximum of the stylized frame
    /// around the pixel): the history can then only smooth values the new frame has nearby, never bring in a
    /// colour that is no longer there (a trail); <paramref name="margin"/> widens that range by so many levels
    /// each way, so that flicker in flat areas (where the range is nearly empty) is still smoothed. Vectorised; the same result as the scalar formula
    /// s + (((h − s)·w' + 128) >> 8) with w' = w + (w >> 7) in 0..256.
    /// </summary>
    public static void Blend(Span<byte> stylized, ReadOnlySpan<byte> history, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> low = default, ReadOnlySpan<byte> high = default, int margin = 0)
    {
        bool clamp = !low.IsEmpty;
        int n = weights.Length;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var round = new Vector<ushort>(128);
            var full = new Vector<ushort>(256);
            var m = new Vector<ushort>((ushort)margin);
            var m2 = new Vector<ushort>((ushort)(2 * margin));
            for (; i <= n - Vector<byte>.Count; i += Vector<byte>.Count)
            {
                var vs = new Vector<byte>(stylized[i..]);
                var vh = new Vector<byte>(history[i..]);
                Vector.Widen(vs, out var s0, out var s1);
                Vector.Widen(vh, out var h0, out var h1);
                if (clamp)
                {
                    // h into [low − margin, high + margin], shifted by +margin so nothing goes below 0.
                    Vector.Widen(new Vector<byte>(low[i..]), out var l0, out var l1);
                    Vector.Widen(new Vector<byte>(high[i..]), out var u0, out var u1);
                    h0 = Vector.Min(Vector.Max(h0 + m, l0), u0 + m2) - m;
                    h1 = Vector.Min(Vector.Max(h1 + m, l1), u1 + m2) - m;
                }

                Vector.Widen(new Vector<byte>(weights[i..]), out var w0, out var w1);
                w0 += Vector.ShiftRightLogical(w0, 7);
                w1 += Vector.ShiftRightLogical(w1, 7);

                // s·(256 − w) + h·w + 128 ≤ 65408: fits in 16 bits.
                var r0 = Vector.ShiftRightLogical((s0 * (full - w0)) + (h0 * w0) + round, 8);
                var r1 = Vector.ShiftRightLogical((s1 * (full - w1)) + (h1 * w1) + round, 8);
                Vector.Narrow(r0, r1).CopyTo(stylized[i..]);
            }
        }

        for (; i < n; i++)
        {
            int w = weights[i];
            w += w >> 7;
            int s = stylized[i];
            int h = clamp ? Math.Clamp(history[i], low[i] - margin, high[i] + margin) : history[i];
            stylized[i] = (byte)(s + ((((h - s) * w) + 128) >> 8));
        }
    }

    /// <summary>
    /// RGB24 to 8-bit luma (the BT.601 weights of <see cref="DownscaleToGrey"/>) at full size, into a
    /// continuous <paramref name="grey"/> of <paramref name="width"/> × <paramref name="height"/>.
    /// </summary>
    public static void ToGrey(ReadOnlySpan<byte> rgb, int stride, int width, int height, Span<byte> grey)
    {
        for (int y = 0; y < height; y++)
        {
            var row = rgb.Slice(y * stride, width * 3);
            var dst = grey.Slice(y * width, width);
            for (int x = 0, i = 0; x < dst.Length; x++, i += 3)
            {
                dst[x] = (byte)(((77 * row[i]) + (150 * row[i + 1]) + (29 * row[i + 2]) + 128) >> 8);
            }
        }
    }

    /// <summary>How many bytes are below <paramref name="threshold"/> (vectorised).</summary>
    public static int CountBelow(ReadOnlySpan<byte> values, byte threshold)
    {
        int n = values.Length;
        int i = 0;
        long count = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var t = new Vector<byte>(threshold);
            var one = Vector<byte>.One;
            while (i <= n - Vector<byte>.Count)
            {
                // Count in byte lanes for at most 255 vectors, then add them up.
                var acc = Vector<byte>.Zero;
                for (int k = 0; k < 255 && i <= n - Vector<byte>.Count; k++, i += Vector<byte>.Count)
                {
                    acc += Vector.LessThan(new Vector<byte>(values[i..]), t) & one;
                }

                Vector.Widen(acc, out var a0, out var a1);
                count += Vector.Sum(a0 + a1);
            }
        }

        for (; i < n; i++)
        {
            count += values[i] < threshold ? 1 : 0;
        }

        return (int)count;
    }

    /// <summary>|a − b| per byte (vectorised).</summary>
    public static void AbsDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> difference)
    {
        int n = difference.Length;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= n - Vector<byte>.Count; i += Vector<byte>.Count)
            {
                var va = new Vector<byte>(a[i..]);
                var vb = new Vector<byte>(b[i..]);
                (Vector.Max(va, vb) - Vector.Min(va, vb)).CopyTo(difference[i..]);
            }
        }

        for (; i < n; i++)
        {
            difference[i] = (byte)Math.Abs(a[i] - b[i]);
        }
    }

    /// <summary>
    /// Lowers each weight (0–255) in <paramref name="weights"/> to what the fine photometric check allows:
    /// 255·<paramref name="strength"/> while the grey difference between the input and the warped previous
    /// input (<paramref name="difference"/>) is at most <paramref name="tolerance"/> levels, falling linearly
    /// to 0 at 3 × <paramref name="tolerance"/> (the shape of <see cref="BlendWeights"/>). Vectorised.
    /// </summary>
    public static void LimitWeights(ReadOnlySpan<byte> difference, Span<byte> weights, float strength, float tolerance)
    {
        // w = min(255·S, (3T − d)·255·S/(2T)), in 1/16 steps: (3T − d)·k ≤ 24·255·S < 65536.
        int top = Math.Min(255, (int)MathF.Round(3 * tolerance));
        int k = Math.Max(1, (int)MathF.Round(16 * 255 * strength / (2 * tolerance)));
        int max = (int)((255 * strength) + 0.5f);
        int n = weights.Length;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vTop = new Vector<ushort>((ushort)top);
            var vK = new Vector<ushort>((ushort)k);
            var vMax = new Vector<ushort>((ushort)max);
            for (; i <= n - Vector<byte>.Count; i += Vector<byte>.Count)
            {
                Vector.Widen(new Vector<byte>(difference[i..]), out var d0, out var d1);
                Vector.Widen(new Vector<byte>(weights[i..]), out var w0, out var w1);
                var f0 = Vector.Min(vMax, Vector.ShiftRightLogical((vTop - Vector.Min(d0, vTop)) * vK, 4));
                var f1 = Vector.Min(vMax, Vector.ShiftRightLogical((vTop - Vector.Min(d1, vTop)) * vK, 4));
                Vector.Narrow(Vector.Min(w0, f0), Vector.Min(w1, f1)).CopyTo(weights[i..]);
            }
        }

        for (; i < n; i++)
        {
            int d = difference[i];
            int f = Math.Min(max, ((top - Math.Min(d, top)) * k) >> 4);
            weights[i] = (byte)Math.Min(weights[i], f);
        }
    }
}
