using TorchSharp;
using Video.Inference;
using Video.Training.Data;
using Video.Training.Internal;
using Video.Training.Losses;
using Video.Training.Models;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Video.Training.Methods;

/// <summary>Options of per-style feed-forward training (Johnson et al. 2016, with the cheap generator).</summary>
internal sealed record FastOptions : RunOptions
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
    /// Pad once at the input instead of before every conv (<see cref="StylizerSpec.CheapPadOnce"/>, cheaper in
    /// ONNX Runtime; figures in docs/training.md); wins over <see cref="ReflectPad"/>; may be switched on when resuming.
    /// </summary>
    public bool PadOnce { get; init; }

    /// <summary>
    /// Show the loss network each step's images turned by a random multiple of 90° (targets turned the same way).
    /// A random loss network is not rotation invariant and the generator learns to exploit its preferred orientation
    /// (horizontal streaks); averaged over the four turns the losses have none. May be switched on when resuming.
    /// </summary>
    public bool IsotropicLoss { get; init; }

    /// <summary>Dilated residual convs (<see cref="StylizerSpec.Dilated"/>): a wider receptive field for the same cost; not switchable on resume.</summary>
    public bool Dilated { get; init; }

    /// <summary>The generator starts from the frame's luma (<see cref="StylizerSpec.Monochrome"/>); may be switched on when resuming.</summary>
    public bool Monochrome { get; init; }

    /// <summary>
    /// How many of the last upsampling stages are depthwise-separable (<see cref="StylizerSpec.CheapSeparable"/>; more than
    /// 0 implies <see cref="PadOnce"/>): other parameters, so a run starts fresh or from a <see cref="Teacher"/>; not
    /// switchable on resume.
    /// </summary>
    public int SeparableStages { get; init; }

    /// <summary>The generator design these options train.</summary>
    public StylizerSpec Spec => StylizerSpec.CheapWith(ReflectPad, PadOnce || SeparableStages > 0) with { Dilated = Dilated, Monochrome = Monochrome, SeparableStages = SeparableStages };

    /// <summary>
    /// Weight of the temporal loss (<see cref="TemporalLoss"/>; 0 = off). When on, half of each batch are crops and the
    /// other half their randomly moved copies, so a step costs about the same; may be switched on when resuming.
    /// </summary>
    public double TemporalWeight { get; init; }

    /// <summary>
    /// The generator sees crops this many pixels larger on every side than <see cref="RunOptions.Crop"/>, and the losses
    /// see only the inner <see cref="RunOptions.Crop"/> pixels of input and output (0 = the whole crop). The losses then
    /// never see an image border, so nothing rewards the generator for painting one differently: with the border in the
    /// loss, models painted bands and frames along it (docs/training.md).
    /// </summary>
    public int LossMargin { get; init; }

    /// <summary>
    /// Run directory of a trained fast model to distil from (null: train on the perceptual losses). The generator starts
    /// from the teacher's weights and learns to reproduce the teacher's output on whole crops, borders included: L1 plus
    /// <see cref="TextureWeight"/> × local texture statistics; the style and content losses are off. This moves a trained
    /// style into a cheaper design with the same parameters (<see cref="PadOnce"/>) without training the style again:
    /// only the border handling differs, and the crops' borders are in the loss.
    /// </summary>
    public string? Teacher { get; init; }

    /// <summary>With <see cref="Teacher"/>: weight of the local texture term (<see cref="FastMethod.LocalTextureLoss"/>) beside the L1.</summary>
    public double TextureWeight { get; init; }

    /// <summary>
    /// With <see cref="Teacher"/>: the L1 counts pixels within <see cref="FastMethod.BorderBand"/> of a crop's edge this
    /// many times more (0: all alike). The student's padding differs from the teacher's only there, and lines it paints
    /// along the border in flat regions are few pixels in a whole crop's mean.
    /// </summary>
    public double BorderWeight { get; init; }

    /// <summary>The design of a fast run from its recorded options (packaging and <see cref="Teacher"/>).</summary>
    public static StylizerSpec SpecOf(RunState state)
    {
        bool Flag(string option) => state.Options.TryGetValue(option, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.True;
        int separable = state.Options.TryGetValue("separableStages", out var n) && n.ValueKind == System.Text.Json.JsonValueKind.Number ? n.GetInt32() : 0;
        return StylizerSpec.CheapWith(reflectPad: Flag("reflectPad"), padOnce: Flag("padOnce") || separable > 0) with { Dilated = Flag("dilated"), Monochrome = Flag("monochrome"), SeparableStages = separable };
    }
}

