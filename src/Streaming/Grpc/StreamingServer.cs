using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Video.Streaming.Grpc;

/// <summary>Where and how the server listens.</summary>
internal sealed record ServerEndpoint
{
    /// <summary>IP address or host name to bind; "0.0.0.0" / "::" for all interfaces.</summary>
    public string Address { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (read it from <see cref="StreamingServer.Addresses"/>).</summary>
    public int Port { get; init; } = 50051;

    /// <summary>PEM certificate for TLS (with <see cref="TlsKey"/>); null = cleartext HTTP/2 (h2c).</summary>
    public string? TlsCertificate { get; init; }

    public string? TlsKey { get; init; }

    /// <summary>
    /// PEM file of the certificate authorities whose client certificates are accepted (mutual TLS); null = no client
    /// certificate asked for. Needs <see cref="TlsCertificate"/>. A client without a certificate chaining to one of
    /// them fails the TLS handshake, before any request is read.
    /// </summary>
    public string? TlsClientCa { get; init; }

    /// <summary>
    /// Cleartext only: a separate HTTP/1.1 port for <c>/metrics</c>, the browser page and its gRPC-Web calls, because
    /// an h2c port cannot also speak HTTP/1.1 (Prometheus scrapes and browsers talk cleartext HTTP/1.1). Null = <see cref="Port"/> + 1 (any free port when Port is 0);
    /// -1 = none. With TLS, <c>/metrics</c> shares the gRPC port through ALPN.
    /// </summary>
    public int? MetricsPort { get; init; }

    /// <summary>An extra JSON file with <c>Kestrel</c> and <c>Streaming</c> sections; its Kestrel endpoints replace the flags.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>The built browser page's folder; null = <see cref="BrowserPage.Locate"/>. A folder without <c>index.html</c> counts as not built.</summary>
    public string? WebRoot { get; init; }

    /// <summary>Minimum log level for the server's own messages.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
}

/// <summary>The gRPC stylization server on Kestrel: build, start, read its addresses, stop.</summary>
/// <remarks>Used by <c>video serve</c> and by the functional tests, which start it on 127.0.0.1 port 0.</remarks>
internal sealed class StreamingServer : IAsyncDisposable
{
    private StreamingServer(WebApplication app, string? webRoot)
    {
        App = app;
        WebRoot = webRoot;
    }

    public WebApplication App { get; }

    /// <summary>The folder the browser page is served from; null when it is not built (<c>/</c> then says how to build it).</summary>
    public string? WebRoot { get; }

    public IServiceProvider Services => App.Services;

    /// <summary>The addresses bound once started, e.g. <c>http://127.0.0.1:50051</c>.</summary>
    public IReadOnlyList<string> Addresses => App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    /// <summary>The gRPC address (the first bound).</summary>
    public string Address => Addresses.FirstOrDefault() ?? throw new InvalidOperationException("the server is not started");

    /// <summary>The HTTP/1.1 address serving <c>/metrics</c> (the gRPC address itself under TLS).</summary>
    public string MetricsAddress => Addresses.Count > 1 ? Addresses[1] : Address;

    /// <summary>
    /// The browser page's URL, where its gRPC-Web calls go too: the HTTP/1.1 address (browsers speak cleartext
    /// HTTP/1.1), or the TLS address; null when the server has neither (cleartext with <c>--metrics-port -1</c>).
    /// </summary>
    public string? PageAddress => Addresses.Count > 1 ? Addresses[1].TrimEnd('/') + "/"
        : Address.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? Address.TrimEnd('/') + "/" : null;

