using Video.Capture;

namespace Video.Inference.Tests.Temporal;

/// <summary>Synthetic scenes for the temporal tests: a smooth random texture, panned, with optional flicker.</summary>
internal static class TemporalFixtures
{
    /// <summary>A smooth RGB texture (blurred noise, so flow has structure at several scales).</summary>
    public static byte[] Texture(int width, int height, int seed)
    {
        var random = new Random(seed);
        var coarse = new byte[((width / 4) + 2) * ((height / 4) + 2) * 3];
        random.NextBytes(coarse);
        int cw = (width / 4) + 2;
        var texture = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                // Bilinear upsampling of coarse noise plus a little fine noise.
                float fx = x / 4f, fy = y / 4f;
                int x0 = (int)fx, y0 = (int)fy;
                float ax = fx - x0, ay = fy - y0;
                for (int c = 0; c < 3; c++)
                {
                    float v00 = coarse[(((y0 * cw) + x0) * 3) + c], v01 = coarse[(((y0 * cw) + x0 + 1) * 3) + c];
                    float v10 = coarse[((((y0 + 1) * cw) + x0) * 3) + c], v11 = coarse[((((y0 + 1) * cw) + x0 + 1) * 3) + c];
                    float v = ((1 - ay) * (((1 - ax) * v00) + (ax * v01))) + (ay * (((1 - ax) * v10) + (ax * v11)));
                    texture[(((y * width) + x) * 3) + c] = (byte)Math.Clamp(v + random.Next(-8, 9), 0, 255);
                }
            }
        }

        return texture;
    }

    /// <summary>Frame <paramref name="index"/> of a view of <paramref name="texture"/> panned by (dx, dy) pixels per frame.</summary>
    public static Frame Pan(FrameAllocator allocator, byte[] texture, int textureWidth, int width, int height, int index, int dx, int dy, int startX = 0, int startY = 0)
    {
        var frame = allocator.AllocateFrame(width, height);
        frame.Index = index;
        int ox = startX + (index * dx), oy = startY + (index * dy);
        for (int y = 0; y < height; y++)
        {
            texture.AsSpan((((y + oy) * textureWidth) + ox) * 3, width * 3).CopyTo(frame.Row(y));
        }

        return frame;
    }

    /// <summary>A copy of <paramref name="frame"/> with <paramref name="offset"/> added to every byte (global flicker), plus optional per-pixel noise.</summary>
    public static Frame Flicker(FrameAllocator allocator, Frame frame, int offset, Random? noise = null, int noiseAmplitude = 0)
    {
        var copy = allocator.AllocateFrame(frame.Width, frame.Height);
        copy.Index = frame.Index;
        var src = frame.Pixels;
        var dst = copy.Pixels;
        for (int i = 0; i < src.Length; i++)
        {
            int n = noise is null ? 0 : noise.Next(-noiseAmplitude, noiseAmplitude + 1);
            dst[i] = (byte)Math.Clamp(src[i] + offset + n, 0, 255);
        }

        return copy;
    }

    public static Frame Copy(FrameAllocator allocator, Frame frame)
    {
        var copy = allocator.AllocateFrame(frame.Width, frame.Height);
        copy.Index = frame.Index;
        frame.Pixels.CopyTo(copy.Pixels);
        return copy;
    }
}
