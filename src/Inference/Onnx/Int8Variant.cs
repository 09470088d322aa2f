using System.Diagnostics;
using Microsoft.ML.OnnxRuntime.Tensors;
using OpenCvSharp;
using Video.Capture;

namespace Video.Inference.Onnx;

/// <summary>An int8 copy of a model and what it costs and saves, measured side by side with the float model.</summary>
/// <param name="Path">The int8 ONNX file written next to the model.</param>
/// <param name="Report">What the quantizer did.</param>
/// <param name="PsnrDb">PSNR of the int8 output against the float output, per held-out photo (8-bit RGB).</param>
/// <param name="FloatMilliseconds">Median inference time of the float model (inference only, interleaved runs).</param>
/// <param name="Int8Milliseconds">Median inference time of the int8 model in the same runs.</param>
public sealed record Int8Result(string Path, Int8Report Report, IReadOnlyList<(string Photo, double Db)> PsnrDb, double FloatMilliseconds, double Int8Milliseconds)
{
    /// <summary>The lowest PSNR over the held-out photos.</summary>
    public double WorstDb => PsnrDb.Min(p => p.Db);

    /// <summary>Float time over int8 time (above 1: int8 is faster).</summary>
    public double Speedup => FloatMilliseconds / Int8Milliseconds;
}

/// <summary>Builds and measures the int8 variant of a model (<see cref="Int8Quantizer"/>) at one frame size.</summary>
public static class Int8Variant
{
    /// <summary>
    /// Calibrates on <paramref name="calibrationPhotos"/>, writes <c>NAME.int8.onnx</c> beside the model, and measures it
    /// against the float model on <paramref name="heldOutPhotos"/> at <paramref name="width"/>×<paramref name="height"/>
    /// (photos are resized to that size): PSNR per photo, and inference time over <paramref name="runs"/> interleaved runs.
    /// </summary>
    /// <param name="manifest">The float model.</param>
    /// <param name="calibrationPhotos">Photos whose activations set the ranges (and, with <paramref name="targetDb"/>, choose what stays float).</param>
    /// <param name="heldOutPhotos">Photos the result's PSNR is measured on.</param>
    /// <param name="width">Frame width to calibrate and measure at.</param>
    /// <param name="height">Frame height to calibrate and measure at.</param>
    /// <param name="runs">Interleaved timed runs of each model.</param>
    /// <param name="percentile">Activation ranges from this percentile of the calibration values (100: minimum and maximum; 0: the range of least rounding and clipping error).</param>
    /// <param name="targetDb">
    /// When set, the convolutions that cost the most PSNR stay float until the worst calibration photo is at least this
    /// close to the float model. Each convolution's cost is measured alone (only it int8) on the calibration photos; the
    /// held-out photos are not looked at, so their PSNR stays an honest measure.
    /// </param>
    /// <param name="log">Where the per-convolution costs and the search are written.</param>
    public static Int8Result Build(ModelManifest manifest, IReadOnlyList<string> calibrationPhotos, IReadOnlyList<string> heldOutPhotos, int width, int height, int runs = 20, double percentile = 100, double? targetDb = null, TextWriter? log = null)
    {
        var options = new StylizerOptions { Device = Device.Cpu };
        using var fp32 = Stylizer.Load(manifest, options);
        var (tw, th) = fp32.InferenceSize(width, height);
        using var plan = fp32.CreatePlan(width, height, tw, th, slots: 1);
        var slot = plan.TryRentSlot(out var s) ? s : throw new InvalidOperationException("no slot");
        var calibration = new List<IReadOnlyDictionary<string, DenseTensor<float>>>();
        var reference = new List<(byte[] Photo, byte[] Float)>();
        using var frame = FrameAllocator.Default.AllocateFrame(width, height);
        foreach (var photo in calibrationPhotos)
        {
            Load(photo, frame);
            plan.Preprocess(frame, slot);
            calibration.Add(new Dictionary<string, DenseTensor<float>> { [manifest.Input.Name] = new(slot.Input.ToArray(), [1, 3, th, tw]) });
            if (targetDb is not null)
            {
                // The float model's output on the same input, for choosing what stays float.
                byte[] input = frame.Pixels.ToArray();
                plan.Infer(slot);
                plan.Postprocess(slot, frame);
                reference.Add((input, frame.Pixels.ToArray()));
            }
        }

        plan.ReturnSlot(slot);

        byte[] model = File.ReadAllBytes(manifest.ModelPath);
        string file = System.IO.Path.ChangeExtension(manifest.Model, null) + ".int8.onnx";
        var variant = manifest with { Model = file };
        var keepFloat = new HashSet<string>();
        byte[] int8 = Int8Quantizer.Quantize(model, calibration, out var report, percentile);
        if (targetDb is { } target)
        {
            // Worst calibration PSNR with each convolution alone in int8: the lower, the more it costs.
            var cost = new List<(string Conv, double WorstDb)>();
            foreach (var conv in report.Candidates)
            {
                byte[] one = Int8Quantizer.Quantize(model, calibration, out _, percentile, report.Candidates.Where(c => c != conv).ToHashSet());
                cost.Add((conv, WorstOn(variant, one, reference, width, height, tw, th, options)));
                log?.WriteLine($"  {conv} alone in int8: worst calibration photo {cost[^1].WorstDb:0.0} dB");
            }

            foreach (var (conv, _) in cost.OrderBy(c => c.WorstDb))
            {
                double worst = WorstOn(variant, int8, reference, width, height, tw, th, options);
                log?.WriteLine($"  {report.ConvolutionsQuantized} int8, float: [{string.Join(", ", keepFloat)}]: worst calibration photo {worst:0.0} dB");
                if (worst >= target)
                {
                    break;
                }

                keepFloat.Add(conv);
                int8 = Int8Quantizer.Quantize(model, calibration, out report, percentile, keepFloat);
            }
        }

        File.WriteAllBytes(variant.ModelPath, int8);
        using var q8 = Stylizer.Load(variant, options);
        using var q8Plan = q8.CreatePlan(width, height, tw, th, slots: 1);
        using var other = FrameAllocator.Default.AllocateFrame(width, height);
        var psnr = new List<(string, double)>();
        foreach (var photo in heldOutPhotos)
        {
            Load(photo, frame);
            frame.Pixels.CopyTo(other.Pixels);
            plan.StylizeInPlace(frame);
            q8Plan.StylizeInPlace(other);
            psnr.Add((System.IO.Path.GetFileName(photo), Psnr(frame.Pixels, other.Pixels)));
        }

        var (floatMs, int8Ms) = Time(plan, q8Plan, frame, runs);
        return new Int8Result(variant.ModelPath, report, psnr, floatMs, int8Ms);
    }

