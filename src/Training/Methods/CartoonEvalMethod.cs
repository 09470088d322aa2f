using System.Globalization;
using System.Text;
using OpenCvSharp;
using TorchSharp;
using Video.Training.Data;
using Video.Training.Export;

namespace Video.Training.Methods;

/// <summary>Options of <see cref="CartoonEvalMethod"/>.</summary>
internal sealed record CartoonEvalOptions
{
    public required string Name { get; init; }

    /// <summary>The models in column order, each with its column title (single-input ONNX models: fast or cartoon).</summary>
    public required IReadOnlyList<(string Title, string Path)> Models { get; init; }

    public required string ContentDir { get; init; }

    public required string OutDir { get; init; }

    public int HoldoutEvery { get; init; } = 8;

    /// <summary>Held-out photos the table averages over (0: all of them).</summary>
    public int TablePhotos { get; init; }
}

/// <summary>
/// How cartoon-like models are measured (docs/cartoon.md): a sheet of held-out photo | each model on the sample-sheet rows,
/// and a flatness table over held-out photos: the output's mean gradient energy over the photo's (a cartoon is far flatter
/// than a photo), the same off the outlines (the flatness of the regions), and the share of pixels on outlines (Canny edges
/// of the output's luma).
/// </summary>
internal static class CartoonEvalMethod
{
    /// <summary>Canny thresholds of the outline share (on 8-bit luma).</summary>
    public const double CannyLow = 100;

    public const double CannyHigh = 200;

    public static int Run(CartoonEvalOptions o)
    {
        var (_, heldOut) = ImageFolder.Split(ImageFolder.ListImages(o.ContentDir), o.HoldoutEvery);
        if (heldOut.Count == 0)
        {
            throw new TrainingDataException($"no held-out photos in {o.ContentDir}");
        }

        var sheetRows = Packaging.SheetRows(o.ContentDir, heldOut.Select(Path.GetFileName).ToList()!);
        var photos = (o.TablePhotos > 0 ? heldOut.Take(o.TablePhotos) : heldOut).ToList();
        var models = o.Models.Select(m => (m.Title, Model: new OrtModel(m.Path))).ToList();
        try
        {
            var energy = new double[models.Count];
            var region = new double[models.Count];
            var outline = new double[models.Count];
            double photoOutline = 0;
            foreach (var p in photos)
            {
                using var scope = torch.NewDisposeScope();
                using var cell = SampleSheet.ContentCell(p);
                var x = ImageTensors.FromBgr(cell).unsqueeze(0);
                double e0 = GradientEnergy(cell), r0 = RegionEnergy(cell);
                photoOutline += OutlineShare(cell);
                for (int m = 0; m < models.Count; m++)
                {
                    using var y = ImageTensors.ToBgr(models[m].Model.Run("input", x));
                    energy[m] += GradientEnergy(y) / e0;
                    region[m] += RegionEnergy(y) / r0;
                    outline[m] += OutlineShare(y);
                }
            }

            var rows = new List<IReadOnlyList<Mat>>();
            foreach (var p in sheetRows)
            {
                using var scope = torch.NewDisposeScope();
                var cell = SampleSheet.ContentCell(p);
                var x = ImageTensors.FromBgr(cell).unsqueeze(0);
                rows.Add([cell, .. models.Select(m => ImageTensors.ToBgr(m.Model.Run("input", x)))]);
            }

            Directory.CreateDirectory(o.OutDir);
            string sheet = Path.Combine(o.OutDir, o.Name + ".sheet.jpg");
            SampleSheet.Save(sheet, ["photo (not trained on)", .. models.Select(m => m.Title)], rows);
            Packaging.DisposeRows(rows);

            var inv = CultureInfo.InvariantCulture;
            var table = new StringBuilder();
            table.AppendLine(inv, $"| {o.Name} ({photos.Count} held-out photos at {SampleSheet.CellWidth}×{SampleSheet.CellHeight}) | gradient energy / photo's | same, off outlines (> 2 px from Canny edges) | outline pixels (Canny {CannyLow}/{CannyHigh}) |");
            table.AppendLine("| --- | ---: | ---: | ---: |");
            table.AppendLine(inv, $"| photo | 1.000 | 1.000 | {photoOutline / photos.Count:0.0%} |");
            for (int m = 0; m < models.Count; m++)
            {
                table.AppendLine(inv, $"| {models[m].Title} | {energy[m] / photos.Count:0.000} | {region[m] / photos.Count:0.000} | {outline[m] / photos.Count:0.0%} |");
            }

            File.WriteAllText(Path.Combine(o.OutDir, o.Name + ".flatness.md"), table.ToString());
            Console.Write(table);
            Console.WriteLine($"cartoon-eval '{o.Name}': {sheet}");
        }
        finally
        {
            foreach (var m in models)
            {
                m.Model.Dispose();
            }
        }

        return 0;
    }

