using System.Text.Json;
using System.Text.Json.Serialization;

namespace Video.Training.Internal;

/// <summary>The resumable state of a training run (state.json in the run directory) and its provenance.</summary>
internal sealed class RunState
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Method { get; set; } = "";

    public string Name { get; set; } = "";

    public int Step { get; set; }

    public int TotalSteps { get; set; }

    public double Minutes { get; set; }

    public string Command { get; set; } = "";

    public string GitCommit { get; set; } = "";

    public string StartedAt { get; set; } = "";

    public string? FinishedAt { get; set; }

    public string LossNetwork { get; set; } = "";

    public string Data { get; set; } = "";

    public List<string> StyleFiles { get; set; } = [];

    public List<string> HeldOutStyleFiles { get; set; } = [];

    public List<string> HeldOutContent { get; set; } = [];

    public int Unreadable { get; set; }

    public Dictionary<string, double> Losses { get; set; } = [];

    /// <summary>Weight of the temporal loss in the latest session that used it (fast only; null: never used).</summary>
    public double? TemporalWeight { get; set; }

    public Dictionary<string, JsonElement> Options { get; set; } = [];

    public static RunState? TryLoad(string runDir)
    {
        var path = Path.Combine(runDir, "state.json");
        return File.Exists(path) ? JsonSerializer.Deserialize<RunState>(File.ReadAllText(path), Json) : null;
    }

    public void Save(string runDir)
    {
        var path = Path.Combine(runDir, "state.json");
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(this, Json));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The command line as the user would type it through the repository launcher.</summary>
    public static string CommandLine(IEnumerable<string> args) =>
        "./video train " + string.Join(' ', args.Select(a => a.Any(char.IsWhiteSpace) ? $"'{a}'" : a));
}
