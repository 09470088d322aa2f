using System.CommandLine;
using System.Globalization;
using System.Text;
using Video.Capture;
using Video.Streaming.Client;
using Video.Streaming.Protos.V1;

namespace Video.Streaming.Cli;

/// <summary>
/// <c>video loadtest SERVER[,SERVER…] [--streams N[,N…]] [--seconds S] [--fps F] [--size WxH[@FPS][,…]] [--policy latest|all[,…]] [--model M[,M…]] [--mix [--switch-every S]] [--style IMAGE]</c>.
/// </summary>
/// <remarks>
/// Lists make a matrix: every policy × model × size × stream count runs against every server in turn, so
/// servers with different settings (e.g. batching off and on) are measured side by side in one run; figures
/// for a later server are also given as ratios to the first. With <c>--mix</c>, the model × size cases run side by
/// side instead, the streams moving from case to case (a soak of mixed sizes and models against one node).
/// </remarks>
internal static class LoadtestCommand
{
    public static Command Create()
    {
        var server = new Argument<string>("server") { Description = "Server address HOST:PORT or http(s)://HOST:PORT; several, comma-separated, are measured side by side" };
        var streams = new Option<string>("--streams") { Description = "Concurrent streams (a comma-separated list runs each)", DefaultValueFactory = _ => "4" };
        var seconds = new Option<double>("--seconds") { Description = "How long each stream sends, from its first frame, per case", DefaultValueFactory = _ => 10 };
        var fps = new Option<double>("--fps") { Description = "Frames per second each stream sends", DefaultValueFactory = _ => 15 };
        var size = new Option<string>("--size") { Description = "Frame size WxH, or WxH@FPS to send that size at its own rate (a comma-separated list runs each)", DefaultValueFactory = _ => "320x180" };
        var policy = new Option<string>("--policy") { Description = "latest (live, drops) or all (lossless, backpressure); 'latest,all' runs both", DefaultValueFactory = _ => "latest" };
        var model = new Option<string?>("--model", "-m") { Description = "Model name (default: the server's default; a comma-separated list runs each)" };
        var queue = new Option<string>("--queue") { Description = "Live queue length asked for (policy latest; 0 = the server's default; a comma-separated list runs each)", DefaultValueFactory = _ => "0" };
        var warmup = new Option<double>("--warmup") { Description = "Seconds after each stream's first frame whose latencies are not counted (plans are built on the first frame)", DefaultValueFactory = _ => 1 };
        var apiKey = new Option<string?>("--api-key") { Description = "API key (default: $VIDEO_API_KEY)" };
        var mix = new Option<bool>("--mix") { Description = "Run the model x size cases side by side: stream i starts at case i*C/N and moves to the next case (on a new stream) every --switch-every seconds, for --seconds in all" };
        var switchEvery = new Option<double>("--switch-every") { Description = "With --mix: seconds a stream runs one case before it moves on", DefaultValueFactory = _ => 30 };
        var style = new Option<string?>("--style") { Description = "Style image registered for every model that needs one (AdaIN)" };
        var command = new Command("loadtest", "Open N streams of synthetic frames against a server; report frames/s, p50/p95/p99 latency, drops and batch size per case")
        {
            server, streams, seconds, fps, size, policy, model, queue, warmup, apiKey, mix, switchEvery, style,
        };
        command.SetAction(async (parse, ct) =>
        {
            double s = parse.GetValue(seconds), rate = parse.GetValue(fps), warm = parse.GetValue(warmup), every = parse.GetValue(switchEvery);
            var counts = List<int>(parse.GetValue(streams)!, "--streams", v => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 256 ? n : null);
            if (s is <= 0 or > 3600 || rate is <= 0 or > 240 || warm < 0 || warm >= s)
            {
                throw new VideoException("--streams must be 1..256, --seconds 0..3600, --fps 0..240 and --warmup 0..seconds");
            }

            var queues = List<int>(parse.GetValue(queue)!, "--queue", v => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int q) && q <= 8 ? q : null);
            var sizes = List(parse.GetValue(size)!, "--size", SizeAndRate);
            bool mixed = parse.GetValue(mix);
            if (mixed && (every <= warm || every > s))
            {
                throw new VideoException($"--switch-every {every.ToString(CultureInfo.InvariantCulture)} must be more than --warmup and at most --seconds");
            }

            string? styleImage = parse.GetValue(style);
            if (styleImage is not null)
            {
                MediaProbe.CheckReadable(styleImage);
            }

            var policies = List(parse.GetValue(policy)!, "--policy", v => v switch { "latest" => Policy.Latest, "all" => Policy.All, _ => (Policy?)null });
            var models = parse.GetValue(model) is { } m ? Names(m, "--model") : [string.Empty];
            var addresses = Names(parse.GetValue(server)!, "server");
            string key = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("VIDEO_API_KEY") ?? string.Empty;

            var clients = addresses.Select(a => new StylizeClient(a, new StylizeClientOptions { ApiKey = key })).ToList();
            try
            {
                var labels = new List<string>();
                foreach (var client in clients)
                {
                    labels.Add(await LabelAsync(client, ct).ConfigureAwait(false));
                }

                bool matrix = clients.Count > 1 || queues.Count > 1 || counts.Count > 1 || sizes.Count > 1 || policies.Count > 1 || models.Count > 1;
                var rows = new List<(Case Case, int Server, LoadTestResult Result)>();
                // Queue lengths and servers vary innermost, so the runs a ratio compares are measured next to each other.
                var mixCases = mixed ? MixCases(models, sizes, rate) : [];
                var cases = (from p in policies
                             from name in mixed ? [string.Empty] : models
                             from size in mixed ? [sizes[0]] : sizes
                             from n in counts
                             from q in p == Policy.Latest ? queues : [0]
                             select new Case(p, name, size.Width, size.Height, n, q, size.Fps ?? rate)).Distinct().ToList();
                foreach (var c in cases)
                {
                    for (int i = 0; i < clients.Count; i++)
                    {
                        var options = new LoadTestOptions
                        {
                            Streams = c.Streams,
                            Duration = TimeSpan.FromSeconds(s),
                            Fps = c.Fps,
                            Width = c.Width,
                            Height = c.Height,
                            Policy = c.Policy,
                            Model = c.Model,
                            Warmup = TimeSpan.FromSeconds(warm),
                            QueueCapacity = c.Queue,
                            Mix = mixCases,
                            SwitchEvery = TimeSpan.FromSeconds(every),
                            StyleImage = styleImage,
                        };
                        string what = mixed ? $"a mix of {mixCases.Count} cases (new case every {every:0.#} s)" : $"{c.Width}x{c.Height} RGB24 at {c.Fps:0.#} fps";
                        Console.Out.WriteLine($"loadtest: {c.Streams} stream(s) of {what} for {s:0.#} s, policy {PolicyName(c.Policy)}{(c.Queue > 0 ? $" (queue {c.Queue})" : string.Empty)}, against {clients[i].Address} ({labels[i]})");
                        var result = await LoadTest.RunAsync(clients[i], options, ct).ConfigureAwait(false);
                        Console.Out.WriteLine(result.ToString());
                        rows.Add((c, i, result));
                        if (mixed)
                        {
                            Console.Out.Write(MixTable(result));
                        }
                    }
                }

                if (matrix && !mixed)
                {
                    Console.Out.Write(Table(rows, labels));
                }
            }
            finally
            {
                foreach (var c in clients)
                {
                    c.Dispose();
                }
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The markdown tables: one row per case and server, then ratios of each later server to the first.</summary>
    internal static string Table(IReadOnlyList<(Case Case, int Server, LoadTestResult Result)> rows, IReadOnlyList<string> labels)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine();
        sb.AppendLine("| policy | model | size | streams | server | sent | received | dropped | frames/s | p50 ms | p95 ms | p99 ms | server queue / inference / total ms (mean) | mean batch |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (c, i, r) in rows)
        {
            sb.AppendLine(inv, $"| {PolicyName(c.Policy)}{(c.Queue > 0 ? $" (queue {c.Queue})" : string.Empty)} | {r.Model} | {c.Width}x{c.Height} | {c.Streams} | {labels[i]} | {r.FramesSent} | {r.FramesReceived} | {r.FramesDropped} ({r.DropPercent:0.0} %) | {r.Fps:0.0} | {r.P50Ms:0.0} | {r.P95Ms:0.0} | {r.P99Ms:0.0} | {r.MeanQueueMs:0.0} / {r.MeanInferenceMs:0.0} / {r.MeanServerTotalMs:0.0} | {r.MeanBatch:0.00} |");
        }

        if (labels.Count > 1)
        {
            sb.AppendLine();
            sb.AppendLine(inv, $"Ratios to `{labels[0]}` (same case, measured next to it):");
            sb.AppendLine();
            sb.AppendLine("| policy | model | size | streams | server | frames/s | p50 | p95 | p99 | dropped % (them / first) |");
            sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            foreach (var group in rows.GroupBy(r => r.Case))
            {
                var first = group.FirstOrDefault(r => r.Server == 0).Result;
                if (first is null)
                {
                    continue;
                }

                foreach (var (c, i, r) in group.Where(r => r.Server != 0))
                {
                    sb.AppendLine(inv, $"| {PolicyName(c.Policy)}{(c.Queue > 0 ? $" (queue {c.Queue})" : string.Empty)} | {r.Model} | {c.Width}x{c.Height} | {c.Streams} | {labels[i]} | {Ratio(r.Fps, first.Fps)} | {Ratio(r.P50Ms, first.P50Ms)} | {Ratio(r.P95Ms, first.P95Ms)} | {Ratio(r.P99Ms, first.P99Ms)} | {r.DropPercent:0.0} / {first.DropPercent:0.0} |");
                }
            }
        }

        return sb.ToString();
    }

    /// <summary>The mix's cases, every model at every size, ordered so that neighbouring cases differ in model and (with more than one size) in size.</summary>
    internal static List<StreamCase> MixCases(IReadOnlyList<string> models, IReadOnlyList<(int Width, int Height, double? Fps)> sizes, double defaultFps)
    {
        var cases = new List<StreamCase>();
        for (int shift = 0; shift < sizes.Count; shift++)
        {
            for (int m = 0; m < models.Count; m++)
            {
                var (w, h, fps) = sizes[(m + shift) % sizes.Count];
                cases.Add(new StreamCase(models[m], w, h, fps ?? defaultFps));
            }
        }

        return cases;
    }

    /// <summary>The markdown table of a mix: one row per case (frames/s is the case's share of the total).</summary>
    internal static string MixTable(LoadTestResult mix)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine();
        sb.AppendLine("| model | size | first opened at s | streams opened | sent | received | dropped | frames/s | p50 ms | p99 ms | server inference ms (mean) |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var r in mix.Cases)
        {
            sb.AppendLine(inv, $"| {r.Model} | {r.Width}x{r.Height} | {r.FirstOpened.TotalSeconds:0} | {r.StreamsOpened} | {r.FramesSent} | {r.FramesReceived} | {r.FramesDropped} ({r.DropPercent:0.0} %) | {r.Fps:0.00} | {r.P50Ms:0} | {r.P99Ms:0} | {r.MeanInferenceMs:0} |");
        }

        sb.AppendLine(inv, $"| all {mix.Cases.Count} cases | | {mix.Cases.Select(r => r.FirstOpened.TotalSeconds).DefaultIfEmpty().Max():0} (last case) | {mix.StreamsOpened} | {mix.FramesSent} | {mix.FramesReceived} | {mix.FramesDropped} ({mix.DropPercent:0.0} %) | {mix.Fps:0.00} | {mix.P50Ms:0} | {mix.P99Ms:0} | {mix.MeanInferenceMs:0} |");
        return sb.ToString();
    }

    /// <summary>WxH or WxH@FPS.</summary>
    private static (int Width, int Height, double? Fps)? SizeAndRate(string text)
    {
        int at = text.IndexOf('@', StringComparison.Ordinal);
        if (CommonOptions.ParseSize(at < 0 ? text : text[..at]) is not var (w, h))
        {
            return null;
        }

        if (at < 0)
        {
            return (w, h, null);
        }

        return double.TryParse(text[(at + 1)..], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double fps) && fps is > 0 and <= 240
            ? (w, h, fps)
            : throw new VideoException($"--size '{text}': the rate after @ must be frames per second in 0..240");
    }

    private static string Ratio(double a, double b) => b > 0 && double.IsFinite(a) ? (a / b).ToString("0.00", CultureInfo.InvariantCulture) : "–";

    private static async Task<string> LabelAsync(StylizeClient client, CancellationToken ct)
    {
        try
        {
            var models = await client.ListModelsAsync(ct).ConfigureAwait(false);
            return models.BatchMax > 1 ? $"batch {models.BatchMax}, {models.BatchDelayMs:0.#} ms" : "batch off";
        }
        catch (global::Grpc.Core.RpcException e)
        {
            throw new VideoException($"server {client.Address}: {e.StatusCode}: {StreamRoundTrip.Detail(e)}");
        }
    }

    private static string PolicyName(Policy p) => p == Policy.All ? "all" : "latest";

    private static List<string> Names(string value, string what)
    {
        var list = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
        return list.Count > 0 ? list : throw new VideoException($"{what} is empty");
    }

    private static List<T> List<T>(string value, string what, Func<string, T?> parse)
        where T : struct
    {
        var list = new List<T>();
        foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            list.Add(parse(part) ?? throw new VideoException($"{what}: '{part}' is not valid"));
        }

        return list.Count > 0 ? list : throw new VideoException($"{what} is empty");
    }

    /// <summary>One load-test case (everything but the server).</summary>
    internal readonly record struct Case(Policy Policy, string Model, int Width, int Height, int Streams, int Queue = 0, double Fps = 15);
}
