namespace Video.Capture;

/// <summary>
/// Finds the project's shared data folder (real photos, artworks, faces and clips, read-only): <c>VIDEO_SHARED_DATA</c>,
/// else the first <c>shared/data</c> folder above the current directory or the program's directory (the repository sits
/// beside <c>shared/</c>). The only place that knows where the data lives.
/// </summary>
public static class SharedDataLocator
{
    public const string EnvironmentVariable = "VIDEO_SHARED_DATA";

    /// <summary>The folder, or <see langword="null"/> when there is none.</summary>
    public static string? Find()
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env)
        {
            return Directory.Exists(env) ? Path.GetFullPath(env) : null;
        }

        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "shared", "data");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
