using System.Globalization;
using System.Text;
using OpenCvSharp;
using TorchSharp;
using Video.Training.Data;
using Video.Training.Export;
using Video.Training.Losses;
using Video.Training.Models;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Methods;

/// <summary>Options of <see cref="CompareMethod"/>.</summary>
internal sealed record CompareOptions
{
    public required string Name { get; init; }

    /// <summary>Style images: one for a per-style model; for AdaIN, cycled over the rows.</summary>
    public required IReadOnlyList<string> Styles { get; init; }

    /// <summary>The model files to compare, in column order (e.g. today's, then the new one), each with its column title.</summary>
    public required IReadOnlyList<(string Title, string Path)> Models { get; init; }

    public required string ContentDir { get; init; }

    public required string OutDir { get; init; }

    /// <summary>Held-out photos on the sheet (the face row comes on top of these).</summary>
    public int SheetPhotos { get; init; } = 3;

    /// <summary>Held-out photos the distance table averages over.</summary>
    public int TablePhotos { get; init; } = 12;

    public int HoldoutEvery { get; init; } = 8;

    public int GatysSteps { get; init; } = 200;

    public double GatysStyleWeight { get; init; } = 50;

    /// <summary>Long side of the style image for its Gram targets (as the fast models were trained).</summary>
    public int StyleLongSide { get; init; } = 320;
}

/// <summary>
/// The quality comparison of docs/loss-network.md: a sheet of held-out photos | each model | Gatys on the pretrained
/// ResNet-18 (the best this network can paint, and the bar for the feed-forward models), and a table of style and
/// content distances measured with that network.
/// </summary>
/// <remarks>
/// Everything is measured at the models' working scale: outputs are halved (2×2 average) before the distances are
/// taken, and Gatys paints the halved photo, brought back to the cell size by the same detail-restoring upsample the models
/// use. Style distance: the relative Gram distance over the eight residual blocks to the style image at
/// <see cref="CompareOptions.StyleLongSide"/>; content distance: the relative distance of layer2.1 to the photo's.
/// </remarks>
internal static class CompareMethod
{
    public static int Run(CompareOptions o)
    {
        using var net = ResNet18LossNetwork.Load();
        var (_, heldOut) = ImageFolder.Split(ImageFolder.ListImages(o.ContentDir), o.HoldoutEvery);
        if (heldOut.Count == 0)
        {
            throw new TrainingDataException($"no held-out photos in {o.ContentDir}");
        }

        var runners = o.Models.Select(m => (m.Title, Run: Runner(m.Path))).ToList();
        try
        {
            var styleTargets = o.Styles.Select(s => Grams(net, s, o.StyleLongSide)).ToList();
            // The packaging sheet's rows: held-out photos, then one face (last) when the faces/ folder is there.
            var all = Packaging.SheetRows(o.ContentDir, heldOut.Select(Path.GetFileName).ToList()!);
            var sheetRows = all.Take(Math.Min(o.SheetPhotos, all.Count - 1)).Append(all[^1]).ToList();

            // Table: every model on TablePhotos held-out photos (+ the sheet's face), Gatys on the sheet rows only (it costs seconds a photo).
            var tablePhotos = heldOut.Take(o.TablePhotos).Union(sheetRows).ToList();
            var sums = runners.Select(_ => (Style: 0.0, Content: 0.0)).ToArray();
            var gatys = (Style: 0.0, Content: 0.0);
            var rows = new List<IReadOnlyList<Mat>>();
            for (int p = 0; p < tablePhotos.Count; p++)
            {
                using var scope = torch.NewDisposeScope();
                int s = p % o.Styles.Count;
                using var cell = SampleSheet.ContentCell(tablePhotos[p]);
                var x = ImageTensors.FromBgr(cell).unsqueeze(0);
                var outputs = runners.Select(r => r.Run(x, o.Styles[s])).ToList();
                for (int m = 0; m < outputs.Count; m++)
                {
                    var d = Distances(net, outputs[m], x, styleTargets[s]);
                    sums[m] = (sums[m].Style + d.Style, sums[m].Content + d.Content);
                }

                if (sheetRows.Contains(tablePhotos[p]))
                {
                    var reference = Gatys(net, x, styleTargets[s], o);
                    var d = Distances(net, reference, x, styleTargets[s]);
                    gatys = (gatys.Style + d.Style, gatys.Content + d.Content);
                    var row = new List<Mat> { cell.Clone() };
                    if (o.Styles.Count > 1)
                    {
                        row.Add(SampleSheet.FitCell(o.Styles[s]));
                    }

                    row.AddRange(outputs.Select(ImageTensors.ToBgr));
                    row.Add(ImageTensors.ToBgr(reference));
                    rows.Add(row);
                }

                Console.WriteLine($"compare '{o.Name}': {p + 1}/{tablePhotos.Count} {Path.GetFileName(tablePhotos[p])}");
            }

            Directory.CreateDirectory(o.OutDir);
            var titles = new List<string> { "photo (not trained on)" };
            if (o.Styles.Count > 1)
            {
                titles.Add("style");
            }

            titles.AddRange(runners.Select(r => r.Title));
            titles.Add("Gatys, ResNet-18 (reference)");
            string sheet = Path.Combine(o.OutDir, o.Name + ".compare.jpg");
            SampleSheet.Save(sheet, titles, rows);
            Packaging.DisposeRows(rows);

            var table = new StringBuilder();
            table.AppendLine(CultureInfo.InvariantCulture, $"| {o.Name} | style distance | content distance | photos |");
            table.AppendLine("| --- | ---: | ---: | ---: |");
            for (int m = 0; m < runners.Count; m++)
            {
                table.AppendLine(CultureInfo.InvariantCulture, $"| {runners[m].Title} | {sums[m].Style / tablePhotos.Count:0.000} | {sums[m].Content / tablePhotos.Count:0.000} | {tablePhotos.Count} |");
            }

            table.AppendLine(CultureInfo.InvariantCulture, $"| Gatys, ResNet-18 ({o.GatysSteps} L-BFGS steps, style weight {o.GatysStyleWeight}) | {gatys.Style / rows.Count:0.000} | {gatys.Content / rows.Count:0.000} | {rows.Count} |");
            File.WriteAllText(Path.Combine(o.OutDir, o.Name + ".distances.md"), table.ToString());
            Console.Write(table);
            Console.WriteLine($"compare '{o.Name}': {sheet}");
            foreach (var g in styleTargets.SelectMany(t => t))
            {
                g.Dispose();
            }
        }
        finally
        {
            foreach (var r in runners)
            {
                (r.Run.Target as IDisposable)?.Dispose();
            }
        }

        return 0;
    }

