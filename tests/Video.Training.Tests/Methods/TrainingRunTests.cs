using TorchSharp;
using Video.Training.Data;
using Video.Training.Internal;
using Video.Training.Losses;
using Video.Training.Methods;

namespace Video.Training.Tests.Methods;

/// <summary>Tiny end-to-end training runs on synthetic images: the loss goes down, checkpoints resume, packaging works.</summary>
public sealed class TrainingRunTests : IDisposable
{
    private readonly string _content = TestData.SyntheticFolder(6);
    private readonly string _runs = Directory.CreateTempSubdirectory("video-train-runs-").FullName;

    private static double Mean(IEnumerable<double> xs) => xs.Average();

    private static (double First, double Last) FirstLast(string runDir, string key, int n)
    {
        var rows = LossCurve.LoadCsv(Path.Combine(runDir, "losses.csv")).Rows;
        return (Mean(rows.Take(n).Select(r => r.Values[key])), Mean(rows.TakeLast(n).Select(r => r.Values[key])));
    }

    [Fact]
    public void FastRun_FewSteps_LossDecreasesAndResumes()
    {
        var style = TestData.SyntheticStyle(_runs);
        var run = Path.Combine(_runs, "fast");
        var o = new FastOptions
        {
            Name = "tiny", Style = style, ContentDir = _content, RunDir = run, Steps = 40, Batch = 2, Crop = 48, ContentShortSide = 56,
            StyleLongSide = 64, LearningRate = 5e-3, CheckpointEvery = 20, HoldoutEvery = 0, MaxMinutes = 5,
        };
        using (var net = new RandomLossNetwork())
        {
            Assert.Equal(0, FastMethod.Run(o, net));
        }

        var (first, last) = FirstLast(run, "loss", 5);
        Assert.True(last < first * 0.8, $"loss did not go down: first {first}, last {last}");

        using (var net = new RandomLossNetwork())
        {
            Assert.Equal(0, FastMethod.Run(o with { Steps = 45, Resume = true }, net));
        }

        var state = RunState.TryLoad(run)!;
        Assert.Equal(45, state.Step);
        Assert.Equal(45, LossCurve.LoadCsv(Path.Combine(run, "losses.csv")).Rows.Count);
        Assert.True(File.Exists(Path.Combine(run, "losses.png")));
    }

    [Fact]
    public void AdaInRun_FewSteps_LossDecreases()
    {
        var styles = TestData.SyntheticFolder(5, seed: 9);
        try
        {
            var run = Path.Combine(_runs, "adain");
            var o = new AdaInOptions
            {
                Name = "tiny-adain", ContentDir = _content, StyleDir = styles, RunDir = run, Steps = 40, Batch = 2, Crop = 48, ShortSide = 56,
                LearningRate = 3e-3, CheckpointEvery = 40, HoldoutEvery = 0, StyleHoldoutEvery = 0, MaxMinutes = 5,
            };
            using var net = new RandomLossNetwork();
            Assert.Equal(0, AdaInMethod.Run(o, net));
            var (first, last) = FirstLast(run, "loss", 5);
            Assert.True(last < first * 0.8, $"loss did not go down: first {first}, last {last}");
        }
        finally
        {
            Directory.Delete(styles, recursive: true);
        }
    }

    [Fact]
    public void ImageFolder_UnreadableFile_IsSkippedAndCounted()
    {
        File.WriteAllText(Path.Combine(_content, "broken.jpg"), "not a jpeg");
        using var folder = ImageFolder.Load(_content, 56, holdoutEvery: 0);
        Assert.Equal(1, folder.Unreadable);
        Assert.Equal(6, folder.Count);
    }

    [Fact]
    public void ImageFolder_EmptyFolder_ThrowsClearError()
    {
        var empty = Directory.CreateTempSubdirectory("video-train-empty-").FullName;
        try
        {
            var e = Assert.Throws<TrainingDataException>(() => ImageFolder.Load(empty, 56, 0));
            Assert.Contains("no images", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    [Fact]
    public void Cli_MissingDataFolder_OneLineErrorAndNonZeroExit()
    {
        var err = new StringWriter();
        var saved = Console.Error;
        Console.SetError(err);
        int code;
        try
        {
            code = TrainerCli.Run(["fast", "--name", "x", "--style", TestData.SyntheticStyle(_runs), "--content", Path.Combine(_runs, "nope"), "--run-dir", Path.Combine(_runs, "x")]);
        }
        finally
        {
            Console.SetError(saved);
        }

        Assert.NotEqual(0, code);
        var lines = err.ToString().Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("video-train: data folder not found", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Vgg19_StateDictRoundTrip_LoadsThroughPyBridge()
    {
        torch.manual_seed(4);
        var path = Path.Combine(_runs, "vgg19_synthetic.pt");
        using (var source = new Vgg19LossNetwork())
        {
            TorchSharp.PyBridge.PyBridgeModuleExtensions.save_py(source, path);
            using var loaded = Vgg19LossNetwork.Load(path);
            var x = torch.rand(1, 3, 32, 32);
            var a = source.Features(x);
            var b = loaded.Features(x);
            Assert.Equal(4, b.Length);
            Assert.Equal(512, b[3].shape[1]);
            for (int i = 0; i < a.Length; i++)
            {
                Assert.Equal(0, (a[i] - b[i]).abs().max().item<float>());
            }
        }
    }

    public void Dispose()
    {
        Directory.Delete(_content, recursive: true);
        Directory.Delete(_runs, recursive: true);
    }
}