    /// <summary>Mean over pixels of the squared luma gradient (horizontal + vertical neighbour differences, luma in [0,1]).</summary>
    public static double GradientEnergy(Mat bgr) => GradientEnergy(bgr, null);

    /// <summary>
    /// <see cref="GradientEnergy(Mat)"/> over the pixels more than 2 px from the image's own Canny edges: how flat the regions
    /// between the outlines are (outlines themselves add a lot of gradient energy to a cartoon).
    /// </summary>
    public static double RegionEnergy(Mat bgr)
    {
        using var grey = new Mat();
        Cv2.CvtColor(bgr, grey, ColorConversionCodes.BGR2GRAY);
        using var edges = new Mat();
        Cv2.Canny(grey, edges, CannyLow, CannyHigh);
        using var kernel = Cv2.GetStructuringElement(MorphShapes.Rect, new OpenCvSharp.Size(5, 5));
        using var near = new Mat();
        Cv2.Dilate(edges, near, kernel);
        using var regions = new Mat();
        Cv2.BitwiseNot(near, regions);
        return GradientEnergy(bgr, regions);
    }

    private static double GradientEnergy(Mat bgr, Mat? mask)
    {
        using var luma = Luma(bgr);
        using var dx = new Mat();
        using var dy = new Mat();
        using var kx = Mat.FromPixelData(1, 2, MatType.CV_32F, new float[] { -1, 1 });
        using var ky = Mat.FromPixelData(2, 1, MatType.CV_32F, new float[] { -1, 1 });
        Cv2.Filter2D(luma, dx, MatType.CV_32F, kx, new Point(0, 0), 0, BorderTypes.Replicate);
        Cv2.Filter2D(luma, dy, MatType.CV_32F, ky, new Point(0, 0), 0, BorderTypes.Replicate);
        using var dx2 = new Mat();
        using var dy2 = new Mat();
        Cv2.Multiply(dx, dx, dx2);
        Cv2.Multiply(dy, dy, dy2);
        return mask is null ? Cv2.Mean(dx2).Val0 + Cv2.Mean(dy2).Val0 : Cv2.Mean(dx2, mask).Val0 + Cv2.Mean(dy2, mask).Val0;
    }

    /// <summary>Share of pixels on Canny edges of the image's luma (<see cref="CannyLow"/>/<see cref="CannyHigh"/>).</summary>
    public static double OutlineShare(Mat bgr)
    {
        using var grey = new Mat();
        Cv2.CvtColor(bgr, grey, ColorConversionCodes.BGR2GRAY);
        using var edges = new Mat();
        Cv2.Canny(grey, edges, CannyLow, CannyHigh);
        return Cv2.CountNonZero(edges) / (double)(edges.Width * edges.Height);
    }

    private static Mat Luma(Mat bgr)
    {
        using var grey = new Mat();
        Cv2.CvtColor(bgr, grey, ColorConversionCodes.BGR2GRAY);
        var f = new Mat();
        grey.ConvertTo(f, MatType.CV_32F, 1 / 255.0);
        return f;
    }
}
