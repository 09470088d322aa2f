using Video.Capture;
using Video.Inference;
using Video.Inference.Onnx;
using Video.Tests.Shared;

namespace Video.Inference.Tests;

public class StylizerTests : FrameLeakCheckedTest
{
    [Fact]
    public async Task StylizeAsync_NoFreeSlot_WaitsForOneThenStylizesAndReturnsIt()
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir, gain: 0f, bias: 0.5f), new StylizerOptions { Device = Device.Cpu });
        using var plan = stylizer.CreatePlan(8, 6, 8, 6, slots: 1, allocator: Allocator);
        using var frame = Allocator.AllocateFrame(8, 6);
        frame.Pixels.Clear();
        Assert.True(plan.TryRentSlot(out var held));

        var call = plan.StylizeAsync(frame).AsTask();
        Assert.False(call.IsCompleted);
        Assert.All(frame.Pixels.ToArray(), b => Assert.Equal(0, b));

        plan.ReturnSlot(held);
        int batchSize = await call.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, batchSize);
        Assert.All(frame.Pixels.ToArray(), b => Assert.InRange(b, 127, 128));
        Assert.Equal(1, plan.FreeSlots);
    }

    [Fact]
    public async Task StylizeAsync_CancelledWhileWaitingForASlot_ThrowsAndLeavesTheFrame()
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir, gain: 0f, bias: 0.5f), new StylizerOptions { Device = Device.Cpu });
        using var plan = stylizer.CreatePlan(8, 6, 8, 6, slots: 1, allocator: Allocator);
        using var frame = Allocator.AllocateFrame(8, 6);
        frame.Pixels.Clear();
        Assert.True(plan.TryRentSlot(out var held));
        using var cts = new CancellationTokenSource();

        var call = plan.StylizeAsync(frame, cancellationToken: cts.Token).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.All(frame.Pixels.ToArray(), b => Assert.Equal(0, b));
        plan.ReturnSlot(held);
        Assert.Equal(1, plan.FreeSlots);
    }

    [Fact]
    public void Stylize_AffineModel_MatchesHandComputedPixels()
    {
        using var dir = new TempDir();
        var manifest = ModelFixtures.Affine(dir, gain: 0.5f, bias: 0.25f);
        using var stylizer = Stylizer.Load(manifest, new StylizerOptions { Device = Device.Cpu });
        using var frame = Allocator.AllocateFrame(7, 5);
        var px = frame.Pixels;
        for (int i = 0; i < px.Length; i++)
        {
            px[i] = (byte)(i * 37 % 256);
        }

        var before = px.ToArray();
        using var plan = stylizer.CreatePlan(7, 5, 7, 5, allocator: Allocator);
        plan.StylizeInPlace(frame);

        for (int i = 0; i < before.Length; i++)
        {
            // (v/255 · 0.5 + 0.25) · 255, rounded: computed independently of the codec.
            int expected = (int)Math.Round(before[i] * 0.5 + 63.75, MidpointRounding.AwayFromZero);
            Assert.InRange(frame.Pixels[i], expected - 1, expected + 1);
        }
    }

    [Fact]
    public void Stylize_ZooShapedExternalModel_UsesItsFixedSizeRangeAndNames()
    {
        using var dir = new TempDir();
        ProceduralModels.WriteZooShapedSepia(dir.File("candy.onnx"));
        string manifestPath = ModelFixtures.WriteManifest(dir, "candy", """
            {
              "name": "candy",
              "family": "external",
              "model": "candy.onnx",
              "input":  { "name": "input1",  "layout": "NCHW", "colorOrder": "RGB", "range": [0, 255] },
              "output": { "name": "output1", "layout": "NCHW", "colorOrder": "RGB", "range": [0, 255] },
              "size": { "mode": "fixed", "width": 224, "height": 224 }
            }
            """);
        var manifest = ModelCatalog.Load(dir.Path).Find(manifestPath);
        using var stylizer = Stylizer.Load(manifest, new StylizerOptions { Device = Device.Cpu });
        Assert.Equal((224, 224), stylizer.InferenceSize(320, 180));

        using var frame = Allocator.AllocateFrame(320, 180);
        for (int i = 0; i < frame.Length; i += 3)
        {
            frame.Pixels[i] = 100;
            frame.Pixels[i + 1] = 150;
            frame.Pixels[i + 2] = 50;
        }

        using var plan = stylizer.CreatePlan(320, 180, 224, 224, allocator: Allocator);
        plan.StylizeInPlace(frame);
        // Sepia of (100,150,50): r = .393·100 + .769·150 + .189·50 = 164.1, g = 146.3, b = 113.9.
        var centre = frame.Row(90).Slice(160 * 3, 3).ToArray();
        Assert.InRange(centre[0], 163, 165);
        Assert.InRange(centre[1], 145, 147);
        Assert.InRange(centre[2], 113, 115);
    }

    [Fact]
    public void InferenceSize_FixedModelWithOtherSize_Throws()
    {
        using var dir = new TempDir();
        ProceduralModels.WriteZooShapedSepia(dir.File("z.onnx"));
        string path = ModelFixtures.WriteManifest(dir, "z", """
            { "name": "z", "family": "external", "model": "z.onnx",
              "input": { "name": "input1", "range": [0, 255] }, "output": { "name": "output1", "range": [0, 255] },
              "size": { "mode": "fixed", "width": 224, "height": 224 } }
            """);
        using var stylizer = Stylizer.Load(ModelManifest.Load(path), new StylizerOptions { Device = Device.Cpu });
        var e = Assert.Throws<ModelException>(() => stylizer.InferenceSize(640, 360, (640, 360)));
        Assert.Contains("only runs at 224x224", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InferenceSize_DynamicModel_RoundsToTheMultiple()
    {
        using var dir = new TempDir();
        ProceduralModels.WriteAffine(dir.File("a.onnx"), 1, 0);
        string path = ModelFixtures.WriteManifest(dir, "a", """
            { "name": "a", "family": "fast", "model": "a.onnx", "input": { "name": "input" }, "output": { "name": "output" },
              "size": { "mode": "dynamic", "multipleOf": 8 } }
            """);
        using var stylizer = Stylizer.Load(ModelManifest.Load(path), new StylizerOptions { Device = Device.Cpu });
        Assert.Equal((640, 360), stylizer.InferenceSize(640, 360));
        Assert.Equal((960, 544), stylizer.InferenceSize(960, 540));
        Assert.Equal((320, 176), stylizer.InferenceSize(960, 540, (318, 180)));
    }

    [Fact]
    public void Load_ShippedDefaultModel_RunsAndChangesTheImage()
    {
        var catalog = ModelCatalog.Load(Repo.Models);
        var manifest = catalog.Find(ModelCatalog.DefaultModelName);
        using var stylizer = Stylizer.Load(manifest, new StylizerOptions { Device = Device.Cpu });
        using var frame = Allocator.AllocateFrame(64, 48);
        for (int y = 0; y < 48; y++)
        {
            for (int x = 0; x < 64; x++)
            {
                var p = frame.Row(y).Slice(x * 3, 3);
                p[0] = (byte)(x * 4);
                p[1] = (byte)(y * 5);
                p[2] = 128;
            }
        }

        var before = frame.Pixels.ToArray();
        using var plan = stylizer.CreatePlan(64, 48, 64, 48, allocator: Allocator);
        plan.StylizeInPlace(frame);
        double meanAbs = before.Zip(frame.Pixels.ToArray(), (a, b) => Math.Abs(a - b)).Average();
        Assert.InRange(meanAbs, 2, 128);
    }

    [Fact]
    public void RestoreDetail_IdentityModelAtHalfSize_BringsBackTheFineDetailThatShrinkingLost()
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir, gain: 1f, bias: 0f), new StylizerOptions { Device = Device.Cpu });
        using var plan = stylizer.CreatePlan(128, 96, 64, 48, slots: 1, allocator: Allocator);
        using var original = Allocator.AllocateFrame(128, 96);
        for (int y = 0; y < 96; y++)
        {
            for (int x = 0; x < 128; x++)
            {
                // A grey ramp with a 1-pixel checkerboard on top: the checkerboard does not survive half size. Grey, so
                // that all of the detail is luma detail.
                byte v = (byte)Math.Clamp(40 + x + ((x + y) % 2 == 0 ? 30 : -30), 0, 255);
                original.Row(y).Slice(x * 3, 3).Fill(v);
            }
        }

        using var plain = Allocator.AllocateFrame(128, 96);
        using var restored = Allocator.AllocateFrame(128, 96);
        original.Pixels.CopyTo(plain.Pixels);
        original.Pixels.CopyTo(restored.Pixels);
        plan.StylizeInPlace(plain);
        plan.RestoreDetail = true;
        plan.StylizeInPlace(restored);

        double plainDb = Int8Variant.Psnr(original.Pixels, plain.Pixels);
        double restoredDb = Int8Variant.Psnr(original.Pixels, restored.Pixels);
        Assert.InRange(plainDb, 10, 25);
        Assert.True(restoredDb > plainDb + 10, $"restored {restoredDb:0.0} dB, plain {plainDb:0.0} dB against the original");
    }
}