    /// <summary>The lowest PSNR of <paramref name="int8"/> (ONNX bytes) against the float outputs in <paramref name="reference"/>.</summary>
    private static double WorstOn(ModelManifest variant, byte[] int8, List<(byte[] Photo, byte[] Float)> reference, int width, int height, int tw, int th, StylizerOptions options)
    {
        string probe = variant.ModelPath + ".probe";
        try
        {
            File.WriteAllBytes(probe, int8);
            using var q8 = Stylizer.Load(variant with { Model = System.IO.Path.GetFileName(probe) }, options);
            using var plan = q8.CreatePlan(width, height, tw, th, slots: 1);
            using var frame = FrameAllocator.Default.AllocateFrame(width, height);
            double worst = double.PositiveInfinity;
            foreach (var (photo, expected) in reference)
            {
                photo.CopyTo(frame.Pixels);
                plan.StylizeInPlace(frame);
                worst = Math.Min(worst, Psnr(frame.Pixels, expected));
            }

            return worst;
        }
        finally
        {
            File.Delete(probe);
        }
    }

    /// <summary>PSNR in dB between two 8-bit images of the same size.</summary>
    public static double Psnr(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = a[i] - b[i];
            sum += d * d;
        }

        double mse = sum / a.Length;
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255.0 / mse);
    }

    private static (double Float, double Int8) Time(StylizerPlan a, StylizerPlan b, Frame frame, int runs)
    {
        if (!a.TryRentSlot(out var sa) || !b.TryRentSlot(out var sb))
        {
            throw new InvalidOperationException("no slot");
        }

        a.Preprocess(frame, sa);
        b.Preprocess(frame, sb);
        for (int i = 0; i < 3; i++)
        {
            a.Infer(sa);
            b.Infer(sb);
        }

        var ta = new List<double>();
        var tb = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            a.Infer(sa);
            long t1 = Stopwatch.GetTimestamp();
            b.Infer(sb);
            long t2 = Stopwatch.GetTimestamp();
            ta.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
            tb.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
        }

        a.ReturnSlot(sa);
        b.ReturnSlot(sb);
        return (Median(ta), Median(tb));
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    private static void Load(string photo, Frame frame)
    {
        using var bgr = Cv2.ImRead(photo, ImreadModes.Color);
        if (bgr.Empty())
        {
            throw new MediaException($"cannot read {photo} as an image");
        }

        FrameMats.CopyFromBgr(bgr, frame);
    }
}
