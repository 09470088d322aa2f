using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using Video.Inference;
using Video.Training.Data;
using Video.Training.Methods;
using static TorchSharp.torch;

namespace Video.Training.Internal;

/// <summary>
/// One session of a resumable training run: restores weights, optimizer, loss curve and state when resuming, runs the
/// step loop within the run's step and time budget with a progress line, and checkpoints every
/// <see cref="RunOptions.CheckpointEvery"/> steps and at the end.
/// </summary>
/// <remarks>Not thread safe; the model and optimizer are borrowed, not disposed.</remarks>
internal sealed class TrainingSession
{
    private readonly RunOptions _o;
    private readonly nn.Module _model;
    private readonly TorchSharp.Modules.OptimizerHelper _opt;
    private readonly string _weightsFile;
    private readonly IReadOnlyList<Companion> _companions;
    private readonly double _priorMinutes;
    private LossCurve _curve = new();
    private Stopwatch _clock = new();

    private TrainingSession(RunOptions o, RunState state, RunState? previous, nn.Module model, TorchSharp.Modules.OptimizerHelper opt, string weightsFile, IReadOnlyList<Companion> companions)
    {
        _o = o;
        _model = model;
        _opt = opt;
        _weightsFile = weightsFile;
        _companions = companions;
        State = state;
        if (previous is not null)
        {
            model.load(Path.Combine(o.RunDir, weightsFile));
            opt.load_state_dict(Path.Combine(o.RunDir, "optimizer.bin"));
            foreach (var c in companions)
            {
                c.Module.load(Path.Combine(o.RunDir, c.WeightsFile));
                if (c.Optimizer is not null)
                {
                    c.Optimizer.load_state_dict(Path.Combine(o.RunDir, c.OptimizerFile!));
                }
            }

            _curve = LossCurve.LoadCsv(Path.Combine(o.RunDir, "losses.csv"));
            Step = previous.Step;
            _priorMinutes = previous.Minutes;
            state.Command += " && " + o.Command;

            // The weights are the last session's work: its commit is the one to rebuild the trainer from (the command keeps the history).
            state.GitCommit = ModelProvenance.CurrentGitCommit();
            Console.WriteLine($"resuming at step {Step} ({_priorMinutes:0.0} min so far)");
        }

        state.TotalSteps = o.Steps;
    }

    public RunState State { get; }

    /// <summary>Steps trained so far in the whole run.</summary>
    public int Step { get; private set; }

    /// <summary>Creates the run directory and reads the state to resume (null for a new run); fails when --resume finds none.</summary>
    public static RunState? Previous(RunOptions o)
    {
        Directory.CreateDirectory(o.RunDir);
        var previous = o.Resume ? RunState.TryLoad(o.RunDir) : null;
        if (o.Resume && previous is null)
        {
            throw new TrainingDataException($"--resume: no state.json in {o.RunDir}");
        }

        return previous;
    }

    /// <summary>
    /// A module checkpointed and restored beside the model (a cartoon run's discriminators and projection heads), with its
    /// own optimizer when it has one (<paramref name="OptimizerFile"/> then names its file).
    /// </summary>
    public sealed record Companion(nn.Module Module, string WeightsFile, TorchSharp.Modules.OptimizerHelper? Optimizer = null, string? OptimizerFile = null);

    /// <summary>
    /// Starts the session: the previous state restored into <paramref name="model"/>, <paramref name="opt"/> and the
    /// <paramref name="companions"/>, or <paramref name="fresh"/>.
    /// </summary>
    public static TrainingSession Start(RunOptions o, RunState? previous, Func<RunState> fresh, nn.Module model, TorchSharp.Modules.OptimizerHelper opt, string weightsFile, params Companion[] companions) =>
        new(o, previous ?? fresh(), previous, model, opt, weightsFile, companions);

    /// <summary>Records this session's options (as given) in the state.</summary>
    public void RecordOptions<T>(T options)
        where T : RunOptions =>
        State.Options = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(JsonSerializer.Serialize(options, RunState.Json), RunState.Json)!;

    /// <summary>
    /// Runs <paramref name="trainStep"/> (one optimizer step inside its own dispose scope, returning its loss terms with the
    /// total as "loss") until the step count or the time budget is reached, then checkpoints and prints where it stopped.
    /// </summary>
    public void Run(string label, string plotTitle, Func<Random, Dictionary<string, double>> trainStep)
    {
        var rng = new Random(_o.Seed + Step);
        _clock = Stopwatch.StartNew();
        double budgetMinutes = _o.MaxMinutes - _priorMinutes;
        var progress = new ProgressReporter(_o.Steps, budgetMinutes, Step, _clock);
        var last = new Dictionary<string, double>();

        // Stop while the next step and the final checkpoint still fit in the budget, so a run never ends past it.
        double stepMinutes = 0;
        while (Step < _o.Steps && _clock.Elapsed.TotalMinutes + (2 * stepMinutes) + FinalCheckpointMinutes < budgetMinutes)
        {
            double started = _clock.Elapsed.TotalMinutes;
            using (var scope = torch.NewDisposeScope())
            {
                last = trainStep(rng);
                Step++;
                if (!double.IsFinite(last["loss"]))
                {
                    throw new TrainingDataException($"loss became {last["loss"]} at step {Step}; lower --lr");
                }
            }

            stepMinutes = Math.Max(stepMinutes * 0.9, _clock.Elapsed.TotalMinutes - started);
            _curve.Add(Step, last);
            progress.Report(Step, last);
            if (Step % _o.CheckpointEvery == 0)
            {
                Checkpoint(plotTitle);
            }
        }

        progress.Report(Step, last, force: true);
        progress.Finish();
        State.FinishedAt = DateTime.UtcNow.ToString("O");
        Checkpoint(plotTitle);
        Console.WriteLine($"{label}: stopped at step {Step} after {State.Minutes:0.0} min; run state in {_o.RunDir}");
    }

    /// <summary>Time kept for the last checkpoint (weights, optimizer, loss CSV and plot): 3 s.</summary>
    private const double FinalCheckpointMinutes = 0.05;

    private void Checkpoint(string plotTitle)
    {
        string weights = Path.Combine(_o.RunDir, _weightsFile);
        _model.save(weights + ".tmp");
        File.Move(weights + ".tmp", weights, overwrite: true);
        _opt.save_state_dict(Path.Combine(_o.RunDir, "optimizer.bin"));
        foreach (var c in _companions)
        {
            string file = Path.Combine(_o.RunDir, c.WeightsFile);
            c.Module.save(file + ".tmp");
            File.Move(file + ".tmp", file, overwrite: true);
            c.Optimizer?.save_state_dict(Path.Combine(_o.RunDir, c.OptimizerFile!));
        }
        State.Step = Step;
        State.Minutes = Math.Round(_priorMinutes + _clock.Elapsed.TotalMinutes, 2);
        State.Losses = LossCurve.Smoothed(_curve, 20);
        State.Save(_o.RunDir);
        _curve.SaveCsv(Path.Combine(_o.RunDir, "losses.csv"));
        _curve.SavePng(Path.Combine(_o.RunDir, "losses.png"), plotTitle);
    }
}