/// <summary>Trains one <see cref="FastStylizer"/> for one style image; checkpoints to the run directory and resumes from it.</summary>
internal static class FastMethod
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
        if (previous is not null && FastOptions.SpecOf(previous).SeparableStages != o.SeparableStages)
        {
            throw new TrainingDataException($"--resume: {o.RunDir} was trained with --separable-up {FastOptions.SpecOf(previous).SeparableStages}; the design cannot change on resume");
        }
        torch.manual_seed(o.Seed);
        using var content = ImageFolder.Load(o.ContentDir, o.ContentShortSide, o.HoldoutEvery, o.ContentLimit);
        Console.WriteLine($"fast '{o.Name}': {content.Count} training images from {content.Directory} ({content.HeldOutFiles.Count} held out, {content.Unreadable} unreadable skipped); style {Path.GetFileName(o.Style)}");
        using var style = ImageTensors.LoadStyle(o.Style, o.StyleLongSide).unsqueeze(0);
        var grams = StyleTargets(net, style, o.IsotropicLoss);

        var model = new FastStylizer(o.Spec);
        model.SetStyleColour(style);
        var taught = o.Teacher is null ? null : TeacherRun(o);
        using var teacher = taught is null ? null : LoadTeacher(o, taught, model, fresh: previous is null);
        using var borderWeights = teacher is not null && o.BorderWeight > 0 ? BorderWeights(o.Crop, o.Crop, o.BorderWeight) : null;
        var opt = torch.optim.Adam(model.parameters(), lr: o.LearningRate);
        var session = TrainingSession.Start(o, previous, () => new RunState
        {
            Method = "fast",
            Name = o.Name,
            Command = o.Command,
            GitCommit = ModelProvenance.CurrentGitCommit(),
            StartedAt = DateTime.UtcNow.ToString("O"),
            LossNetwork = net.Description,
            StyleFiles = [Path.GetFileName(o.Style)],
        }, model, opt, WeightsFile);
        var state = session.State;
        state.Unreadable = content.Unreadable;
        state.HeldOutContent = content.HeldOutFiles.Select(Path.GetFileName).ToList()!;
        string margin = o.LossMargin > 0 ? $" (the generator sees {o.Crop + (2 * o.LossMargin)}px, the losses the inner {o.Crop}px)" : "";
        state.Data = $"{content.TrainFiles.Count} photos of {Path.GetFileName(Path.GetFullPath(o.ContentDir).TrimEnd('/'))}/ (every {o.HoldoutEvery}th file by name held out for sample sheets; {content.Unreadable} unreadable skipped), random {o.Crop}px crops{margin} of images scaled to a {o.ContentShortSide}px short side, batch {o.Batch}; style {Path.GetFileName(o.Style)} at {o.StyleLongSide}px long side";
        if (o.IsotropicLoss)
        {
            state.Data += "; loss network shown each step's images turned by a random multiple of 90 deg (isotropic loss)";
        }

        if (temporal)
        {
            state.TemporalWeight = o.TemporalWeight;
            state.Data += $"; temporal loss (weight {o.TemporalWeight}): each batch is {o.Batch / 2} crops and their copies moved by a random affine warp (shift <= {TemporalLoss.MaxShiftPixels} px, rotation <= {TemporalLoss.MaxRotationDegrees} deg, scale {TemporalLoss.MinScale}-{TemporalLoss.MaxScale}) plus noise (std {TemporalLoss.NoiseStd * 255:0.#}/255)";
        }

        if (taught is not null)
        {
            if (previous is null)
            {
                // The teacher's own commands come first: together they rebuild the student from nothing.
                state.Command = taught.Command + " && " + state.Command;
            }

            state.Data += $"; distilled from the trained run {Path.GetFileName(Path.GetFullPath(o.Teacher!).TrimEnd('/'))} ({TeacherDesign(teacher!.Spec)}): starts from its weights, L1 to its output on whole {o.Crop}px crops, borders included{(o.BorderWeight > 0 ? $" (pixels within {BorderBand}px of an edge weighted {1 + o.BorderWeight}x)" : "")}{(o.TextureWeight > 0 ? $", plus {o.TextureWeight} x local texture statistics (mean and mean square of the loss network's maps up to the content layer over 4x4 windows) against its output" : "")}; no style or content losses";
            state.Data += $"; teacher: {taught.Step} steps, {taught.Minutes:0.#} min, final losses {string.Join(", ", taught.Losses.Select(l => $"{l.Key} {l.Value:0.#####}"))}";
        }

        session.RecordOptions(o);

        model.train();
        session.Run($"fast '{o.Name}'", $"fast '{o.Name}' ({Path.GetFileName(o.Style)})", rng =>
        {
            if (teacher is not null)
            {
                return DistilStep(model, teacher, net, o.TextureWeight, borderWeights, opt, content.SampleBatch(rng, o.Batch, o.Crop));
            }

            Tensor x, grid = null!;
            int half = o.Batch / 2;
            if (temporal)
            {
                var crops = content.SampleBatch(rng, half, o.Crop + (2 * o.LossMargin));
                grid = TemporalLoss.Grid(TemporalLoss.RandomAffine(rng, half, crops.shape[2], crops.shape[3]), crops.shape[2], crops.shape[3]);
                x = torch.cat([crops, TemporalLoss.MovedCopy(crops, grid)], 0);
            }
            else
            {
                x = content.SampleBatch(rng, o.Batch, o.Crop + (2 * o.LossMargin));
            }

            opt.zero_grad();
            var z = model.LogitChange(x);
            var y = model.Apply(z, x);
            var (xi, yi) = (Inner(x, o.LossMargin), Inner(y, o.LossMargin));
            var (lc, ls) = PerceptualLosses(net, xi, yi, grams, rng.Next(grams.Length));
            var ltv = StyleLosses.TotalVariation(yi);
            var terms = new List<(string, double, Tensor)> { ("content", o.ContentWeight, lc), ("style", o.StyleWeight, ls), ("tv", o.TvWeight, ltv) };
            if (o.ChangeWeight > 0)
            {
                terms.Add(("change", o.ChangeWeight, Inner(z, o.LossMargin).square().mean()));
            }

            if (temporal)
            {
                terms.Add(("temporal", o.TemporalWeight, TemporalLoss.Of(y.narrow(0, 0, half), y.narrow(0, half, half), grid)));
            }

            return LossTerms.BackwardAndStep(opt, [.. terms]);
        });
        foreach (var g in grams.SelectMany(t => t))
        {
            g.Dispose();
        }

        if (o.OutDir is not null)
        {
            Packaging.PackageFast(o.RunDir, o.OutDir, o.ContentDir, o.Style);
        }

        return 0;
    }

    /// <summary>The recorded state of <see cref="FastOptions.Teacher"/>; fails unless it is a fast run with its weights.</summary>
    private static RunState TeacherRun(FastOptions o)
    {
        var state = RunState.TryLoad(o.Teacher!);
        if (state is null || state.Method != "fast" || !File.Exists(Path.Combine(o.Teacher!, WeightsFile)))
        {
            throw new TrainingDataException($"--teacher: {o.Teacher} is not a fast run directory (needs state.json of a fast run and {WeightsFile})");
        }

        return state;
    }

    /// <summary>
    /// Loads the teacher run (<paramref name="state"/>, frozen, eval) and, for a <paramref name="fresh"/> run, starts
    /// <paramref name="student"/> from its weights. The two designs must have the same parameters.
    /// </summary>
    private static FastStylizer LoadTeacher(FastOptions o, RunState state, FastStylizer student, bool fresh)
    {
        string weights = Path.Combine(o.Teacher!, WeightsFile);
        var spec = FastOptions.SpecOf(state);
        if (spec.Dilated != student.Spec.Dilated || spec.Monochrome != student.Spec.Monochrome)
        {
            throw new TrainingDataException($"--teacher: the teacher is {TeacherDesign(spec)}; give the student the same --dilated and --monochrome");
        }

        var teacher = new FastStylizer(spec);
        teacher.load(weights);
        teacher.eval();
        foreach (var p in teacher.parameters())
        {
            p.requires_grad = false;
        }

        string start = "";
        if (fresh)
        {
            start = ", starting from its weights";
            if (spec.SeparableStages == student.Spec.SeparableStages)
            {
                student.load(weights);
            }
            else
            {
                var left = StartFromShared(student, teacher);
                start += $" where the designs share a layer (new: {string.Join(", ", left)})";
            }
        }

        Console.WriteLine($"distilling from {o.Teacher} ({TeacherDesign(spec)}){start}");
        return teacher;
    }

    private static string TeacherDesign(StylizerSpec s) =>
        $"{(s.InputPad > 0 ? "pad once" : s.ReflectPad ? "reflection padding" : "zero padding")}{(s.Dilated ? ", dilated" : "")}{(s.Monochrome ? ", monochrome" : "")}{(s.SeparableStages > 0 ? $", {s.SeparableStages} separable upsampling stage{(s.SeparableStages > 1 ? "s" : "")}" : "")}";

    /// <summary>
    /// Copies every parameter and buffer of <paramref name="teacher"/> whose name and shape <paramref name="student"/> also
    /// has (the input, downsampling, residual and output convs and the colour statistics of a design with other upsampling
    /// stages) and returns the names of the student's parameters left at their initialisation.
    /// </summary>
    internal static List<string> StartFromShared(FastStylizer student, FastStylizer teacher)
    {
        var source = teacher.state_dict();
        var left = new List<string>();
        using (torch.no_grad())
        {
            foreach (var (name, t) in student.state_dict())
            {
                if (source.TryGetValue(name, out var s) && s.shape.SequenceEqual(t.shape))
                {
                    t.copy_(s);
                }
                else
                {
                    left.Add(name);
                }
            }
        }

        return left;
    }

    /// <summary>
    /// One distillation step: L1 between the student's and the frozen teacher's output on the same crops (weighted by
    /// <paramref name="borderWeights"/>, <see cref="BorderWeights"/> of the crop size, when given), plus
    /// <paramref name="textureWeight"/> × <see cref="LocalTextureLoss"/>. The student cannot always paint the teacher's
    /// strokes in the same place (near the border its padding differs), and L1 alone then rewards their blurred average.
    /// </summary>
    private static Dictionary<string, double> DistilStep(FastStylizer student, FastStylizer teacher, ILossNetwork net, double textureWeight, Tensor? borderWeights, torch.optim.Optimizer opt, Tensor x)
    {
        Tensor target;
        using (torch.no_grad())
        {
            target = teacher.forward(x);
        }

        opt.zero_grad();
        var y = student.forward(x);
        var diff = (y - target).abs();
        var l1 = borderWeights is null ? diff.mean() : (diff * borderWeights).mean();
        return textureWeight > 0
            ? LossTerms.BackwardAndStep(opt, ("teacher", 1.0, l1), ("texture", textureWeight, LocalTextureLoss(net, y, target)))
            : LossTerms.BackwardAndStep(opt, ("teacher", 1.0, l1));
    }

    /// <summary>Pixels within this many of a crop's edge get <see cref="FastOptions.BorderWeight"/> in the distillation L1.</summary>
    public const int BorderBand = 24;

    /// <summary>1×1×H×W weights with mean 1: <c>1 + weight</c> within <see cref="BorderBand"/> of an edge, 1 inside, normalised.</summary>
    internal static Tensor BorderWeights(long height, long width, double weight)
    {
        var w = torch.full(1, 1, height, width, 1.0f + (float)weight);
        long b = Math.Min(BorderBand, Math.Min(height, width) / 2);
        w[.., .., (int)b..(int)(height - b), (int)b..(int)(width - b)] = torch.tensor(1.0f);
        return w / w.mean();
    }

    /// <summary>
    /// How far the local texture of <paramref name="y"/> is from <paramref name="target"/>'s: per loss-network map up to
    /// the content layer, the mean and mean square of each channel over 4×4 windows of the map, as an L1 distance
    /// relative to the target's. Where the strokes are is free within a window; how strong and how dense they are is not.
    /// </summary>
    internal static Tensor LocalTextureLoss(ILossNetwork net, Tensor y, Tensor target)
    {
        Tensor[] want;
        using (torch.no_grad())
        {
            want = net.Features(target);
        }

        var got = net.Features(y);
        Tensor total = torch.zeros(1);
        int maps = net.ContentLayer + 1;
        for (int i = 0; i < maps; i++)
        {
            foreach (var (a, b) in new[] { (got[i], want[i]), (got[i].square(), want[i].square()) })
            {
                var pb = functional.avg_pool2d(b, 4, 4);
                total = total + ((functional.avg_pool2d(a, 4, 4) - pb).abs().mean() / (pb.abs().mean() + 1e-6));
            }
        }

        return total / (2 * maps);
    }

    /// <summary>
    /// The style image's Gram targets: <c>[k]</c> is what the loss network sees of it turned by k × 90°, k = 0..3 when
    /// <paramref name="isotropic"/>, else only k = 0. The caller disposes the tensors.
    /// </summary>
    internal static Tensor[][] StyleTargets(ILossNetwork net, Tensor style, bool isotropic)
    {
        var grams = new Tensor[isotropic ? 4 : 1][];
        using (torch.no_grad())
        {
            for (int k = 0; k < grams.Length; k++)
            {
                using var scope = torch.NewDisposeScope();
                grams[k] = net.Features(Turn(style, k)).Select(f => StyleLosses.Gram(f).DetachFromDisposeScope()).ToArray();
            }
        }

        return grams;
    }

    /// <summary>Content and Gram style loss of output <paramref name="y"/> for input <paramref name="x"/>, both seen turned by <paramref name="turn"/> × 90°.</summary>
    internal static (Tensor Content, Tensor Style) PerceptualLosses(ILossNetwork net, Tensor x, Tensor y, Tensor[][] grams, int turn)
    {
        Tensor target;
        using (torch.no_grad())
        {
            target = net.Features(Turn(x, turn))[net.ContentLayer];
        }

        var feats = net.Features(Turn(y, turn));
        return (StyleLosses.ContentLoss(feats[net.ContentLayer], target), StyleLosses.GramLoss(feats, grams[turn]));
    }

    /// <summary>The inner part of B×C×H×W <paramref name="x"/>, <paramref name="margin"/> pixels in from every side.</summary>
    private static Tensor Inner(Tensor x, int margin) => margin == 0 ? x : x[.., .., margin..^margin, margin..^margin];

    /// <summary><paramref name="x"/> (B×C×H×W) turned by <paramref name="quarterTurns"/> × 90°.</summary>
    private static Tensor Turn(Tensor x, int quarterTurns) => quarterTurns == 0 ? x : x.rot90(quarterTurns, (2, 3));
}