    /// <summary>
    /// Builds the server; <paramref name="configure"/> adjusts the options after configuration and flags, and
    /// <paramref name="configureServices"/> adds services after the server's own (functional tests add an interceptor).
    /// </summary>
    public static StreamingServer Create(ServerEndpoint endpoint, Action<StreamingOptions>? configure = null, Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        if (endpoint.ConfigFile is { } file)
        {
            if (!File.Exists(file))
            {
                throw new Capture.VideoException($"config file not found: {file}");
            }

            builder.Configuration.AddJsonFile(Path.GetFullPath(file), optional: false);
        }

        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Video", endpoint.LogLevel);

        // Start-up failures (port in use, bad options) are reported by the caller in one line, not as a stack dump.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);

        bool kestrelFromConfig = builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Any();
        var certificate = endpoint.TlsCertificate is { } certFile && !kestrelFromConfig ? LoadCertificate(certFile, endpoint.TlsKey) : null;
        var clientCas = endpoint.TlsClientCa is { } caFile && certificate is not null ? LoadAuthorities(caFile) : null;
        if (endpoint.TlsClientCa is not null && endpoint.TlsCertificate is null)
        {
            throw new Capture.VideoException("--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked over TLS");
        }

        // A POLICY_ALL stream whose queue is full stops reading, and its unread frame data stays buffered up to the
        // stream's HTTP/2 window. The connection's window bounds the data buffered for all its streams together; at
        // Kestrel's default (1 MiB, against 768 KiB per stream) two such streams take all of it, and the client's
        // other streams on that connection can send nothing until one of them reads again: with 4K frames that is
        // longer than the idle timeout, and those streams were closed as idle. Room for a full window on every
        // stream one client may open, plus one, keeps the client's other streams moving; it adds no buffering a
        // client could not already get from as many streams on separate connections.
        builder.Services.AddOptions<KestrelServerOptions>().Configure<Microsoft.Extensions.Options.IOptions<StreamingOptions>>((k, streaming) =>
        {
            long needed = (streaming.Value.MaxStreamsPerClient + 1L) * k.Limits.Http2.InitialStreamWindowSize;
            k.Limits.Http2.InitialConnectionWindowSize = (int)Math.Clamp(needed, k.Limits.Http2.InitialConnectionWindowSize, int.MaxValue);
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.Http2.MaxStreamsPerConnection = 100;
            if (kestrelFromConfig)
            {
                return;
            }

            bool tls = endpoint.TlsCertificate is not null;
            void Listen(ListenOptions o)
            {
                if (certificate is not null)
                {
                    // With TLS, ALPN lets HTTP/1.1 (for /metrics) and HTTP/2 (for gRPC) share the port.
                    o.Protocols = HttpProtocols.Http1AndHttp2;
                    if (clientCas is null)
                    {
                        o.UseHttps(certificate);
                    }
                    else
                    {
                        o.UseHttps(h =>
                        {
                            h.ServerCertificate = certificate;
                            h.ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.RequireCertificate;
                            h.ClientCertificateValidation = (client, _, _) => IsIssuedBy(client, clientCas);
                        });
                    }
                }
                else
                {
                    // Cleartext HTTP/2 needs prior knowledge, which an HTTP/1.1-and-2 endpoint does not offer.
                    o.Protocols = HttpProtocols.Http2;
                }
            }

            int metricsPort = tls ? -1 : endpoint.MetricsPort ?? (endpoint.Port == 0 ? 0 : endpoint.Port + 1);
            void ListenMetrics(ListenOptions o) => o.Protocols = HttpProtocols.Http1;

            if (IPAddress.TryParse(endpoint.Address, out var ip))
            {
                k.Listen(ip, endpoint.Port, Listen);
                if (metricsPort >= 0)
                {
                    k.Listen(ip, metricsPort, ListenMetrics);
                }
            }
            else if (endpoint.Address == "localhost")
            {
                k.ListenLocalhost(endpoint.Port, Listen);
                if (metricsPort >= 0)
                {
                    k.ListenLocalhost(metricsPort, ListenMetrics);
                }
            }
            else
            {
                throw new Capture.VideoException($"--address '{endpoint.Address}' is not an IP address (use 127.0.0.1, 0.0.0.0, ::, or localhost)");
            }
        });

        builder.Services.AddStreaming(o =>
        {
            builder.Configuration.GetSection(StreamingOptions.SectionName).Bind(o);
            configure?.Invoke(o);
        });
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        string? webRoot = endpoint.WebRoot is { } given ? (BrowserPage.IsBuilt(given) ? Path.GetFullPath(given) : null) : BrowserPage.Locate();
        BrowserPage.Map(app, webRoot);

        // API keys are checked on the headers, before anything reads a request body.
        app.UseApiKeys();

        // gRPC-Web on every endpoint: the page calls the service over HTTP/1.1; HTTP/2 gRPC clients are unaffected.
        app.UseGrpcWeb(new() { DefaultEnabled = true });
        app.MapStreaming();
        return new StreamingServer(app, webRoot);
    }

    /// <summary>
    /// Loads a PEM certificate and its key, with a one-line error naming the likely mistake (files swapped, a key that
    /// is not the certificate's) instead of the cryptography library's exception.
    /// </summary>
    internal static System.Security.Cryptography.X509Certificates.X509Certificate2 LoadCertificate(string certificateFile, string? keyFile)
    {
        string Head(string file)
        {
            try
            {
                using var reader = new StreamReader(file);
                var buffer = new char[4096];
                return new string(buffer, 0, reader.ReadBlock(buffer, 0, buffer.Length));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new Capture.VideoException($"cannot read {file}: {e.Message}");
            }
        }

        string cert = Head(certificateFile);
        string key = keyFile is null ? string.Empty : Head(keyFile);
        if (!cert.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal) && key.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            throw new Capture.VideoException($"--tls-cert {certificateFile} holds a private key and --tls-key {keyFile} a certificate: they are the wrong way round");
        }

        if (!cert.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            throw new Capture.VideoException($"--tls-cert {certificateFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        try
        {
            return System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new Capture.VideoException($"--tls-key {keyFile} is not the private key of --tls-cert {certificateFile} ({e.Message.ReplaceLineEndings(" ").TrimEnd('.')})");
        }
        catch (ArgumentException e)
        {
            throw new Capture.VideoException($"--tls-key {keyFile} holds no PEM private key ({e.Message.ReplaceLineEndings(" ").TrimEnd('.')})");
        }
    }

    /// <summary>The certificates in a PEM bundle of client certificate authorities, with a one-line error when there are none.</summary>
    internal static System.Security.Cryptography.X509Certificates.X509Certificate2Collection LoadAuthorities(string file)
    {
        var authorities = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new Capture.VideoException($"--tls-client-ca {file}: {e.Message.ReplaceLineEndings(" ").TrimEnd('.')}");
        }

        return authorities.Count > 0 ? authorities : throw new Capture.VideoException($"--tls-client-ca {file} holds no PEM certificate");
    }

    /// <summary>True when <paramref name="client"/> chains to one of <paramref name="authorities"/> (and to nothing else: the system roots are not trusted here).</summary>
    internal static bool IsIssuedBy(System.Security.Cryptography.X509Certificates.X509Certificate2? client, System.Security.Cryptography.X509Certificates.X509Certificate2Collection authorities)
    {
        if (client is null)
        {
            return false;
        }

        using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
        chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2"));
        return chain.Build(client);
    }

    /// <summary>Starts listening; the models load in the background (health says when they are ready).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => App.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => App.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync().ConfigureAwait(false);
    }
}
