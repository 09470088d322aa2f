using Video.Capture;

namespace Video.Inference;

/// <summary>The models installed in a directory: one JSON manifest beside each ONNX file.</summary>
/// <remarks>Immutable after construction; thread safe.</remarks>
public sealed class ModelCatalog
{
    /// <summary>The model used when none is named.</summary>
    public const string DefaultModelName = "toon";

    /// <summary>The suffix that names a model's int8 variant (<c>starry-night:int8</c>).</summary>
    public const string Int8Suffix = ":int8";

    private ModelCatalog(string directory, IReadOnlyList<ModelManifest> models, IReadOnlyList<string> problems)
    {
        Directory = directory;
        Models = models;
        Problems = problems;
    }

    public string Directory { get; }

    /// <summary>Valid manifests, sorted by name.</summary>
    public IReadOnlyList<ModelManifest> Models { get; }

    /// <summary>One line per manifest that could not be read.</summary>
    public IReadOnlyList<string> Problems { get; }

    /// <summary>Reads every <c>*.json</c> manifest in <paramref name="directory"/>.</summary>
    public static ModelCatalog Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new ModelException($"models directory not found: {directory}");
        }

        var models = new List<ModelManifest>();
        var problems = new List<string>();
        foreach (var path in System.IO.Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            try
            {
                models.Add(ModelManifest.Load(path));
            }
            catch (ModelException e)
            {
                problems.Add(e.Message);
            }
        }

        return new ModelCatalog(Path.GetFullPath(directory), models.OrderBy(m => m.Name, StringComparer.Ordinal).ToList(), problems);
    }

    /// <summary>
    /// The manifest <paramref name="nameOrManifest"/> names (see <see cref="Find"/>): a <c>.json</c> path (optionally
    /// with <c>:int8</c>) is read on its own, so it needs no models directory; a name is looked up in
    /// <see cref="ResolveDirectory"/>(<paramref name="explicitDirectory"/>).
    /// </summary>
    public static ModelManifest Open(string? explicitDirectory, string nameOrManifest)
    {
        string path = nameOrManifest.EndsWith(Int8Suffix, StringComparison.OrdinalIgnoreCase) ? nameOrManifest[..^Int8Suffix.Length] : nameOrManifest;
        var catalog = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? new ModelCatalog(Path.GetDirectoryName(Path.GetFullPath(path))!, [], [])
            : Load(ResolveDirectory(explicitDirectory));
        return catalog.Find(nameOrManifest);
    }

    /// <summary>
    /// The models directory: <paramref name="explicitDirectory"/>, else <c>VIDEO_MODELS</c>, else the first
    /// <c>models/</c> found walking up from the program's directory.
    /// </summary>
    public static string ResolveDirectory(string? explicitDirectory = null)
    {
        if (!string.IsNullOrEmpty(explicitDirectory))
        {
            return explicitDirectory;
        }

        if (Environment.GetEnvironmentVariable("VIDEO_MODELS") is { Length: > 0 } env)
        {
            return env;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models");
            if (System.IO.Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return Path.Combine(AppContext.BaseDirectory, "models");
    }

    /// <summary>
    /// Finds a model by name, or loads a manifest by path when <paramref name="nameOrManifest"/> ends in
    /// <c>.json</c>. Throws <see cref="ModelException"/> for unknown names and broken manifests.
    /// </summary>
    public ModelManifest Find(string nameOrManifest)
    {
        // NAME:int8 is the model's int8 variant (video models quantize NAME), wherever a model name is taken.
        if (nameOrManifest.EndsWith(Int8Suffix, StringComparison.OrdinalIgnoreCase))
        {
            var basis = Find(nameOrManifest[..^Int8Suffix.Length]);
            var int8 = basis.Int8 ?? throw new ModelException($"model '{basis.Name}' has no int8 variant (video models quantize {basis.Name} writes one)");
            return basis with { Name = basis.Name + Int8Suffix, Model = int8.Model, Int8 = null };
        }

        if (nameOrManifest.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            if (!File.Exists(nameOrManifest))
            {
                throw new ModelException($"manifest not found: {nameOrManifest}");
            }

            return ModelManifest.Load(nameOrManifest);
        }

        var match = Models.FirstOrDefault(m => string.Equals(m.Name, nameOrManifest, StringComparison.OrdinalIgnoreCase));
        if (match is not null)
        {
            return match;
        }

        // A broken manifest for the requested name is a better answer than "unknown model".
        string? problem = Problems.FirstOrDefault(p => p.Contains($"{Path.DirectorySeparatorChar}{nameOrManifest}.json", StringComparison.OrdinalIgnoreCase));
        if (problem is not null)
        {
            throw new ModelException(problem);
        }

        string known = Models.Count == 0 ? "none installed" : "installed: " + string.Join(", ", Models.Select(m => m.Name));
        throw new ModelException($"unknown model {UserText.Quote(nameOrManifest)} ({known})");
    }
}
