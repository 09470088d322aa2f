using Video.Capture;
using Video.Evaluation;
using Video.Inference.Temporal;
using Video.Tests.Shared;

namespace Video.Inference.Tests.Temporal;

public class TemporalFilterTests : FrameLeakCheckedTest
{
    private const int W = 160, H = 96, TW = 320, TH = 200;

    [Theory]
    [InlineData(TemporalMode.Flow, 0.5)]
    [InlineData(TemporalMode.Ema, 0.9)]
    public void Apply_FlickeringPanningSequence_LowersWarpError(TemporalMode mode, double mostRatio)
    {
        var texture = TemporalFixtures.Texture(TW, TH, seed: 21);
        var random = new Random(5);
        using var filter = new TemporalFilter(W, H, new TemporalOptions { Mode = mode, Strength = 0.8 });
        using var meter = new FlickerMeter(W, H, versions: 2);
        for (int t = 0; t < 24; t++)
        {
            using var input = TemporalFixtures.Pan(Allocator, texture, TW, W, H, t, 2, 1, startX: 10, startY: 10);

            // A "stylizer" whose output flickers: a global brightness jump and fresh noise every frame.
            using var unfiltered = TemporalFixtures.Flicker(Allocator, input, random.Next(-14, 15), random, 6);
            using var filtered = TemporalFixtures.Copy(Allocator, unfiltered);
            filter.ObserveInput(input);
            filter.Apply(filtered);
            meter.Push(input, [unfiltered, filtered]);
        }

        Assert.Equal(23, filter.FramesBlended);
        Assert.Equal(0, filter.SceneCuts);
        double ratio = meter.WarpError(1) / meter.WarpError(0);
        Assert.True(ratio <= mostRatio, $"{mode}: E_warp filtered {meter.WarpError(1):0.000000} / unfiltered {meter.WarpError(0):0.000000} = {ratio:0.000}");
    }

    [Fact]
    public void Apply_StillNoisyScene_KeepsSharpOutlinesWhereTheyAre()
    {
        // A still camera with sensor noise; the "stylizer" draws the same 1-pixel dark outlines every frame. Any
        // flow the filter follows here is noise, and shifting the history by it would make the outlines flicker
        // (1.1 levels per pixel and frame when the filter followed Farnebäck's flow here; 0.03 with the
        // zero-motion preference).
        const int SW = 640, SH = 360; // the filter's flow image is then a quarter of it, as in use
        var texture = TemporalFixtures.Texture(SW, SH, seed: 8);
        var random = new Random(3);
        using var still = TemporalFixtures.Pan(Allocator, texture, SW, SW, SH, 0, 0, 0);
        using var outlines = Allocator.AllocateFrame(SW, SH);
        var o = outlines.Pixels;
        for (int y = 0; y < SH; y++)
        {
            for (int x = 0; x < SW; x++)
            {
                byte v = (x % 7 == 3 || y % 9 == 4) ? (byte)20 : (byte)230;
                o.Slice(((y * SW) + x) * 3, 3).Fill(v);
            }
        }

        using var filter = new TemporalFilter(SW, SH, new TemporalOptions { Mode = TemporalMode.Flow, Strength = 0.8 });
        long change = 0;
        int counted = 0;
        using var previous = TemporalFixtures.Copy(Allocator, outlines);
        for (int t = 0; t < 20; t++)
        {
            using var input = TemporalFixtures.Flicker(Allocator, still, 0, random, 2);
            input.Index = t;
            using var output = TemporalFixtures.Copy(Allocator, outlines);
            output.Index = t;
            filter.ObserveInput(input);
            filter.Apply(output);
            if (t >= 2)
            {
                Assert.Equal(TemporalOutcome.Blended, filter.LastOutcome);
                for (int i = 0; i < output.Pixels.Length; i++)
                {
                    change += Math.Abs(output.Pixels[i] - previous.Pixels[i]);
                }

                counted++;
            }

            output.Pixels.CopyTo(previous.Pixels);
        }

        double meanChange = change / (double)(counted * outlines.Pixels.Length);
        Assert.True(meanChange < 0.25, $"the output changed by {meanChange:0.00} levels per pixel and frame on a still scene");
    }

