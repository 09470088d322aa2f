using System.Globalization;
using System.Text;
using Video.Capture;

namespace Video.Evaluation;

/// <summary>The off/flow (and temporal-loss) strips of the flicker table: frames of each stylized version side by side, made by ffmpeg.</summary>
/// <remarks>Stateless. A strip is written to a hidden temporary file and renamed when complete.</remarks>
public static class FlickerStrips
{
    /// <summary>
    /// Six consecutive frames side by side, scaled to 256 pixels wide: filter off on top, flow below, and the
    /// temporal-loss variant (filter off) at the bottom when there is one; the same with a crop when asked.
    /// </summary>
    public static async Task SaveAsync(FlickerTableRow row, FlickerTableRequest request, TextWriter log, CancellationToken cancellationToken)
    {
        int frames = request.Frames is { } n ? (int)Math.Min(n, int.MaxValue) : int.MaxValue;
        int start = Math.Max(0, Math.Min(request.StripStart, frames - 6));
        string name = $"{Path.GetFileNameWithoutExtension(row.Clip)}-{row.Model}";
        await StripAsync(row, start, null, Path.Combine(request.StripsDirectory!, name + ".png"), log, cancellationToken).ConfigureAwait(false);
        if (request.StripCrop is not null)
        {
            await StripAsync(row, start, request.StripCrop, Path.Combine(request.StripsDirectory!, name + "-detail.png"), log, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task StripAsync(FlickerTableRow row, int start, string? crop, string path, TextWriter log, CancellationToken cancellationToken)
    {
        string[] inputs = row.TemporalLossPath is null ? [row.OffPath, row.FlowPath] : [row.OffPath, row.FlowPath, row.TemporalLossPath];
        string each = $"select='between(n,{start},{start + 5})',{(crop is null ? string.Empty : $"crop={crop},")}scale=256:-2,tile=6x1";
        var graph = new StringBuilder();
        for (int i = 0; i < inputs.Length; i++)
        {
            graph.Append(CultureInfo.InvariantCulture, $"[{i}]{each}[r{i}];");
        }

        graph.Append(string.Concat(Enumerable.Range(0, inputs.Length).Select(i => $"[r{i}]"))).Append(CultureInfo.InvariantCulture, $"vstack=inputs={inputs.Length}");
        string temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileNameWithoutExtension(path)}.{Environment.ProcessId}.png");
        var args = new List<string> { "-nostdin", "-hide_banner", "-v", "error", "-y" };
        foreach (var input in inputs)
        {
            // A PNG sequence as video stylize writes it (frame_000000.png, …), or a video file.
            args.AddRange(input.EndsWith('/') ? ["-framerate", "25", "-i", Path.Combine(input, "frame_%06d.png")] : ["-i", input]);
        }

        args.AddRange(["-filter_complex", graph.ToString(), "-frames:v", "1", temp]);
        var (code, _, stderr) = await MediaTools.RunAsync("ffmpeg", args, cancellationToken).ConfigureAwait(false);
        if (code != 0 || !File.Exists(temp))
        {
            File.Delete(temp);
            throw new VideoException($"strip {path} failed: {stderr.Trim().Split('\n').LastOrDefault()}");
        }

        File.Move(temp, path, overwrite: true);
        log.WriteLine($"strip (frames {start}–{start + 5}, rows: off, flow{(row.TemporalLossPath is null ? string.Empty : ", temporal loss")}) → {path}");
    }
}
