using OpenCvSharp;
using TorchSharp;
using Video.Training.Data;
using Video.Training.Losses;
using Video.Training.Methods;
using Video.Training.Models;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Scalar = OpenCvSharp.Scalar;

namespace Video.Training.Tests.Losses;

/// <summary>The representations and losses of cartoon training, on tiny synthetic images.</summary>
public sealed class CartoonLossesTests
{
    /// <summary>A 1×3×48×64 image: left half dark, right half bright, plus Gaussian noise of std 0.05.</summary>
    private static Tensor NoisyStep(int seed = 3)
    {
        torch.manual_seed(seed);
        var x = torch.full(1, 3, 48, 64, 0.2f);
        x[.., .., .., 32..] = torch.full(1, 3, 48, 32, 0.8f);
        return (x + (torch.randn(1, 3, 48, 64) * 0.05f)).clamp(0, 1);
    }

    [Fact]
    public void BoxMean_MatchesAveragePoolThatIgnoresPadding()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(1);
        var x = torch.rand(2, 3, 20, 17);
        var expected = functional.avg_pool2d(x, 7, 1, 3, count_include_pad: false);
        Assert.InRange((CartoonLosses.BoxMean(x, 3) - expected).abs().max().item<float>(), 0, 1e-5f);
    }

    [Fact]
    public void GuidedFilter_NoisyStep_FlattensRegionsAndKeepsTheEdge()
    {
        using var scope = torch.NewDisposeScope();
        var x = NoisyStep();
        var y = CartoonLosses.GuidedFilter(x);
        // Noise inside the flat halves (away from the edge) drops a lot ...
        double noiseBefore = x[.., .., .., ..20].std().item<float>();
        double noiseAfter = y[.., .., .., ..20].std().item<float>();
        Assert.True(noiseAfter < noiseBefore / 3, $"guided filter did not flatten: std {noiseBefore} -> {noiseAfter}");
        // ... while the step between the halves (0.6 high) stays much sharper than a box blur of the same radius leaves it
        // (with eps = 0.2, White-box's value for images in [-1, 1], the jump was 0.28).
        Tensor Jump(Tensor t) => (t[.., .., .., 33] - t[.., .., .., 30]).mean();
        double jump = Jump(y).item<float>(), box = Jump(CartoonLosses.BoxMean(x, CartoonLosses.SurfaceRadius)).item<float>();
        Assert.True(jump > 0.36 && jump > 2 * box, $"the edge was smoothed away: jump {jump}, box blur {box}");
    }

    [Fact]
    public void Grey_WeightsNormalised_ConstantColourGivesThatGrey()
    {
        using var scope = torch.NewDisposeScope();
        var w = CartoonLosses.RandomGreyWeights(new Random(4));
        var g = CartoonLosses.Grey(torch.full(1, 3, 4, 4, 0.6f), w);
        Assert.Equal(new long[] { 1, 1, 4, 4 }, g.shape);
        Assert.InRange(g.mean().item<float>(), 0.5999f, 0.6001f);
        Assert.NotEqual(w, CartoonLosses.RandomGreyWeights(new Random(5)));
    }

    [Fact]
    public void SuperpixelMeanColour_NoisyStep_FillsSegmentsWithTheirMeanColour()
    {
        using var scope = torch.NewDisposeScope();
        var x = NoisyStep();
        var s = CartoonLosses.SuperpixelMeanColour(x, k: 500, minSize: 50);
        Assert.Equal(x.shape, s.shape);
        Assert.False(s.requires_grad);
        // Far fewer distinct colours than pixels, and the two halves keep their own brightness.
        int distinct = s[0, 0].flatten().data<float>().ToArray().Distinct().Count();
        Assert.InRange(distinct, 1, 20);
        Assert.InRange(s[.., .., .., ..28].mean().item<float>(), 0.15f, 0.25f);
        Assert.InRange(s[.., .., .., 36..].mean().item<float>(), 0.75f, 0.85f);
        // Inside a half the noise is gone (the step between the halves stays, as it should).
        Assert.True(StyleLosses.TotalVariation(s[.., .., .., ..28]).item<float>() < StyleLosses.TotalVariation(x[.., .., .., ..28]).item<float>() / 5);
    }

    [Fact]
    public void EdgePromote_OutlinedShape_BlursTheEdgesOnly()
    {
        using var img = new Mat(64, 64, MatType.CV_8UC3, Scalar.White);
        Cv2.Circle(img, new Point(32, 32), 18, new Scalar(40, 160, 230), -1);
        Cv2.Circle(img, new Point(32, 32), 18, Scalar.Black, 2);
        using var promoted = CartoonLosses.EdgePromote(img);
        // Far from the outline nothing changes ...
        Assert.Equal(img.At<Vec3b>(32, 32), promoted.At<Vec3b>(32, 32));
        Assert.Equal(img.At<Vec3b>(2, 2), promoted.At<Vec3b>(2, 2));
        // ... at the outline the image is blurred: the gradient energy falls.
        Assert.True(CartoonEvalMethod.GradientEnergy(promoted) < 0.7 * CartoonEvalMethod.GradientEnergy(img));
    }

    [Fact]
    public void Lsgan_PerfectDiscriminator_ZeroLossAndGeneratorPaysForIt()
    {
        using var scope = torch.NewDisposeScope();
        var ones = torch.ones(2, 1, 4, 4);
        var zeros = torch.zeros(2, 1, 4, 4);
        Assert.Equal(0, CartoonLosses.DiscriminatorLoss(ones, zeros, zeros).item<float>(), 6);
        Assert.Equal(1, CartoonLosses.DiscriminatorLoss(zeros, zeros).item<float>(), 6);
        Assert.Equal(1, CartoonLosses.GeneratorLoss(zeros).item<float>(), 6);
        Assert.Equal(0, CartoonLosses.GeneratorLoss(ones).item<float>(), 6);
    }

    [Fact]
    public void EncoderFeatures_CartoonSpec_OneMapPerLayerWithTheHeadsChannels()
    {
        using var scope = torch.NewDisposeScope();
        var spec = StylizerSpec.Cartoon;
        using var g = new FastStylizer(spec);
        var f = g.EncoderFeatures(torch.rand(2, 3, 48, 48));
        Assert.Equal(PatchNceHeads.ChannelsOf(spec).ToArray(), f.Select(t => (int)t.shape[1]).ToArray());
        Assert.Equal(new long[] { 2, spec.Channels[0], 48, 48 }, f[0].shape);
        Assert.Equal(new long[] { 2, spec.Channels[2], 12, 12 }, f[^1].shape);
    }

    [Fact]
    public void PatchNce_MatchingPatches_LowerThanShuffled()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(7);
        var spec = StylizerSpec.Cartoon;
        using var heads = new PatchNceHeads(PatchNceHeads.ChannelsOf(spec));
        int[] sides = [48, 24, 12, 12, 12];
        var k = PatchNceHeads.ChannelsOf(spec).Select((c, i) => torch.randn(2, c, sides[i], sides[i])).ToArray();

        // The output's features at the same places as the input's: each query's positive is its own vector.
        double matching = CartoonLosses.PatchNce(k, k, heads, 32, new Random(1)).item<float>();

        // The output's features moved around the image: the positive is some other place's vector.
        var shuffled = k.Select(f =>
        {
            long h = f.shape[2], w = f.shape[3];
            return f.reshape(f.shape[0], f.shape[1], h * w).index_select(2, torch.randperm(h * w)).reshape(f.shape);
        }).ToArray();
        double mismatched = CartoonLosses.PatchNce(shuffled, k, heads, 32, new Random(1)).item<float>();
        Assert.True(matching < mismatched - 1, $"PatchNCE matching {matching} vs shuffled {mismatched}");
        Assert.InRange(mismatched, Math.Log(32) - 1, Math.Log(32) + 3);
    }

    [Fact]
    public void ReadDrawing_TransparentClipArt_CompositedOnWhiteAndCut()
    {
        var dir = Directory.CreateTempSubdirectory("video-train-clipart-").FullName;
        using var rgba = new Mat(100, 120, MatType.CV_8UC4, new Scalar(0, 0, 0, 0));
        Cv2.Rectangle(rgba, new Rect(20, 10, 80, 70), new Scalar(30, 60, 220, 255), -1);
        var big = Path.Combine(dir, "big.png");
        Cv2.ImWrite(big, rgba);
        using var m = CartoonImages.ReadDrawing(big, 64);
        Assert.NotNull(m);
        Assert.Equal(MatType.CV_8UC3, m!.Type());
        Assert.InRange(m.Width, 80, 90);
        Assert.InRange(m.Height, 70, 78);
        Assert.Equal(new Vec3b(30, 60, 220), m.At<Vec3b>(m.Height / 2, m.Width / 2));

        // A drawing much smaller than the working size, or a grey one, is skipped.
        using var small = new Mat(100, 120, MatType.CV_8UC4, new Scalar(0, 0, 0, 0));
        Cv2.Rectangle(small, new Rect(20, 10, 20, 20), new Scalar(30, 60, 220, 255), -1);
        Cv2.ImWrite(Path.Combine(dir, "small.png"), small);
        Assert.Null(CartoonImages.ReadDrawing(Path.Combine(dir, "small.png"), 64));
        using var grey = new Mat(100, 120, MatType.CV_8UC4, new Scalar(0, 0, 0, 0));
        Cv2.Rectangle(grey, new Rect(20, 10, 80, 70), new Scalar(128, 128, 128, 255), -1);
        Cv2.ImWrite(Path.Combine(dir, "grey.png"), grey);
        Assert.Null(CartoonImages.ReadDrawing(Path.Combine(dir, "grey.png"), 64));
    }

    [Fact]
    public void Flatness_BlurLowersGradientEnergy_OutlinesCounted()
    {
        using var flat = new Mat(48, 64, MatType.CV_8UC3, new Scalar(90, 140, 200));
        Assert.Equal(0, CartoonEvalMethod.GradientEnergy(flat), 9);
        Assert.Equal(0, CartoonEvalMethod.OutlineShare(flat), 9);
        using var drawn = flat.Clone();
        Cv2.Rectangle(drawn, new Rect(10, 10, 30, 20), Scalar.Black, 2);
        Assert.InRange(CartoonEvalMethod.OutlineShare(drawn), 0.02, 0.3);
        using var blurred = new Mat();
        Cv2.GaussianBlur(drawn, blurred, new OpenCvSharp.Size(7, 7), 0);
        Assert.True(CartoonEvalMethod.GradientEnergy(blurred) < CartoonEvalMethod.GradientEnergy(drawn) / 2);

        // Off the outlines a flat drawing has no gradient at all; noise there is counted.
        Assert.Equal(0, CartoonEvalMethod.RegionEnergy(drawn), 9);
        using var noisy = drawn.Clone();
        using var noise = new Mat(noisy.Size(), MatType.CV_8UC3);
        Cv2.Randu(noise, Scalar.All(0), Scalar.All(12));
        Cv2.Add(noisy, noise, noisy);
        Assert.True(CartoonEvalMethod.RegionEnergy(noisy) > 1e-4);
    }
}
