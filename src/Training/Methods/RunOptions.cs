namespace Video.Training.Methods;

/// <summary>
/// What every resumable training run (<see cref="FastOptions"/>, <see cref="AdaInOptions"/>) is told: where it writes,
/// what it reads, how long it runs and how it learns. Each method sets its own defaults in its constructor.
/// </summary>
/// <remarks>Serialised (camelCase) into <c>state.json</c> as the run's options; packaging reads <c>contentDir</c> from there.</remarks>
internal abstract record RunOptions
{
    public required string Name { get; init; }

    public required string ContentDir { get; init; }

    public required string RunDir { get; init; }

    /// <summary>Package the result into this folder when training stops (null: do not package).</summary>
    public string? OutDir { get; init; }

    public int Steps { get; init; }

    /// <summary>Wall-clock budget of the whole run, resumed sessions included.</summary>
    public double MaxMinutes { get; init; } = 30;

    public int Batch { get; init; } = 4;

    public int Crop { get; init; }

    public double ContentWeight { get; init; } = 1;

    public double StyleWeight { get; init; }

    public double TvWeight { get; init; } = 10;

    /// <summary>
    /// Weight of the mean squared logit change the network makes to (the colour transfer of) the photo; 0 = off. Where the
    /// change is large the sigmoid saturates, the loss gradient through it vanishes and the region stays black or white for
    /// good; this term's gradient does not vanish there. It also keeps the photo under the paint. May be switched on or
    /// changed when resuming.
    /// </summary>
    public double ChangeWeight { get; init; }

    public double LearningRate { get; init; } = 1e-3;

    public int CheckpointEvery { get; init; } = 100;

    /// <summary>Every n-th content file by name is held out for the sample sheets (0: none).</summary>
    public int HoldoutEvery { get; init; } = 8;

    public int? ContentLimit { get; init; }

    public int Seed { get; init; } = 1;

    public bool Resume { get; init; }

    /// <summary>The command line as typed; resumed sessions append theirs to the run's provenance.</summary>
    public string Command { get; init; } = "";
}