    [Fact]
    public void Apply_SceneCut_ResetsAndBlendsNothingAcrossIt()
    {
        var before = TemporalFixtures.Texture(TW, TH, seed: 1);
        var after = TemporalFixtures.Texture(TW, TH, seed: 2);
        using var filter = new TemporalFilter(W, H, new TemporalOptions { Mode = TemporalMode.Flow, Strength = 0.9 });
        for (int t = 0; t < 10; t++)
        {
            bool cut = t >= 5;
            using var input = TemporalFixtures.Pan(Allocator, cut ? after : before, TW, W, H, t, 1, 0, startX: 10, startY: 10);
            using var stylized = TemporalFixtures.Flicker(Allocator, input, (t % 2) * 12);
            using var expected = TemporalFixtures.Copy(Allocator, stylized);
            filter.ObserveInput(input);
            filter.Apply(stylized);
            if (t == 5)
            {
                Assert.Equal(TemporalOutcome.SceneCut, filter.LastOutcome);
                Assert.True(expected.Pixels.SequenceEqual(stylized.Pixels), "the first frame after a cut must be the stylized frame unchanged");
            }
            else if (t > 0)
            {
                Assert.Equal(TemporalOutcome.Blended, filter.LastOutcome);
            }
        }

        Assert.Equal(1, filter.SceneCuts);
    }

    [Fact]
    public void Apply_ModeOff_LeavesFramesUnchanged()
    {
        var texture = TemporalFixtures.Texture(TW, TH, seed: 4);
        using var filter = new TemporalFilter(W, H, TemporalOptions.Disabled);
        for (int t = 0; t < 3; t++)
        {
            using var input = TemporalFixtures.Pan(Allocator, texture, TW, W, H, t, 1, 1);
            using var stylized = TemporalFixtures.Flicker(Allocator, input, t * 10);
            using var expected = TemporalFixtures.Copy(Allocator, stylized);
            filter.ObserveInput(input);
            filter.Apply(stylized);
            Assert.Equal(TemporalOutcome.PassedThrough, filter.LastOutcome);
            Assert.True(expected.Pixels.SequenceEqual(stylized.Pixels));
        }
    }

    [Fact]
    public void Apply_InputNeverObserved_StartsOverInsteadOfGuessing()
    {
        var texture = TemporalFixtures.Texture(TW, TH, seed: 4);
        using var filter = new TemporalFilter(W, H, new TemporalOptions());
        using var first = TemporalFixtures.Pan(Allocator, texture, TW, W, H, 0, 1, 1);
        using var second = TemporalFixtures.Pan(Allocator, texture, TW, W, H, 1, 1, 1);
        using var styled = TemporalFixtures.Flicker(Allocator, second, 30);
        using var expected = TemporalFixtures.Copy(Allocator, styled);
        filter.ObserveInput(first);
        using var firstOutput = TemporalFixtures.Copy(Allocator, first);
        filter.Apply(firstOutput);
        filter.Apply(styled); // frame 1's input was never observed
        Assert.Equal(TemporalOutcome.Started, filter.LastOutcome);
        Assert.True(expected.Pixels.SequenceEqual(styled.Pixels));
    }

    [Fact]
    public void Apply_Warm_AllocatesAlmostNothingPerFrame()
    {
        var texture = TemporalFixtures.Texture(TW, TH, seed: 8);
        using var filter = new TemporalFilter(W, H, new TemporalOptions());
        var inputs = Enumerable.Range(0, 90).Select(t => TemporalFixtures.Pan(Allocator, texture, TW, W, H, t, 1, 1)).ToArray();
        var styled = inputs.Select(f => TemporalFixtures.Flicker(Allocator, f, f.Index % 2 == 0 ? 5 : 0)).ToArray();
        try
        {
            // A long warm-up: the per-frame methods reach the JIT's call-count threshold (30) and are recompiled in the
            // background; the hand-over to the new code can allocate on this thread when it falls in the measured frames.
            for (int t = 0; t < 60; t++)
            {
                filter.ObserveInput(inputs[t]);
                filter.Apply(styled[t]);
            }

            // Three windows of 10 frames; the least per frame counts. An allocation made by every frame shows in each
            // window; a one-off (the tiered JIT's hand-over, once allocated 2121 bytes per frame over a 30-frame window)
            // falls in one.
            long perFrame = long.MaxValue;
            for (int start = 60; start < 90; start += 10)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int t = start; t < start + 10; t++)
                {
                    filter.ObserveInput(inputs[t]);
                    filter.Apply(styled[t]);
                }

                perFrame = Math.Min(perFrame, (GC.GetAllocatedBytesForCurrentThread() - before) / 10);
            }

            // OpenCvSharp wraps each output argument in a small object (about 100 bytes) it disposes after the call;
            // flow mode makes 18 such calls per frame (6 of them for the zero-motion preference). Nothing else.
            Assert.InRange(perFrame, 0, 2048);
        }
        finally
        {
            foreach (var frame in inputs.Concat(styled))
            {
                frame.Dispose();
            }
        }
    }

    [Fact]
    public void Create_StrengthOutOfRange_ThrowsOneLine()
    {
        var e = Assert.Throws<VideoException>(() => new TemporalFilter(W, H, new TemporalOptions { Strength = 1.0 }));
        Assert.Equal("--temporal-strength 1 is out of range [0, 1)", e.Message);
    }
}
