using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Video.Inference;
using Video.Streaming.Grpc;
using Video.Tests.Shared;

namespace Video.Browser.Tests;

/// <summary>
/// A real <c>video serve</c> server on 127.0.0.1 (port 0) with the shipped models and the built page from
/// <c>artifacts/web</c>, which the launcher builds (<c>./video test</c> runs its web step first).
/// </summary>
internal sealed class PageServer : IAsyncDisposable
{
    /// <summary>The bound on every wait in these tests: generous, because the machine is shared.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private PageServer(StreamingServer server) => Server = server;

    public StreamingServer Server { get; }

    /// <summary>The built page's folder; skips (locally) or fails (CI) when the page is not built.</summary>
    public static string RequireBuiltPage()
    {
        string root = Path.Combine(Repo.Root, "artifacts", "web");
        if (File.Exists(Path.Combine(root, "index.html")))
        {
            return root;
        }

        const string why = "the browser page is not built (artifacts/web/index.html): run ./video test, or cd web && npm ci && npm run build";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"CI=true but {why}");
        }

        Skip.If(true, why);
        return root;
    }

    /// <summary>Starts the server; with <paramref name="tls"/> (PEM files) it serves everything on one TLS port.</summary>
    public static async Task<PageServer> StartAsync(string? webRoot, Action<StreamingOptions>? configure = null, (string Certificate, string Key)? tls = null)
    {
        var server = StreamingServer.Create(
            new ServerEndpoint { Address = "127.0.0.1", Port = 0, MetricsPort = 0, WebRoot = webRoot, LogLevel = LogLevel.Warning, TlsCertificate = tls?.Certificate, TlsKey = tls?.Key },
            o =>
            {
                o.ModelsDirectory = Repo.Models;
                o.Device = Device.Cpu;
                configure?.Invoke(o);
            });
        try
        {
            await server.StartAsync().WaitAsync(Timeout);
            await server.Services.GetRequiredService<ModelHost>().Loaded.WaitAsync(Timeout);
            return new PageServer(server);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Server.StopAsync(CancellationToken.None).WaitAsync(Timeout);
        await Server.DisposeAsync();
    }
}
