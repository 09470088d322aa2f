using TorchSharp;
using Video.Training.Data;
using Video.Training.Internal;
using Video.Training.Losses;
using Video.Training.Models;
using static TorchSharp.torch;

namespace Video.Training.Methods;

/// <summary>Options of per-style feed-forward training (Johnson et al. 2016, with the cheap generator).</summary>
public sealed record FastOptions : RunOptions
{
    public FastOptions()
    {
        Steps = 3000;
        Crop = 160;
        StyleWeight = 10;
    }

    public required string Style { get; init; }

    public int ContentShortSide { get; init; } = 200;

    public int StyleLongSide { get; init; } = 320;

    /// <summary>Reflection padding in the generator (<see cref="StylizerSpec.CheapReflect"/>); may be switched on when resuming.</summary>
    public bool ReflectPad { get; init; }

    /// <summary>
    /// Weight of the temporal loss (<see cref="TemporalLoss"/>; 0 = off). When on, half of each batch are crops and the
    /// other half their randomly moved copies, so a step costs about the same; may be switched on when resuming.
    /// </summary>
    public double TemporalWeight { get; init; }
}

/// <summary>Trains one <see cref="FastStylizer"/> for one style image; checkpoints to the run directory and resumes from it.</summary>
public static class FastMethod
{
    public const string WeightsFile = "generator.bin";

    public static int Run(FastOptions o, ILossNetwork net)
    {
        bool temporal = o.TemporalWeight != 0;
        if (temporal && (o.TemporalWeight < 0 || !double.IsFinite(o.TemporalWeight) || o.Batch < 2 || o.Batch % 2 != 0))
        {
            throw new TrainingDataException($"--temporal-weight needs a positive weight and an even --batch of at least 2 (half crops, half their moved copies); got {o.TemporalWeight} and {o.Batch}");
        }

        var previous = TrainingSession.Previous(o);
        torch.manual_seed(o.Seed);
        using var content = ImageFolder.Load(o.ContentDir, o.ContentShortSide, o.HoldoutEvery, o.ContentLimit);
        Console.WriteLine($"fast '{o.Name}': {content.Count} training images from {content.Directory} ({content.HeldOutFiles.Count} held out, {content.Unreadable} unreadable skipped); style {Path.GetFileName(o.Style)}");
        using var style = ImageTensors.LoadStyle(o.Style, o.StyleLongSide).unsqueeze(0);
        Tensor[] grams;
        using (torch.no_grad())
        {
            grams = net.Features(style).Select(f => StyleLosses.Gram(f).DetachFromDisposeScope()).ToArray();
        }

        var model = new FastStylizer(o.ReflectPad ? StylizerSpec.CheapReflect : StylizerSpec.Cheap);
        model.SetStyleColour(style);
        var opt = torch.optim.Adam(model.parameters(), lr: o.LearningRate);
        var session = TrainingSession.Start(o, previous, () => new RunState
        {
            Method = "fast",
            Name = o.Name,
            Command = o.Command,
            GitCommit = RunState.CurrentGitCommit(),
            StartedAt = DateTime.UtcNow.ToString("O"),
            LossNetwork = net.Description,
            StyleFiles = [Path.GetFileName(o.Style)],
        }, model, opt, WeightsFile);
        var state = session.State;
        state.Unreadable = content.Unreadable;
        state.HeldOutContent = content.HeldOutFiles.Select(Path.GetFileName).ToList()!;
        state.Data = $"{content.TrainFiles.Count} photos of {Path.GetFileName(Path.GetFullPath(o.ContentDir).TrimEnd('/'))}/ (every {o.HoldoutEvery}th file by name held out for sample sheets; {content.Unreadable} unreadable skipped), random {o.Crop}px crops of images scaled to a {o.ContentShortSide}px short side, batch {o.Batch}; style {Path.GetFileName(o.Style)} at {o.StyleLongSide}px long side";
        if (temporal)
        {
            state.TemporalWeight = o.TemporalWeight;
            state.Data += $"; temporal loss (weight {o.TemporalWeight}): each batch is {o.Batch / 2} crops and their copies moved by a random affine warp (shift <= {TemporalLoss.MaxShiftPixels} px, rotation <= {TemporalLoss.MaxRotationDegrees} deg, scale {TemporalLoss.MinScale}-{TemporalLoss.MaxScale}) plus noise (std {TemporalLoss.NoiseStd * 255:0.#}/255)";
        }

        session.RecordOptions(o);

        model.train();
        session.Run($"fast '{o.Name}'", $"fast '{o.Name}' ({Path.GetFileName(o.Style)})", rng =>
        {
            Tensor x, grid = null!;
            int half = o.Batch / 2;
            if (temporal)
            {
                var crops = content.SampleBatch(rng, half, o.Crop);
                grid = TemporalLoss.Grid(TemporalLoss.RandomAffine(rng, half, crops.shape[2], crops.shape[3]), crops.shape[2], crops.shape[3]);
                x = torch.cat([crops, TemporalLoss.MovedCopy(crops, grid)], 0);
            }
            else
            {
                x = content.SampleBatch(rng, o.Batch, o.Crop);
            }

            opt.zero_grad();
            var y = model.forward(x);
            Tensor target;
            using (torch.no_grad())
            {
                target = net.Features(x)[net.ContentLayer];
            }

            var feats = net.Features(y);
            var lc = StyleLosses.ContentLoss(feats[net.ContentLayer], target);
            var ls = StyleLosses.GramLoss(feats, grams);
            var ltv = StyleLosses.TotalVariation(y);
            if (!temporal)
            {
                return LossTerms.BackwardAndStep(opt, ("content", o.ContentWeight, lc), ("style", o.StyleWeight, ls), ("tv", o.TvWeight, ltv));
            }

            var lt = TemporalLoss.Of(y.narrow(0, 0, half), y.narrow(0, half, half), grid);
            return LossTerms.BackwardAndStep(opt, ("content", o.ContentWeight, lc), ("style", o.StyleWeight, ls), ("tv", o.TvWeight, ltv), ("temporal", o.TemporalWeight, lt));
        });
        foreach (var g in grams)
        {
            g.Dispose();
        }

        if (o.OutDir is not null)
        {
            Packaging.PackageFast(o.RunDir, o.OutDir, o.ContentDir, o.Style);
        }

        return 0;
    }
}
