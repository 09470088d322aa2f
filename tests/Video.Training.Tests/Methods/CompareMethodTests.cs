using OpenCvSharp;
using TorchSharp;
using Video.Training.Export;
using Video.Training.Methods;
using Video.Training.Models;

namespace Video.Training.Tests.Methods;

/// <summary>The quality comparison: a sheet with a column per model plus Gatys, and a distance table that tells models apart.</summary>
public sealed class CompareMethodTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("video-compare-").FullName;

    [Fact]
    public void Run_TwoModels_SheetHasEveryColumnAndTheTableTellsThemApart()
    {
        var content = TestData.SyntheticFolder(9);
        try
        {
            string style = TestData.SyntheticStyle(_dir);
            torch.manual_seed(4);
            string identity = Path.Combine(_dir, "near-identity.onnx");
            using (var m = new FastStylizer(StylizerSpec.CheapReflect))
            {
                OnnxExporter.ExportFast(m, identity); // an untrained generator is (nearly) its colour transfer
            }

            string noisy = Path.Combine(_dir, "noisy.onnx");
            using (var m = new FastStylizer(StylizerSpec.CheapReflect))
            {
                using (torch.no_grad())
                {
                    foreach (var p in m.parameters())
                    {
                        p.mul_(8); // large random weights: far from the photo
                    }
                }

                OnnxExporter.ExportFast(m, noisy);
            }

            var outDir = Path.Combine(_dir, "out");
            Assert.Equal(0, CompareMethod.Run(new CompareOptions
            {
                Name = "synthetic", Styles = [style], Models = [("near identity", identity), ("noisy", noisy)], ContentDir = content, OutDir = outDir,
                GatysSteps = 3, TablePhotos = 2,
            }));

            // Two held-out photos (every 8th of 9): a header, then one row each, four columns (photo, two models, Gatys).
            using var sheet = Cv2.ImRead(Path.Combine(outDir, "synthetic.compare.jpg"));
            Assert.Equal(4 * SampleSheet.CellWidth, sheet.Width);
            Assert.Equal(28 + (2 * SampleSheet.CellHeight), sheet.Height);

            var rows = File.ReadAllLines(Path.Combine(outDir, "synthetic.distances.md"));
            Assert.Equal(5, rows.Length);
            double Content(string row) => double.Parse(row.Split('|', StringSplitOptions.TrimEntries)[3], System.Globalization.CultureInfo.InvariantCulture);
            Assert.StartsWith("| near identity |", rows[2], StringComparison.Ordinal);
            Assert.StartsWith("| noisy |", rows[3], StringComparison.Ordinal);
            Assert.StartsWith("| Gatys", rows[4], StringComparison.Ordinal);
            Assert.True(Content(rows[2]) < Content(rows[3]), $"the near-identity model should be closer to the photos: {rows[2]} vs {rows[3]}");
        }
        finally
        {
            Directory.Delete(content, recursive: true);
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
