using System.Buffers;
using System.Runtime.CompilerServices;
using OpenCvSharp;
using Video.Capture;

namespace Video.Inference.Internal;

/// <summary>
/// Converts between RGB24 frames and float image tensors: resampling, channel order, layout and value range. At the
/// tensor's own size it is one pass. Between sizes, NCHW tensors are resampled by OpenCV (SIMD, area when shrinking,
/// bilinear when growing) through a pooled byte buffer; other layouts take one scalar bilinear pass.
/// </summary>
/// <remarks>Immutable after construction; thread safe.</remarks>
internal sealed class ImageTensorCodec
{
    private readonly TensorSpec _spec;
    private readonly int _frameWidth;
    private readonly int _frameHeight;
    private readonly int _tensorWidth;
    private readonly int _tensorHeight;
    private readonly Axis _encodeX;
    private readonly Axis _encodeY;
    private readonly Axis _decodeX;
    private readonly Axis _decodeY;

    public ImageTensorCodec(TensorSpec spec, int frameWidth, int frameHeight, int tensorWidth, int tensorHeight)
    {
        _spec = spec;
        _frameWidth = frameWidth;
        _frameHeight = frameHeight;
        _tensorWidth = tensorWidth;
        _tensorHeight = tensorHeight;
        _encodeX = new Axis(frameWidth, tensorWidth);
        _encodeY = new Axis(frameHeight, tensorHeight);
        _decodeX = new Axis(tensorWidth, frameWidth);
        _decodeY = new Axis(tensorHeight, frameHeight);
    }

    public int TensorWidth => _tensorWidth;

    public int TensorHeight => _tensorHeight;

    private bool SameSize => _frameWidth == _tensorWidth && _frameHeight == _tensorHeight;

    public long[] Shape => _spec.Layout == TensorLayout.NCHW ? [1, 3, _tensorHeight, _tensorWidth] : [1, _tensorHeight, _tensorWidth, 3];

