using System.Text.RegularExpressions;

namespace Video.Capture;

/// <summary>
/// Removes the hidden temporary outputs (<c>.NAME.partial-XXXXXXXX.EXT</c>, see <see cref="OutputTarget"/>) that a run
/// killed with SIGKILL leaves beside its output, so they do not pile up run after run.
/// </summary>
/// <remarks>
/// A concurrent run's temporary output must survive, so an entry is removed only when it is older than
/// <see cref="MinimumAge"/> (by its newest write, which a running encoder keeps moving) and no process holds a file
/// of it open (read from <c>/proc/*/fd</c>; where <c>/proc</c> is not there, nothing is removed). Best effort:
/// failures are ignored. Thread safe.
/// </remarks>
public static partial class StalePartialOutputs
{
    /// <summary>How old a temporary output must be before it counts as stale.</summary>
    public static readonly TimeSpan MinimumAge = TimeSpan.FromMinutes(10);

    /// <summary>Removes stale temporary outputs in <paramref name="directory"/>; returns the names removed.</summary>
    public static IReadOnlyList<string> Remove(string directory, TimeSpan? minimumAge = null)
    {
        var removed = new List<string>();
        try
        {
            if (!Directory.Exists(directory) || !Directory.Exists("/proc/self/fd"))
            {
                return removed;
            }

            var cutoff = DateTime.UtcNow - (minimumAge ?? MinimumAge);
            var candidates = new DirectoryInfo(directory).EnumerateFileSystemInfos(".*.partial-*")
                .Where(e => PartialName().IsMatch(e.Name) && NewestWrite(e) < cutoff)
                .ToList();
            if (candidates.Count == 0)
            {
                return removed;
            }

            var open = OpenFiles();
            foreach (var entry in candidates)
            {
                string full = entry.FullName;
                if (open.Any(o => o == full || o.StartsWith(full + "/", StringComparison.Ordinal)))
                {
                    continue;
                }

                try
                {
                    if (entry is DirectoryInfo d)
                    {
                        d.Delete(recursive: true);
                    }
                    else
                    {
                        entry.Delete();
                    }

                    removed.Add(entry.Name);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Someone else's file, or gone already.
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Cleaning is a courtesy; the run itself must not fail because of it.
        }

        return removed;
    }

    private static DateTime NewestWrite(FileSystemInfo entry)
    {
        var newest = entry.LastWriteTimeUtc;
        if (entry is DirectoryInfo d)
        {
            foreach (var f in d.EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
            {
                newest = f.LastWriteTimeUtc > newest ? f.LastWriteTimeUtc : newest;
            }
        }

        return newest;
    }

    /// <summary>Every path some process holds open, from the <c>/proc/PID/fd</c> links we may read.</summary>
    private static HashSet<string> OpenFiles()
    {
        var open = new HashSet<string>(StringComparer.Ordinal);
        foreach (var process in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(process), out _))
            {
                continue;
            }

            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(process, "fd")))
                {
                    if (new FileInfo(fd).LinkTarget is { } target)
                    {
                        open.Add(target);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended, or its descriptors are not ours to read.
            }
        }

        return open;
    }

    [GeneratedRegex(@"^\..+\.partial-[0-9a-f]{8}(\.[^./]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex PartialName();
}
