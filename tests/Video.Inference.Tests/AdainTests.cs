using Video.Capture;
using Video.Inference;
using Video.Inference.Onnx;
using Video.Tests.Shared;

namespace Video.Inference.Tests;

/// <summary>The AdaIN contract (style encoder → statistics → model with α) on a pixel-level AdaIN fixture.</summary>
public class AdainTests : FrameLeakCheckedTest
{
    [Fact]
    public void SetStyle_AlphaOne_TransfersTheStyleColourStatistics()
    {
        using var dir = new TempDir();
        using var stylizer = Load(dir);
        using var style = Solid(32, 32, 200, 40, 90, noise: 20);
        var stats = stylizer.EncodeStyle(style);
        Assert.InRange(stats.Get("style_mean")[0], 0.75f, 0.82f); // ≈ 200/255

        using var frame = Solid(48, 32, 60, 120, 180, noise: 30);
        using var plan = stylizer.CreatePlan(48, 32, 48, 32, allocator: Allocator);
        plan.SetStyle(stats, alpha: 1f);
        plan.StylizeInPlace(frame);

        var (mean, _) = ChannelMeanStd(frame);
        Assert.InRange(mean[0], 195, 205);
        Assert.InRange(mean[1], 35, 45);
        Assert.InRange(mean[2], 85, 95);
    }

    [Fact]
    public void SetStyle_AlphaZero_KeepsTheContent()
    {
        using var dir = new TempDir();
        using var stylizer = Load(dir);
        using var style = Solid(16, 16, 250, 0, 0, noise: 5);
        using var frame = Solid(16, 16, 10, 100, 200, noise: 10);
        var before = frame.Pixels.ToArray();
        using var plan = stylizer.CreatePlan(16, 16, 16, 16, allocator: Allocator);
        plan.SetStyle(stylizer.EncodeStyle(style), alpha: 0f);
        plan.StylizeInPlace(frame);
        Assert.True(before.Zip(frame.Pixels.ToArray()).All(p => Math.Abs(p.First - p.Second) <= 1));
    }

    [Fact]
    public void Mix_TwoStyles_AveragesTheirStatisticsByWeight()
    {
        using var dir = new TempDir();
        using var stylizer = Load(dir);
        using var red = Solid(16, 16, 255, 0, 0, noise: 10);
        using var blue = Solid(16, 16, 0, 0, 255, noise: 10);
        var mixed = StyleStatistics.Mix([(stylizer.EncodeStyle(red), 3f), (stylizer.EncodeStyle(blue), 1f)]);
        Assert.InRange(mixed.Get("style_mean")[0], 0.70f, 0.78f);
        Assert.InRange(mixed.Get("style_mean")[2], 0.22f, 0.30f);
    }

    [Fact]
    public void PreserveColor_KeepsChromaAndTakesStyledLuminance()
    {
        using var dir = new TempDir();
        using var stylizer = Load(dir);
        using var style = Solid(16, 16, 180, 180, 180, noise: 5);
        using var frame = Solid(16, 16, 40, 90, 130, noise: 10);
        var (before, _) = ChannelMeanStd(frame);
        using var plan = stylizer.CreatePlan(16, 16, 16, 16, allocator: Allocator);
        plan.SetStyle(stylizer.EncodeStyle(style));
        plan.PreserveColor = true;
        plan.StylizeInPlace(frame);
        var (after, _) = ChannelMeanStd(frame);
        // Brighter (the style's luminance) but the channel differences (chroma) are the frame's own.
        Assert.True(after[0] > before[0] + 60);
        Assert.InRange((after[2] - after[0]) - (before[2] - before[0]), -8, 8);
    }

    [Fact]
    public void EncodeStyle_NonAdainModel_Throws()
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu });
        using var style = Solid(8, 8, 1, 2, 3, 0);
        Assert.Throws<ModelException>(() => stylizer.EncodeStyle(style));
    }

    [Fact]
    public void Load_AdainWithoutStyleEncoderFile_Throws()
    {
        using var dir = new TempDir();
        ProceduralModels.WritePixelAdain(dir.Path, "px");
        File.Delete(dir.File("px.style.onnx"));
        var e = Assert.Throws<ModelException>(() => Stylizer.Load(Manifest(dir), new StylizerOptions { Device = Device.Cpu }));
        Assert.Contains("style encoder not found", e.Message, StringComparison.Ordinal);
    }

    internal static Stylizer Load(TempDir dir)
    {
        ProceduralModels.WritePixelAdain(dir.Path, "px");
        return Stylizer.Load(Manifest(dir), new StylizerOptions { Device = Device.Cpu });
    }

    private static ModelManifest Manifest(TempDir dir)
    {
        string path = ModelFixtures.WriteManifest(dir, "px", """
            { "name": "px", "family": "adain", "model": "px.onnx", "input": { "name": "input" }, "output": { "name": "output" },
              "adain": { "styleEncoder": "px.style.onnx", "styleInput": "style", "statistics": ["style_mean", "style_std"], "alphaInput": "alpha" } }
            """);
        return ModelManifest.Load(path);
    }

    private Frame Solid(int w, int h, byte r, byte g, byte b, int noise)
    {
        var frame = Allocator.AllocateFrame(w, h);
        var rng = new Random(7);
        var px = frame.Pixels;
        for (int i = 0; i < px.Length; i += 3)
        {
            px[i] = (byte)Math.Clamp(r + rng.Next(-noise, noise + 1), 0, 255);
            px[i + 1] = (byte)Math.Clamp(g + rng.Next(-noise, noise + 1), 0, 255);
            px[i + 2] = (byte)Math.Clamp(b + rng.Next(-noise, noise + 1), 0, 255);
        }

        return frame;
    }

    private static (double[] Mean, double[] Std) ChannelMeanStd(Frame frame)
    {
        var mean = new double[3];
        var sq = new double[3];
        var px = frame.Pixels;
        int n = px.Length / 3;
        for (int i = 0; i < px.Length; i++)
        {
            mean[i % 3] += px[i];
            sq[i % 3] += px[i] * (double)px[i];
        }

        var std = new double[3];
        for (int c = 0; c < 3; c++)
        {
            mean[c] /= n;
            std[c] = Math.Sqrt(Math.Max(0, (sq[c] / n) - (mean[c] * mean[c])));
        }

        return (mean, std);
    }
}