    /// <summary>Style and content distance of a model output (1×3×H×W at the cell size) for photo <paramref name="x"/>, at half size.</summary>
    internal static (double Style, double Content) Distances(ResNet18LossNetwork net, Tensor output, Tensor x, Tensor[] styleGrams)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var fy = net.Features(functional.avg_pool2d(output, 2, 2));
        var fx = net.Features(functional.avg_pool2d(x, 2, 2));
        return (StyleLosses.GramLoss(fy, styleGrams).item<float>(), StyleLosses.ContentLoss(fy[net.ContentLayer], fx[net.ContentLayer]).item<float>());
    }

    private static Tensor[] Grams(ResNet18LossNetwork net, string style, int longSide)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var s = ImageTensors.LoadStyle(style, longSide).unsqueeze(0);
        return net.Features(s).Select(f => StyleLosses.Gram(f).DetachFromDisposeScope()).ToArray();
    }

    /// <summary>Gatys et al. on the half-size photo (<see cref="GatysMethod.Paint"/>, L-BFGS), brought back to full size by the detail-restoring upsample.</summary>
    private static Tensor Gatys(ResNet18LossNetwork net, Tensor x, Tensor[] grams, CompareOptions o)
    {
        var low = functional.avg_pool2d(x, 2, 2);
        var painted = GatysMethod.Paint(net, low, grams, new GatysOptions("", "", "", Steps: o.GatysSteps, StyleWeight: o.GatysStyleWeight, Lbfgs: true));
        using (torch.no_grad())
        {
            return FastStylizer.DetailUpsample(x, low, painted);
        }
    }

    /// <summary>A function stylizing a 1×3×H×W frame with a model file (fast, or AdaIN with its style encoder beside it).</summary>
    private static Func<Tensor, string, Tensor> Runner(string path)
    {
        var main = new OrtModel(path);
        if (main.InputNames.Count == 1)
        {
            return new Closure(main, null).Fast;
        }

        var stylePath = Path.ChangeExtension(path, ".style.onnx");
        if (!File.Exists(stylePath))
        {
            main.Dispose();
            throw new TrainingDataException($"{path} takes style statistics but {stylePath} is missing");
        }

        return new Closure(main, new OrtModel(stylePath)).AdaIn;
    }

    /// <summary>Holds the sessions of a <see cref="Runner"/> (its <c>Target</c>) so they can be disposed.</summary>
    private sealed class Closure(OrtModel main, OrtModel? style) : IDisposable
    {
        public Tensor Fast(Tensor x, string _) => main.Run("input", x);

        public Tensor AdaIn(Tensor x, string stylePath) =>
            AdaInMethod.RunExported(main, style!, x, ImageTensors.Load(stylePath, AdaInMethod.StyleLongSide).unsqueeze(0), torch.tensor(new[] { 1f }));

        public void Dispose()
        {
            main.Dispose();
            style?.Dispose();
        }
    }
}
