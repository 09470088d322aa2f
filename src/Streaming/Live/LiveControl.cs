using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Video.Capture;
using Video.Inference.Temporal;

namespace Video.Streaming.Live;

/// <summary>
/// The local control endpoint of <c>video live</c> (HTTP on 127.0.0.1 only): <c>GET /status</c>, <c>GET /models</c>, and
/// <c>POST /settings</c> with a JSON body of the fields to change
/// (<c>{"model":"starry-night","alpha":0.6,"temporal":"flow"}</c>); the answer comes once they are loaded, and they apply
/// from the next frame.
/// </summary>
internal sealed class LiveControlServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LiveControlServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    /// <summary>The port it listens on (the one asked for, or the one the system chose for 0).</summary>
    public int Port { get; }

    /// <summary>Starts listening on 127.0.0.1:<paramref name="port"/>.</summary>
    /// <exception cref="VideoException">The port is in use or out of range.</exception>
    public static async Task<LiveControlServer> StartAsync(LiveSession session, int port, CancellationToken cancellationToken = default)
    {
        if (port is < 0 or > 65535)
        {
            throw new VideoException($"--control {port} is not a port number");
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, port);
        });
        var app = builder.Build();
        app.MapGet("/status", () => Results.Json(StatusJson(session.Status())));
        app.MapGet("/models", () => Results.Json(session.Models.Select(m => new { name = m.Name, family = m.Family.ToString().ToLowerInvariant(), takesStyle = m.Family == Inference.ModelFamily.Adain })));
        app.MapPost("/settings", async (HttpRequest request, CancellationToken ct) =>
        {
            LiveSettingsChange? change;
            try
            {
                change = await JsonSerializer.DeserializeAsync<LiveSettingsChange>(request.Body, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                return Results.BadRequest(new { error = $"the body is not a settings object: {e.Message}" });
            }

            if (change is null)
            {
                return Results.BadRequest(new { error = "the body is empty: send {\"model\": …, \"style\": …, \"alpha\": …, \"temporal\": …}" });
            }

            try
            {
                var applied = await session.SwitchAsync(session.Settings.With(change), ct).ConfigureAwait(false);
                return Results.Json(SettingsJson(applied));
            }
            catch (VideoException e)
            {
                // The message is one line already, with any outside text in it cut by UserText.Quote.
                return Results.BadRequest(new { error = e.Message });
            }
        });

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new VideoException($"--control {port}: cannot listen on 127.0.0.1:{port} ({e.Message})");
        }

        int bound = new Uri(app.Urls.First()).Port;
        return new LiveControlServer(app, bound);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    internal static object SettingsJson(LiveSettings s) => new
    {
        model = s.Model,
        style = s.Style,
        alpha = s.Alpha,
        temporal = s.Temporal.Mode.ToString().ToLowerInvariant(),
        temporalStrength = s.Temporal.Strength,
        preserveColor = s.PreserveColor,
    };

    private static object StatusJson(LiveStatus s) => new
    {
        settings = SettingsJson(s.Settings),
        elapsedSeconds = s.Elapsed.TotalSeconds,
        framesIn = s.FramesIn,
        framesOut = s.FramesOut,
        dropped = s.Dropped,
        reconnects = s.Reconnects,
        modelMs = s.ModelMilliseconds,
        latencyMs = s.Latency.Samples == 0 ? null : new { p50 = s.Latency.P50, p95 = s.Latency.P95, p99 = s.Latency.P99 },
    };
}

/// <summary>
/// Keys on the terminal while <c>video live</c> runs: <c>m</c>/<c>M</c> next/previous model, <c>s</c> next style,
/// <c>+</c>/<c>-</c> strength, <c>t</c> temporal filter off → ema → flow, <c>c</c> keep colours, <c>q</c> stop.
/// </summary>
internal static class LiveKeys
{
    /// <summary>What the keys do, for the start-up line.</summary>
    public const string Help = "keys: m/M model, s style, +/- strength, t temporal, c colour, q quit";

    /// <summary>The change a key asks for, or null for a key that changes no setting.</summary>
    public static LiveSettingsChange? ChangeFor(char key, LiveSettings current, IReadOnlyList<string> models, IReadOnlyList<string> styles)
    {
        string Step(IReadOnlyList<string> list, string? now, int by)
        {
            int i = now is null ? -1 : list.ToList().FindIndex(x => string.Equals(x, now, StringComparison.OrdinalIgnoreCase));
            return list[(((i + by) % list.Count) + list.Count) % list.Count];
        }

        return key switch
        {
            'm' when models.Count > 0 => new LiveSettingsChange { Model = Step(models, current.Model, 1) },
            'M' when models.Count > 0 => new LiveSettingsChange { Model = Step(models, current.Model, -1) },
            's' when styles.Count > 0 => new LiveSettingsChange { Style = Step(styles, current.Style, 1) },
            '+' or '=' => new LiveSettingsChange { Alpha = MathF.Min(1f, MathF.Round((current.Alpha + 0.1f) * 10, MidpointRounding.AwayFromZero) / 10) },
            '-' => new LiveSettingsChange { Alpha = MathF.Max(0f, MathF.Round((current.Alpha - 0.1f) * 10, MidpointRounding.AwayFromZero) / 10) },
            't' => new LiveSettingsChange
            {
                Temporal = current.Temporal.Mode switch { TemporalMode.Off => "ema", TemporalMode.Ema => "flow", _ => "off" },
            },
            'c' => new LiveSettingsChange { PreserveColor = !current.PreserveColor },
            _ => null,
        };
    }

    /// <summary>
    /// Reads keys until <paramref name="cancellationToken"/> fires; <c>q</c> calls <paramref name="quit"/>. Does nothing when
    /// the input is not a terminal.
    /// </summary>
    public static Task RunAsync(LiveSession session, IReadOnlyList<string> models, IReadOnlyList<string> styles, Action quit, Action<string> report, CancellationToken cancellationToken)
    {
        if (Console.IsInputRedirected)
        {
            return Task.CompletedTask;
        }

        return Task.Run(
            async () =>
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    if (!Console.KeyAvailable)
                    {
                        await Task.Delay(50, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    char key = Console.ReadKey(intercept: true).KeyChar;
                    if (key is 'q' or 'Q')
                    {
                        quit();
                        return;
                    }

                    if (ChangeFor(key, session.Settings, models, styles) is not { } change)
                    {
                        continue;
                    }

                    try
                    {
                        report($"now: {await session.SwitchAsync(session.Settings.With(change), cancellationToken).ConfigureAwait(false)}");
                    }
                    catch (VideoException e)
                    {
                        report($"not switched: {e.Message}");
                    }
                }
            },
            cancellationToken);
    }
}
