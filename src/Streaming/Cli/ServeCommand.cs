using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Video.Capture;
using Video.Streaming.Grpc;

namespace Video.Streaming.Cli;

/// <summary><c>video serve [--address A] [--port P] [--tls-cert F --tls-key F] [--config F] [--models DIR] [--api-key K …] [limits] [--frame-memory-mb N]</c>.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var address = new Option<string>("--address") { Description = "IP address to listen on (0.0.0.0 for all interfaces)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 = any free port)", DefaultValueFactory = _ => 50051 };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "PEM certificate: serve TLS (HTTP/2 via ALPN) instead of cleartext h2c" };
        var tlsKey = new Option<string?>("--tls-key") { Description = "PEM private key for --tls-cert" };
        var tlsClientCa = new Option<string?>("--tls-client-ca") { Description = "PEM certificate authorities: require client certificates issued by them (mutual TLS); needs --tls-cert" };
        var config = new Option<string?>("--config") { Description = "JSON file with 'Kestrel' (endpoints, certificates) and 'Streaming' (limits) sections" };
        var apiKeys = new Option<string[]>("--api-key") { Description = "Accepted API key (repeatable); clients send 'authorization: Bearer KEY'. Default: $VIDEO_API_KEYS (comma-separated), else $VIDEO_API_KEY, else none", AllowMultipleArgumentsPerToken = false };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "File of accepted API keys, one per line (# comments); keeps keys out of the process list" };
        var maxStreams = new Option<int?>("--max-streams") { Description = "Open streams allowed on the server (default 16)" };
        var maxPerClient = new Option<int?>("--max-streams-per-client") { Description = "Open streams allowed per client IP (default 4)" };
        var maxFrame = new Option<string?>("--max-frame") { Description = "Largest frame WxH (default 3840x2160)" };
        var maxMessage = new Option<int?>("--max-message-mb") { Description = "Largest request message in MiB (default 32)" };
        var idle = new Option<double?>("--idle-timeout") { Description = "Seconds a stream may stay silent before it is closed (default 30)" };
        var writeTimeout = new Option<double?>("--write-timeout") { Description = "Seconds a reply may wait for a client that stopped reading before its stream is aborted (default 30)" };
        var metricsPort = new Option<int?>("--metrics-port") { Description = "Cleartext only: HTTP/1.1 port for /metrics (default: --port + 1; -1 = none). With TLS, /metrics is on the gRPC port" };
        var batchMax = new Option<int?>("--batch-max") { Description = "Most frames of different streams (same model, size, style) run in one model call (default 1 = frame by frame)" };
        var batchDelay = new Option<double?>("--batch-delay-ms") { Description = "How long a frame may wait for others to fill a batch (default 8)" };
        var frameMemory = new Option<int?>("--frame-memory-mb") { Description = "Most MiB of frame and tensor memory plus ONNX Runtime's working memory for the runs in flight that the server holds at once (default: the process-wide budget)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Log warnings only" };
        var device = CommonOptions.Device();
        var models = CommonOptions.ModelsDirectory();
        var command = new Command("serve", "Run the gRPC stylization server (video.stylize.v1): streams, images, health, reflection, /metrics")
        {
            address, port, metricsPort, tlsCert, tlsKey, tlsClientCa, config, models, device, apiKeys, apiKeyFile, maxStreams, maxPerClient, maxFrame, maxMessage, idle, writeTimeout, batchMax, batchDelay, frameMemory, quiet,
        };
        command.SetAction(async (parse, ct) =>
        {
            string? cert = parse.GetValue(tlsCert), key = parse.GetValue(tlsKey);
            if ((cert is null) != (key is null))
            {
                throw new VideoException("--tls-cert and --tls-key go together");
            }

            foreach (var f in new[] { cert, key }.OfType<string>())
            {
                MediaProbe.CheckReadable(f);
            }

            if (parse.GetValue(batchDelay) is { } delayMs && !(delayMs is >= 0 and <= 1000))
            {
                throw new VideoException($"--batch-delay-ms {delayMs} is out of range (0..1000)");
            }

            long? frameMemoryBytes = null;
            if (parse.GetValue(frameMemory) is { } memoryMb)
            {
                frameMemoryBytes = memoryMb is >= 1 and <= 1024 * 1024
                    ? memoryMb * 1024L * 1024
                    : throw new VideoException($"--frame-memory-mb {memoryMb} is out of range (1..1048576)");
            }

            var frame = CommonOptions.ParseSize(parse.GetValue(maxFrame));
            var keys = ApiKeysFrom(parse.GetValue(apiKeys) ?? [], parse.GetValue(apiKeyFile));
            var endpoint = new ServerEndpoint
            {
                Address = parse.GetValue(address)!,
                Port = parse.GetValue(port),
                TlsCertificate = cert,
                TlsKey = key,
                TlsClientCa = parse.GetValue(tlsClientCa),
                ConfigFile = parse.GetValue(config),
                MetricsPort = parse.GetValue(metricsPort),
                LogLevel = parse.GetValue(quiet) ? Microsoft.Extensions.Logging.LogLevel.Warning : Microsoft.Extensions.Logging.LogLevel.Information,
            };
            string? modelsDir = parse.GetValue(models);
            string deviceName = parse.GetValue(device)!;
            StreamingServer server;
            try
            {
                server = StreamingServer.Create(endpoint, Configure, services => services.AddCapture(o => o.FrameMemoryBudgetBytes = frameMemoryBytes ?? o.FrameMemoryBudgetBytes));
            }
            catch (Microsoft.Extensions.Options.OptionsValidationException e)
            {
                throw new VideoException($"bad server option: {e.Message}");
            }

            await using var _ = server;
            void Configure(StreamingOptions o)
            {
                o.ModelsDirectory = modelsDir ?? o.ModelsDirectory;
                o.Device = CommonOptions.ParseDevice(deviceName);
                if (keys.Length > 0)
                {
                    o.ApiKeys = [.. keys];
                }

                o.MaxStreams = parse.GetValue(maxStreams) ?? o.MaxStreams;
                o.MaxStreamsPerClient = parse.GetValue(maxPerClient) ?? o.MaxStreamsPerClient;
                if (frame is { } f)
                {
                    (o.MaxFrameWidth, o.MaxFrameHeight) = f;
                }

                if (parse.GetValue(maxMessage) is { } mb)
                {
                    o.MaxMessageBytes = mb * 1024 * 1024;
                }

                if (parse.GetValue(idle) is { } s)
                {
                    o.IdleTimeout = TimeSpan.FromSeconds(s);
                }

                if (parse.GetValue(writeTimeout) is { } w)
                {
                    o.WriteTimeout = TimeSpan.FromSeconds(w);
                }

                o.BatchMax = parse.GetValue(batchMax) ?? o.BatchMax;
                if (parse.GetValue(batchDelay) is { } ms)
                {
                    o.BatchDelay = TimeSpan.FromMilliseconds(ms);
                }
            }

            try
            {
                await server.StartAsync(ct).ConfigureAwait(false);
            }
            catch (Microsoft.Extensions.Options.OptionsValidationException e)
            {
                throw new VideoException($"bad server option: {e.Message}");
            }
            catch (IOException e)
            {
                throw new VideoException($"cannot listen on {endpoint.Address}:{endpoint.Port}: {e.Message}");
            }

            var host = server.Services.GetRequiredService<ModelHost>();
            int keyCount = server.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<StreamingOptions>>().Value.ApiKeys.Count;
            long budgetMb = server.Services.GetRequiredService<FrameAllocator>().BudgetBytes / (1024 * 1024);
            Console.Out.WriteLine($"video serve: gRPC (video.stylize.v1, health, reflection) on {server.Address}, metrics on {server.MetricsAddress}/metrics{(keyCount > 0 ? $", {keyCount} API key(s)" : ", no API keys")}, frame memory {budgetMb} MiB; Ctrl+C stops");
            Console.Out.WriteLine(server.PageAddress is not { } page ? "video serve: no browser page: it needs the HTTP/1.1 port, which --metrics-port -1 turned off"
                : server.WebRoot is not null ? $"video serve: browser page on {page} (webcam in, stylized video out, over gRPC-Web)"
                : $"video serve: browser page not built; {page} says how to build it");
            await host.Loaded.WaitAsync(ct).ConfigureAwait(false);
            Console.Out.WriteLine(host.IsReady
                ? $"video serve: SERVING models {string.Join(", ", host.Models.Select(m => m.Name))} on {host.Device}{Batching(host)}"
                : "video serve: NOT_SERVING: no model could be loaded (see the log above)");
            try
            {
                await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C: stop gracefully below.
            }

            await server.StopAsync(CancellationToken.None).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// The accepted keys: <c>--api-key</c> and <c>--api-key-file</c> together; without either, <c>VIDEO_API_KEYS</c>
    /// (comma-separated), else <c>VIDEO_API_KEY</c> (the variable the client reads); else none.
    /// </summary>
    internal static string[] ApiKeysFrom(string[] given, string? file)
    {
        var keys = new List<string>(given);
        if (file is not null)
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new VideoException($"--api-key-file {file}: {(e is FileNotFoundException or DirectoryNotFoundException ? "not found" : e is UnauthorizedAccessException ? "permission denied" : e.Message)}");
            }

            var fromFile = lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
            if (fromFile.Count == 0)
            {
                throw new VideoException($"--api-key-file {file}: no key in it (one key per line)");
            }

            keys.AddRange(fromFile);
        }

        if (keys.Count > 0)
        {
            return [.. keys];
        }

        string env = Environment.GetEnvironmentVariable("VIDEO_API_KEYS") is { Length: > 0 } many ? many : Environment.GetEnvironmentVariable("VIDEO_API_KEY") ?? string.Empty;
        return env.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    private static string Batching(ModelHost host)
    {
        var batched = host.Models.Where(m => m.Batched is not null).ToList();
        if (batched.Count == 0)
        {
            return host.Models.Any(m => m.BatchingNote.Length > 0) ? "; batching: no model can batch (see the log above)" : string.Empty;
        }

        var first = batched[0].Batched!;
        var single = host.Models.Where(m => m.Batched is null).Select(m => m.Name).ToList();
        return $"; batching up to {first.MaxBatch} frames, {first.MaxDelay.TotalMilliseconds:0.#} ms delay{(single.Count > 0 ? $" (frame by frame: {string.Join(", ", single)})" : string.Empty)}";
    }
}
