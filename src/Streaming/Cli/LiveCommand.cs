using System.CommandLine;
using System.Globalization;
using Video.Capture;
using Video.Capture.Live;
using Video.Inference;
using Video.Inference.Temporal;
using Video.Streaming.Live;

namespace Video.Streaming.Cli;

/// <summary>What <c>video live</c> was asked to do.</summary>
internal sealed record LiveRequest(string Input, string Output, LiveSettings Settings)
{
    /// <summary>Capture size (a camera negotiates the nearest it has; frames are scaled to it).</summary>
    public (int Width, int Height)? Size { get; init; }

    /// <summary>Capture rate.</summary>
    public double? Fps { get; init; }

    /// <summary>A camera's pixel format.</summary>
    public string? InputFormat { get; init; }

    /// <summary>Play a file input again from the start when it ends.</summary>
    public bool Loop { get; init; }

    /// <summary>Carry the input's audio to outputs that hold audio.</summary>
    public bool Audio { get; init; } = true;

    /// <summary>Styles the <c>s</c> key cycles through (the first is <see cref="LiveSettings.Style"/>).</summary>
    public IReadOnlyList<string> Styles { get; init; } = [];

    /// <summary>Port of the local control endpoint on 127.0.0.1 (0: any free port), or null for none.</summary>
    public int? ControlPort { get; init; }

