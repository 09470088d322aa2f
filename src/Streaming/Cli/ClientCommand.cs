using System.CommandLine;
using System.Globalization;
using Video.Capture;
using Video.Streaming.Client;
using Video.Streaming.Protos.V1;

namespace Video.Streaming.Cli;

/// <summary><c>video client SERVER INPUT -o OUTPUT [--model M] [--style IMAGE] [--policy latest|all] [--temporal off|ema|flow]</c>.</summary>
internal static class ClientCommand
{
    public static Command Create()
    {
        var server = new Argument<string>("server") { Description = "Server address: HOST:PORT or http(s)://HOST:PORT" };
        var input = new Argument<string>("input") { Description = "Video file, network URL, image file or folder of images" };
        var output = new Option<string>("--output", "-o") { Description = "Output file (.mp4/.webm/.mkv/…, .png, or dir/)", Required = true };
        var model = new Option<string?>("--model", "-m") { Description = "Model name on the server (default: the server's default)" };
        var style = new Option<string?>("--style") { Description = "Style image for AdaIN models (registered with the server first)" };
        var alpha = new Option<float?>("--alpha") { Description = "Style strength 0..1 for AdaIN models" };
        var policy = new Option<string>("--policy") { Description = "all: lossless with backpressure; latest: live pacing, the server drops stale frames", DefaultValueFactory = _ => "all" }
            .AcceptOnlyFromAmong("all", "latest");
        var temporal = new Option<string>("--temporal") { Description = "Server-side temporal filter against flicker: off, ema or flow", DefaultValueFactory = _ => "off" }
            .AcceptOnlyFromAmong("off", "ema", "flow");
        var strength = new Option<float?>("--temporal-strength") { Description = "Temporal filter strength in [0, 1) (default 0.8)" };
        var apiKey = new Option<string?>("--api-key") { Description = "API key (default: $VIDEO_API_KEY)" };
        var fps = new Option<double?>("--fps") { Description = "Frame rate for image-folder inputs (default 25)" };
        var command = new Command("client", "Stream a video file or image folder through a `video serve` server and write the stylized result (audio kept)")
        {
            server, input, output, model, style, alpha, policy, temporal, strength, apiKey, fps,
        };
        command.SetAction(async (parse, ct) =>
        {
            var options = new RoundTripOptions
            {
                Model = parse.GetValue(model) ?? string.Empty,
                Policy = parse.GetValue(policy) == "latest" ? Policy.Latest : Policy.All,
                StylePath = parse.GetValue(style),
                Alpha = parse.GetValue(alpha),
                Temporal = new TemporalConfig
                {
                    Mode = parse.GetValue(temporal) switch { "ema" => TemporalMode.Ema, "flow" => TemporalMode.Flow, _ => TemporalMode.Off },
                    Strength = parse.GetValue(strength) ?? 0,
                },
                ImageRate = parse.GetValue(fps) is { } f ? Rational.Parse(f.ToString(CultureInfo.InvariantCulture)) : null,
            };
            string key = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("VIDEO_API_KEY") ?? string.Empty;
            using var client = new StylizeClient(parse.GetValue(server)!, new StylizeClientOptions { ApiKey = key });
            string outputPath = parse.GetValue(output)!;
            var r = await StreamRoundTrip.RunAsync(client, parse.GetValue(input)!, outputPath, options, ct).ConfigureAwait(false);
            Console.Out.WriteLine($"wrote {outputPath}: {r.FramesWritten} frames ({r.FramesSent} sent, {r.FramesStylized} stylized, {r.Dropped} dropped by the server){(r.AudioNote is { } a ? ", " + a : string.Empty)}");
            Console.Out.WriteLine($"{r.FramesStylized} frames in {r.Elapsed.TotalSeconds:0.00} s: {r.FramesStylized / Math.Max(1e-9, r.Elapsed.TotalSeconds):0.0} fps (model {r.Model} on the server's {r.Device})");
            return ExitCodes.Ok;
        });
        return command;
    }
}