    /// <summary>Writes <paramref name="frame"/> into <paramref name="tensor"/> (frame size to tensor size).</summary>
    public void Encode(Frame frame, Span<float> tensor)
    {
        int w = _tensorWidth, h = _tensorHeight, plane = w * h;
        float scale = (_spec.Range[1] - _spec.Range[0]) / 255f, offset = _spec.Range[0];
        bool nchw = _spec.Layout == TensorLayout.NCHW;
        bool swap = _spec.ColorOrder == ColorOrder.BGR;
        ReadOnlySpan<byte> pixels = frame.Pixels;
        int stride = frame.Stride;
        if (SameSize && nchw && stride == w * 3)
        {
            // The common case (dynamic models at frame size): no resampling, just deinterleave and scale.
            Deinterleave(pixels, tensor, plane, scale, offset, swap);
            return;
        }

        if (nchw)
        {
            byte[] small = ArrayPool<byte>.Shared.Rent(plane * 3);
            try
            {
                using var pin = small.AsMemory().Pin();
                using (var src = FrameMats.Wrap(frame))
                using (var dst = Wrap(pin, w, h))
                {
                    bool shrinking = w <= _frameWidth && h <= _frameHeight;
                    Cv2.Resize(src, dst, new Size(w, h), interpolation: shrinking ? InterpolationFlags.Area : InterpolationFlags.Linear);
                }

                Deinterleave(small.AsSpan(0, plane * 3), tensor, plane, scale, offset, swap);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(small);
            }

            return;
        }

        for (int y = 0; y < h; y++)
        {
            var ay = _encodeY.At(y);
            int row0 = ay.I0 * stride, row1 = ay.I1 * stride;
            for (int x = 0; x < w; x++)
            {
                var ax = _encodeX.At(x);
                int c00 = row0 + ax.I0 * 3, c01 = row0 + ax.I1 * 3, c10 = row1 + ax.I0 * 3, c11 = row1 + ax.I1 * 3;
                for (int c = 0; c < 3; c++)
                {
                    float top = pixels[c00 + c] + ((pixels[c01 + c] - pixels[c00 + c]) * ax.W);
                    float bottom = pixels[c10 + c] + ((pixels[c11 + c] - pixels[c10 + c]) * ax.W);
                    float v = ((top + ((bottom - top) * ay.W)) * scale) + offset;
                    int tc = swap ? 2 - c : c;
                    tensor[nchw ? (tc * plane) + (y * w) + x : (((y * w) + x) * 3) + tc] = v;
                }
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="tensor"/> (tensor size) back into <paramref name="frame"/> (frame size). With
    /// <paramref name="preserveColor"/>, only the tensor's luminance is used and each pixel keeps the frame's
    /// own chrominance (BT.601 YUV), which works in place because a pixel is read before it is written. With
    /// <paramref name="restoreDetail"/> and a tensor smaller than the frame, the luma detail that shrinking the frame
    /// to the tensor's size removed (frame − its own shrunk and regrown copy) is added to the regrown output, so the
    /// output keeps the frame's sharpness (the fast models' own detail-restoring upsample, at the frame's scale).
    /// </summary>
    public void Decode(ReadOnlySpan<float> tensor, Frame frame, bool preserveColor = false, bool restoreDetail = false)
    {
        int w = _tensorWidth, plane = _tensorWidth * _tensorHeight;
        float scale = 255f / (_spec.Range[1] - _spec.Range[0]), offset = _spec.Range[0];
        bool nchw = _spec.Layout == TensorLayout.NCHW;
        bool swap = _spec.ColorOrder == ColorOrder.BGR;
        Span<byte> pixels = frame.Pixels;
        int stride = frame.Stride;
        if (SameSize && nchw && !preserveColor && stride == w * 3)
        {
            Interleave(tensor, pixels, plane, scale, offset, swap);

            return;
        }

        if (nchw && !preserveColor)
        {
            DecodeResampled(tensor, frame, scale, offset, swap, restoreDetail);
            return;
        }

        Span<float> rgb = stackalloc float[3];
        for (int y = 0; y < _frameHeight; y++)
        {
            var ay = _decodeY.At(y);
            int r0 = ay.I0 * w, r1 = ay.I1 * w;
            int dst = y * stride;
            for (int x = 0; x < _frameWidth; x++)
            {
                var ax = _decodeX.At(x);
                for (int c = 0; c < 3; c++)
                {
                    int tc = swap ? 2 - c : c;
                    float v00 = At(tensor, nchw, tc, plane, r0 + ax.I0), v01 = At(tensor, nchw, tc, plane, r0 + ax.I1);
                    float v10 = At(tensor, nchw, tc, plane, r1 + ax.I0), v11 = At(tensor, nchw, tc, plane, r1 + ax.I1);
                    float top = v00 + ((v01 - v00) * ax.W);
                    float bottom = v10 + ((v11 - v10) * ax.W);
                    rgb[c] = ((top + ((bottom - top) * ay.W)) - offset) * scale;
                }

                var px = pixels.Slice(dst + (x * 3), 3);
                if (preserveColor)
                {
                    float styledY = (0.299f * rgb[0]) + (0.587f * rgb[1]) + (0.114f * rgb[2]);
                    float ownY = (0.299f * px[0]) + (0.587f * px[1]) + (0.114f * px[2]);
                    float shift = styledY - ownY;
                    rgb[0] = px[0] + shift;
                    rgb[1] = px[1] + shift;
                    rgb[2] = px[2] + shift;
                }

                px[0] = ToByte(rgb[0]);
                px[1] = ToByte(rgb[1]);
                px[2] = ToByte(rgb[2]);
            }
        }
    }

    /// <summary>Interleaved RGB bytes (contiguous, tensor size) → NCHW floats.</summary>
    private static void Deinterleave(ReadOnlySpan<byte> pixels, Span<float> tensor, int plane, float scale, float offset, bool swap)
    {
        var r = tensor.Slice(swap ? 2 * plane : 0, plane);
        var g = tensor.Slice(plane, plane);
        var b = tensor.Slice(swap ? 0 : 2 * plane, plane);
        for (int i = 0, p = 0; i < plane; i++, p += 3)
        {
            r[i] = (pixels[p] * scale) + offset;
            g[i] = (pixels[p + 1] * scale) + offset;
            b[i] = (pixels[p + 2] * scale) + offset;
        }
    }

    /// <summary>NCHW floats → interleaved RGB bytes (contiguous, tensor size): <see cref="Deinterleave"/> backwards.</summary>
    private static void Interleave(ReadOnlySpan<float> tensor, Span<byte> pixels, int plane, float scale, float offset, bool swap)
    {
        var r = tensor.Slice(swap ? 2 * plane : 0, plane);
        var g = tensor.Slice(plane, plane);
        var b = tensor.Slice(swap ? 0 : 2 * plane, plane);
        for (int i = 0, p = 0; i < plane; i++, p += 3)
        {
            pixels[p] = ToByte((r[i] - offset) * scale);
            pixels[p + 1] = ToByte((g[i] - offset) * scale);
            pixels[p + 2] = ToByte((b[i] - offset) * scale);
        }
    }

    /// <summary>NCHW tensor → tensor-size RGB bytes → the frame's size by OpenCV, with the frame's own luma detail added back when asked.</summary>
    private void DecodeResampled(ReadOnlySpan<float> tensor, Frame frame, float scale, float offset, bool swap, bool restoreDetail)
    {
        int w = _tensorWidth, h = _tensorHeight, plane = w * h;
        var pool = ArrayPool<byte>.Shared;
        byte[] small = pool.Rent(plane * 3);
        try
        {
            Interleave(tensor, small.AsSpan(0, plane * 3), plane, scale, offset, swap);

            var size = new Size(frame.Width, frame.Height);
            using var smallPin = small.AsMemory().Pin();
            using var output = Wrap(smallPin, w, h);
            using var target = FrameMats.Wrap(frame);
            if (!restoreDetail || w >= frame.Width || h >= frame.Height)
            {
                Cv2.Resize(output, target, size, interpolation: InterpolationFlags.Linear);
                return;
            }

            // detail = Y(frame) − grow(shrink(Y(frame))), in 16 bits; the output is grow(stylized) + detail on every channel.
            using var grown = new Mat();
            using var luma = new Mat();
            using var lumaSmall = new Mat();
            using var lumaBlurred = new Mat();
            using var detail = new Mat();
            using var detail3 = new Mat();
            Cv2.Resize(output, grown, size, interpolation: InterpolationFlags.Linear);
            Cv2.CvtColor(target, luma, ColorConversionCodes.RGB2GRAY);
            Cv2.Resize(luma, lumaSmall, new Size(w, h), interpolation: InterpolationFlags.Area);
            Cv2.Resize(lumaSmall, lumaBlurred, size, interpolation: InterpolationFlags.Linear);
            Cv2.Subtract(luma, lumaBlurred, detail, null, MatType.CV_16S);
            Cv2.Merge([detail, detail, detail], detail3);
            Cv2.Add(grown, detail3, target, null, MatType.CV_8U);
        }
        finally
        {
            pool.Return(small);
        }
    }

    /// <summary>A <see cref="Mat"/> header over pinned memory (contiguous RGB, <paramref name="w"/>×<paramref name="h"/>); dispose it before the pin.</summary>
    private static unsafe Mat Wrap(MemoryHandle pinned, int w, int h) => Mat.FromPixelData(h, w, MatType.CV_8UC3, (nint)pinned.Pointer, w * 3);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte ToByte(float v) => v <= 0f ? (byte)0 : v >= 255f ? (byte)255 : (byte)(v + 0.5f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float At(ReadOnlySpan<float> t, bool nchw, int c, int plane, int pixel) => nchw ? t[(c * plane) + pixel] : t[(pixel * 3) + c];

    /// <summary>Bilinear taps along one axis, half-pixel centres, edges clamped.</summary>
    private sealed class Axis
    {
        private readonly Tap[] _taps;

        public Axis(int sourceLength, int targetLength)
        {
            _taps = new Tap[targetLength];
            double ratio = (double)sourceLength / targetLength;
            for (int i = 0; i < targetLength; i++)
            {
                double s = Math.Clamp(((i + 0.5) * ratio) - 0.5, 0, sourceLength - 1);
                int i0 = (int)Math.Floor(s);
                int i1 = Math.Min(i0 + 1, sourceLength - 1);
                _taps[i] = new Tap(i0, i1, (float)(s - i0));
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Tap At(int i) => _taps[i];
    }

    private readonly record struct Tap(int I0, int I1, float W);
}