    /// <summary>Stop after this long (null: until the source ends or Ctrl+C).</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>How long a lost network input is reconnected before the run ends.</summary>
    public TimeSpan ReconnectFor { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Seconds between status lines (a terminal rewrites one line every second).</summary>
    public double StatusInterval { get; init; } = 5;

    /// <summary>Show the status line.</summary>
    public bool Status { get; init; } = true;

    public Device Device { get; init; } = Device.Auto;

    public string? ModelsDirectory { get; init; }
}

/// <summary><c>video live --input SRC --output DST [--model M] …</c>: stylize a live feed into a live output.</summary>
internal static class LiveCommand
{
    public static Command Create()
    {
        var input = new Option<string>("--input", "-i") { Description = "Camera (/dev/videoN, camera:N), network URL (rtmp, rtsp, srt, udp, tcp, http), video file (played at its own rate), or testsrc", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Virtual camera (/dev/videoN, v4l2loopback), rtmp://, srt://, udp://, tcp:// (MPEG-TS), a .m3u8 playlist (HLS), a .mp4/.mkv/.mov recording, y4m:PATH / rawvideo:PATH / framemd5:PATH (the virtual camera's frames to a file), or preview", Required = true };
        var model = new Option<string>("--model", "-m") { Description = "Model name or manifest .json (switch while running: keys or --control)", DefaultValueFactory = _ => ModelCatalog.DefaultModelName };
        var style = new Option<string[]>("--style", "-s") { Description = "Style image for AdaIN models; repeat to give the s key more to cycle through" };
        var alpha = new Option<float>("--alpha") { Description = "AdaIN strength, 0 (content) to 1 (full style)", DefaultValueFactory = _ => 1f };
        var preserveColor = new Option<bool>("--preserve-color") { Description = "Keep the input's colours" };
        var temporal = new Option<string>("--temporal") { Description = "Temporal filter: off, ema, flow", DefaultValueFactory = _ => "off" }.AcceptOnlyFromAmong("off", "ema", "flow");
        var temporalStrength = new Option<double>("--temporal-strength") { Description = "Largest weight of the previous output, in [0, 1)", DefaultValueFactory = _ => 0.8 };
        var size = new Option<string?>("--size") { Description = "Capture size WxH (default: the input's; 640x360 for cameras, test patterns and SRT)" };
        var fps = new Option<double?>("--fps") { Description = "Capture rate (default: the input's; 30 for cameras, test patterns and SRT)" };
        var inputFormat = new Option<string?>("--input-format") { Description = "Camera pixel format to ask for (mjpeg, yuyv422, …; default: the driver's)" };
        var realtime = new Option<bool>("--realtime") { Description = "Play a file input at its own rate (always so in video live; use video stylize to go as fast as the model)" };
        var loop = new Option<bool>("--loop") { Description = "Play a file input again from the start when it ends (a camera stand-in)" };
        var noAudio = new Option<bool>("--no-audio") { Description = "Do not carry the input's audio" };
        var control = new Option<int?>("--control") { Description = "Serve the control endpoint on 127.0.0.1:PORT (GET /status, GET /models, POST /settings; 0 picks a free port)" };
        var seconds = new Option<double?>("--seconds") { Description = "Stop after this many seconds" };
        var reconnectFor = new Option<double>("--reconnect-for") { Description = "Seconds a lost network input is reconnected (back-off 0.5 s to 5 s) before the run ends", DefaultValueFactory = _ => 30 };
        var statusEvery = new Option<double>("--status-every") { Description = "Seconds between status lines when stderr is not a terminal", DefaultValueFactory = _ => 5 };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No status line" };
        var device = CommonOptions.Device();
        var models = CommonOptions.ModelsDirectory();
        var command = new Command("live", "Stylize a live feed (camera, network stream, file at its rate, test pattern) into a virtual camera, a network stream, HLS, a recording or a window; switch model, style, strength and temporal filter while it runs")
        {
            input, output, model, style, alpha, preserveColor, temporal, temporalStrength, size, fps, inputFormat, realtime, loop, noAudio,
            control, seconds, reconnectFor, statusEvery, quiet, device, models,
        };
        command.SetAction(async (parse, ct) =>
        {
            var styles = parse.GetValue(style) ?? [];
            var settings = new LiveSettings
            {
                Model = parse.GetValue(model)!,
                Style = styles.FirstOrDefault(),
                Alpha = parse.GetValue(alpha),
                PreserveColor = parse.GetValue(preserveColor),
                Temporal = new TemporalOptions { Mode = TemporalOptions.ParseMode(parse.GetValue(temporal)!), Strength = parse.GetValue(temporalStrength) },
            };
            var request = new LiveRequest(parse.GetValue(input)!, parse.GetValue(output)!, settings)
            {
                Size = CommonOptions.ParseSize(parse.GetValue(size)),
                Fps = parse.GetValue(fps),
                InputFormat = parse.GetValue(inputFormat),
                Loop = parse.GetValue(loop),
                Audio = !parse.GetValue(noAudio),
                Styles = styles,
                ControlPort = parse.GetValue(control),
                Duration = parse.GetValue(seconds) is { } s ? TimeSpan.FromSeconds(s) : null,
                ReconnectFor = TimeSpan.FromSeconds(parse.GetValue(reconnectFor)),
                StatusInterval = parse.GetValue(statusEvery),
                Status = !parse.GetValue(quiet),
                Device = CommonOptions.ParseDevice(parse.GetValue(device)!),
                ModelsDirectory = parse.GetValue(models),
            };
            await RunAsync(request, Console.Out, Console.Error, ct).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// Runs <c>video live</c> until the source ends, <see cref="LiveRequest.Duration"/> passes, <c>q</c> is pressed or
    /// <paramref name="cancellationToken"/> fires (Ctrl+C); all of these stop cleanly (the output is completed). Prints the
    /// summary with the latency percentiles over the whole run.
    /// </summary>
    public static async Task<LiveSummary> RunAsync(LiveRequest request, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (request.Fps is { } f && (f <= 0 || f > 240))
        {
            throw new VideoException($"--fps {f} is out of range (0, 240]");
        }

        if (request.Duration is { } d && d <= TimeSpan.Zero)
        {
            throw new VideoException("--seconds must be positive");
        }

        if (request.ReconnectFor < TimeSpan.Zero)
        {
            throw new VideoException("--reconnect-for must not be negative");
        }

        // Cheap checks first: the input and output names, the settings, the model, before any process starts.
        var liveInput = LiveInput.Parse(request.Input) with { Size = request.Size, FrameRate = request.Fps, PixelFormat = request.InputFormat, Loop = request.Loop };
        var liveOutput = LiveOutput.Parse(request.Output);
        request.Settings.Validate();
        foreach (var s in request.Styles)
        {
            (request.Settings with { Style = s }).Validate();
        }

        var catalog = ModelCatalog.Load(ModelCatalog.ResolveDirectory(request.ModelsDirectory));
        catalog.Find(request.Settings.Model);

        // Ctrl+C and q stop the source; what is in flight is still written and the output completed.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        var log = Synchronized(stderr);
        await using var source = await LiveSource.OpenAsync(
            liveInput,
            new LiveSourceOptions { Audio = request.Audio, ReconnectFor = request.ReconnectFor, Log = line => log($"video: {line}") },
            cancellationToken).ConfigureAwait(false);
        var info = source.Info;
        await using var session = new LiveSession(catalog, new StylizerOptions { Device = request.Device, Warn = log }, info.Width, info.Height);
        await session.SwitchAsync(request.Settings, cancellationToken).ConfigureAwait(false);
        await using var sink = LiveSink.CreateOnFirstFrame(liveOutput, info.Width, info.Height, info.FrameRate, source.AudioUrl);
        await using var controlServer = request.ControlPort is { } port ? await LiveControlServer.StartAsync(session, port, cancellationToken).ConfigureAwait(false) : null;

        string audio = source.AudioUrl is null ? "no audio" : liveOutput.CarriesAudio ? "with audio" : "audio not carried";
        log($"video: live {liveInput.DisplayName} -> {liveOutput.DisplayName}: {info.Width}x{info.Height} at {info.FrameRate.Value:0.##} fps, {audio}; {session.Settings}");
        if (controlServer is not null)
        {
            log($"video: control endpoint http://127.0.0.1:{controlServer.Port}/ (GET /status, GET /models, POST /settings)");
        }

        if (!Console.IsInputRedirected)
        {
            log($"video: {LiveKeys.Help}");
        }

        using var background = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var models = catalog.Models.Where(m => m.Family != ModelFamily.Adain || request.Styles.Count > 0).Select(m => m.Name).ToList();
        var keys = LiveKeys.RunAsync(session, models, request.Styles, () => stop.Cancel(), log, background.Token);
        var status = request.Status ? StatusLoopAsync(session, stderr, request.StatusInterval, background.Token) : Task.CompletedTask;
        try
        {
            // --seconds counts from here: the run itself, not the set-up before it.
            if (request.Duration is { } duration)
            {
                stop.CancelAfter(duration);
            }

            // Ctrl+C (cancellationToken) stops like q does: the output is still completed.
            await session.RunAsync(source, sink, stop.Token, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await background.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(keys, status).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }

        var final = session.Status();
        var latency = session.TotalLatency();
        var summary = new LiveSummary(final, latency, info.Width, info.Height);
        stdout.WriteLine($"live: {final.FramesIn} frames in, {final.FramesOut} out, {final.Dropped} dropped, {final.Reconnects} reconnects in {final.Elapsed.TotalSeconds:0.0} s ({final.FramesOut / Math.Max(final.Elapsed.TotalSeconds, 1e-9):0.0} fps out) to {liveOutput.DisplayName}");
        stdout.WriteLine($"latency capture -> output write over {latency.Samples} frames: p50 {latency.P50:0.0} p95 {latency.P95:0.0} p99 {latency.P99:0.0} ms; model {final.ModelMilliseconds:0.0} ms a frame ({final.Settings.Model}, {info.Width}x{info.Height})");
        return summary;
    }

    /// <summary>Prints the status line: rewritten in place every second on a terminal, else one line every <paramref name="interval"/> seconds.</summary>
    private static async Task StatusLoopAsync(LiveSession session, TextWriter stderr, double interval, CancellationToken cancellationToken)
    {
        bool terminal = !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error);
        var period = TimeSpan.FromSeconds(terminal ? 1 : Math.Max(0.2, interval));
        var previous = session.Status();
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var now = session.Status();
                double seconds = Math.Max((now.Elapsed - previous.Elapsed).TotalSeconds, 1e-9);
                string line = string.Create(
                    CultureInfo.InvariantCulture,
                    $"in {(now.FramesIn - previous.FramesIn) / seconds:0.0} fps | out {(now.FramesOut - previous.FramesOut) / seconds:0.0} fps | dropped {now.Dropped} | reconnects {now.Reconnects} | {now.Settings.Model} {now.ModelMilliseconds:0.0} ms | {now.Latency}");
                lock (stderr)
                {
                    stderr.Write(terminal ? $"\r{line,-110}" : line + Environment.NewLine);
                }

                previous = now;
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped with the run.
        }

        if (terminal)
        {
            lock (stderr)
            {
                stderr.WriteLine();
            }
        }
    }

    private static Action<string> Synchronized(TextWriter writer) => line =>
    {
        lock (writer)
        {
            writer.WriteLine(line);
        }
    };
}

/// <summary>The end of a <c>video live</c> run: the last status and the latency over every frame.</summary>
internal sealed record LiveSummary(LiveStatus Status, LatencyFigures Latency, int Width, int Height);
