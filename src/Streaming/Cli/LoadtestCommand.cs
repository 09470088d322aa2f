using System.CommandLine;
using Video.Capture;
using Video.Streaming.Client;
using Video.Streaming.Protos.V1;

namespace Video.Streaming.Cli;

/// <summary><c>video loadtest SERVER --streams N --seconds S [--fps F] [--size WxH] [--policy latest|all] [--model M]</c>.</summary>
internal static class LoadtestCommand
{
    public static Command Create()
    {
        var server = new Argument<string>("server") { Description = "Server address: HOST:PORT or http(s)://HOST:PORT" };
        var streams = new Option<int>("--streams") { Description = "Concurrent streams", DefaultValueFactory = _ => 4 };
        var seconds = new Option<double>("--seconds") { Description = "How long each stream sends", DefaultValueFactory = _ => 10 };
        var fps = new Option<double>("--fps") { Description = "Frames per second each stream sends", DefaultValueFactory = _ => 15 };
        var size = new Option<string>("--size") { Description = "Frame size WxH", DefaultValueFactory = _ => "320x180" };
        var policy = new Option<string>("--policy") { Description = "latest (live, drops) or all (lossless, backpressure)", DefaultValueFactory = _ => "latest" }
            .AcceptOnlyFromAmong("latest", "all");
        var model = new Option<string?>("--model", "-m") { Description = "Model name (default: the server's default)" };
        var apiKey = new Option<string?>("--api-key") { Description = "API key (default: $VIDEO_API_KEY)" };
        var command = new Command("loadtest", "Open N streams of synthetic frames against a server; report frames/s, p50/p95/p99 latency and drops")
        {
            server, streams, seconds, fps, size, policy, model, apiKey,
        };
        command.SetAction(async (parse, ct) =>
        {
            int n = parse.GetValue(streams);
            double s = parse.GetValue(seconds), rate = parse.GetValue(fps);
            if (n is < 1 or > 256 || s is <= 0 or > 3600 || rate is <= 0 or > 240)
            {
                throw new VideoException("--streams must be 1..256, --seconds 0..3600 and --fps 0..240");
            }

            var (w, h) = CommonOptions.ParseSize(parse.GetValue(size))!.Value;
            string key = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("VIDEO_API_KEY") ?? string.Empty;
            using var client = new StylizeClient(parse.GetValue(server)!, new StylizeClientOptions { ApiKey = key });
            var options = new LoadTestOptions
            {
                Streams = n,
                Duration = TimeSpan.FromSeconds(s),
                Fps = rate,
                Width = w,
                Height = h,
                Policy = parse.GetValue(policy) == "all" ? Policy.All : Policy.Latest,
                Model = parse.GetValue(model) ?? string.Empty,
            };
            Console.Out.WriteLine($"loadtest: {n} stream(s) of {w}x{h} RGB24 at {rate:0.#} fps for {s:0.#} s, policy {parse.GetValue(policy)}, against {client.Address}");
            var result = await LoadTest.RunAsync(client, options, ct).ConfigureAwait(false);
            Console.Out.WriteLine(result.ToString());
            return ExitCodes.Ok;
        });
        return command;
    }
}
