using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using Video.Training.Data;
using Video.Training.Internal;
using Video.Training.Losses;
using Video.Training.Models;
using static TorchSharp.torch;

namespace Video.Training.Methods;

/// <summary>Options of per-style feed-forward training (Johnson et al. 2016, with the cheap generator).</summary>
public sealed record FastOptions
{
    public required string Name { get; init; }

    public required string Style { get; init; }

    public required string ContentDir { get; init; }

    public required string RunDir { get; init; }

    public string? OutDir { get; init; }

    public int Steps { get; init; } = 3000;

    public double MaxMinutes { get; init; } = 30;

    public int Batch { get; init; } = 4;

    public int Crop { get; init; } = 160;

    public int ContentShortSide { get; init; } = 200;

    public int StyleLongSide { get; init; } = 320;

    public double ContentWeight { get; init; } = 1;

    public double StyleWeight { get; init; } = 10;

    public double TvWeight { get; init; } = 10;

    public double LearningRate { get; init; } = 1e-3;

    public int CheckpointEvery { get; init; } = 100;

    public int HoldoutEvery { get; init; } = 8;

    public int? ContentLimit { get; init; }

    public int Seed { get; init; } = 1;

    public bool Resume { get; init; }

    /// <summary>Reflection padding in the generator (<see cref="StylizerSpec.CheapReflect"/>); may be switched on when resuming.</summary>
    public bool ReflectPad { get; init; }

    public string Command { get; init; } = "";
}

/// <summary>Trains one <see cref="FastStylizer"/> for one style image; checkpoints to the run directory and resumes from it.</summary>
public static class FastMethod
{
    public const string WeightsFile = "generator.bin";

    public static int Run(FastOptions o, ILossNetwork net)
    {
        Directory.CreateDirectory(o.RunDir);
        var previous = o.Resume ? RunState.TryLoad(o.RunDir) : null;
        if (o.Resume && previous is null)
        {
            throw new TrainingDataException($"--resume: no state.json in {o.RunDir}");
        }

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
        var curve = new LossCurve();
        int step = 0;
        double priorMinutes = 0;
        var state = previous ?? new RunState
        {
            Method = "fast",
            Name = o.Name,
            Command = o.Command,
            GitCommit = RunState.CurrentGitCommit(),
            StartedAt = DateTime.UtcNow.ToString("O"),
            LossNetwork = net.Description,
            StyleFiles = [Path.GetFileName(o.Style)],
        };
        if (previous is not null)
        {
            model.load(Path.Combine(o.RunDir, WeightsFile));
            opt.load_state_dict(Path.Combine(o.RunDir, "optimizer.bin"));
            curve = LossCurve.LoadCsv(Path.Combine(o.RunDir, "losses.csv"));
            step = previous.Step;
            priorMinutes = previous.Minutes;
            state.Command += " && " + o.Command;
            Console.WriteLine($"resuming at step {step} ({priorMinutes:0.0} min so far)");
        }

        state.TotalSteps = o.Steps;
        state.Unreadable = content.Unreadable;
        state.HeldOutContent = content.HeldOutFiles.Select(Path.GetFileName).ToList()!;
        state.Data = $"{content.TrainFiles.Count} photos of {Path.GetFileName(Path.GetFullPath(o.ContentDir).TrimEnd('/'))}/ (every {o.HoldoutEvery}th file by name held out for sample sheets; {content.Unreadable} unreadable skipped), random {o.Crop}px crops of images scaled to a {o.ContentShortSide}px short side, batch {o.Batch}; style {Path.GetFileName(o.Style)} at {o.StyleLongSide}px long side";
        state.Options = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(JsonSerializer.Serialize(o, RunState.Json), RunState.Json)!;

        var rng = new Random(o.Seed + step);
        var clock = Stopwatch.StartNew();
        double budgetMinutes = o.MaxMinutes - priorMinutes;
        var progress = new ProgressReporter(o.Steps, budgetMinutes, step, clock);
        var last = new Dictionary<string, double>();
        model.train();
        void Checkpoint()
        {
            model.save(Path.Combine(o.RunDir, WeightsFile + ".tmp"));
            File.Move(Path.Combine(o.RunDir, WeightsFile + ".tmp"), Path.Combine(o.RunDir, WeightsFile), overwrite: true);
            opt.save_state_dict(Path.Combine(o.RunDir, "optimizer.bin"));
            state.Step = step;
            state.Minutes = Math.Round(priorMinutes + clock.Elapsed.TotalMinutes, 2);
            state.Losses = Smoothed(curve, 20);
            state.Save(o.RunDir);
            curve.SaveCsv(Path.Combine(o.RunDir, "losses.csv"));
            curve.SavePng(Path.Combine(o.RunDir, "losses.png"), $"fast '{o.Name}' ({Path.GetFileName(o.Style)})");
        }

        while (step < o.Steps && clock.Elapsed.TotalMinutes < budgetMinutes)
        {
            using (var scope = torch.NewDisposeScope())
            {
                var x = content.SampleBatch(rng, o.Batch, o.Crop);
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
                var loss = (o.ContentWeight * lc) + (o.StyleWeight * ls) + (o.TvWeight * ltv);
                loss.backward();
                opt.step();
                step++;
                last = new Dictionary<string, double>
                {
                    ["loss"] = loss.item<float>(), ["content"] = lc.item<float>(), ["style"] = ls.item<float>(), ["tv"] = ltv.item<float>(),
                };
                if (!double.IsFinite(last["loss"]))
                {
                    throw new TrainingDataException($"loss became {last["loss"]} at step {step}; lower --lr");
                }
            }

            curve.Add(step, last);
            progress.Report(step, last);
            if (step % o.CheckpointEvery == 0)
            {
                Checkpoint();
            }
        }

        progress.Report(step, last, force: true);
        progress.Finish();
        state.FinishedAt = DateTime.UtcNow.ToString("O");
        Checkpoint();
        Console.WriteLine($"fast '{o.Name}': stopped at step {step} after {state.Minutes:0.0} min; run state in {o.RunDir}");
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

    /// <summary>Mean of the last <paramref name="n"/> logged values of every loss term (the "final losses").</summary>
    internal static Dictionary<string, double> Smoothed(LossCurve curve, int n)
    {
        var rows = curve.Rows.TakeLast(n).ToList();
        if (rows.Count == 0)
        {
            return [];
        }

        return rows[0].Values.Keys.ToDictionary(k => k, k => Math.Round(rows.Average(r => r.Values.GetValueOrDefault(k)), 5));
    }
}
