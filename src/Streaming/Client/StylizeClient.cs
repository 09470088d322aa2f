using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Video.Capture;
using Video.Streaming.Protos.V1;
using Frame = Video.Capture.Frame;
using ProtoImage = Video.Streaming.Protos.V1.Image;

namespace Video.Streaming.Client;

/// <summary>Connection settings for <see cref="StylizeClient"/>.</summary>
internal sealed record StylizeClientOptions
{
    /// <summary>API key sent as <c>authorization: Bearer KEY</c> on every call; null sends none.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Largest response message accepted (a stylized frame).</summary>
    public int MaxReceiveMessageBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>Certificate (with its private key) presented to a server that asks for one (mutual TLS); null presents none.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Authorities the server's certificate must chain to, in place of the system's roots; null trusts the system's.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2Collection? ServerAuthorities { get; init; }
}

/// <summary>
/// A client for <c>video.stylize.v1.VideoStylizer</c>: list models, register styles, stylize images and
/// open bidirectional streams.
/// </summary>
/// <remarks>Thread safe (one HTTP/2 connection multiplexes every call). Dispose to close the connection.</remarks>
internal sealed class StylizeClient : IDisposable
{
    private readonly Metadata _headers = [];

    public StylizeClient(string address, StylizeClientOptions? options = null)
    {
        options ??= new StylizeClientOptions();
        Address = NormalizeAddress(address);
        Channel = GrpcChannel.ForAddress(Address, new GrpcChannelOptions
        {
            MaxReceiveMessageSize = options.MaxReceiveMessageBytes,
            MaxSendMessageSize = null,
            HttpHandler = TlsHandler(options),
        });
        Raw = new VideoStylizer.VideoStylizerClient(Channel);
        if (options.ApiKey is { Length: > 0 } key)
        {
            _headers.Add("authorization", $"Bearer {key}");
        }
    }

    /// <summary>A handler with the client certificate and server authorities of <paramref name="options"/>; null (the default handler) when there are neither.</summary>
    private static SocketsHttpHandler? TlsHandler(StylizeClientOptions options)
    {
        if (options.ClientCertificate is null && options.ServerAuthorities is null)
        {
            return null;
        }

        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        if (options.ClientCertificate is { } certificate)
        {
            handler.SslOptions.ClientCertificates = [certificate];
        }

        if (options.ServerAuthorities is { } authorities)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, server, _, errors) =>
            {
                if (server is null || (errors & ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                {
                    return false;
                }

                using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
                chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
                chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                return chain.Build(server as System.Security.Cryptography.X509Certificates.X509Certificate2
                    ?? System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(server.GetRawCertData()));
            };
        }

        return handler;
    }

    /// <summary>The server address as a URL (<c>http://host:port</c> or <c>https://…</c>).</summary>
    public string Address { get; }

    public GrpcChannel Channel { get; }

    /// <summary>The generated client, for calls this wrapper does not cover.</summary>
    public VideoStylizer.VideoStylizerClient Raw { get; }

    /// <summary>Headers (the API key) every call carries.</summary>
    public Metadata Headers => _headers;

    /// <summary>"host:port" → "http://host:port"; URLs are kept.</summary>
    public static string NormalizeAddress(string address)
    {
        if (string.IsNullOrWhiteSpace(address))
        {
            throw new VideoException("the server address is empty; use HOST:PORT or http(s)://HOST:PORT");
        }

        string url = address.Contains("://", StringComparison.Ordinal) ? address : "http://" + address;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new VideoException($"'{address}' is not a server address; use HOST:PORT or http(s)://HOST:PORT");
        }

        return uri.GetLeftPart(UriPartial.Authority);
    }

    public async Task<ListModelsResponse> ListModelsAsync(CancellationToken cancellationToken = default) =>
        await Raw.ListModelsAsync(new ListModelsRequest(), _headers, cancellationToken: cancellationToken).ConfigureAwait(false);

    /// <summary>Uploads a style image (JPEG or PNG sent as is, other formats as RGB24) and returns its id.</summary>
    public async Task<RegisterStyleResponse> RegisterStyleAsync(string imagePath, string? model = null, CancellationToken cancellationToken = default)
    {
        var image = await LoadImageAsync(imagePath, cancellationToken).ConfigureAwait(false);
        return await Raw.RegisterStyleAsync(new RegisterStyleRequest { Model = model ?? string.Empty, Image = image }, _headers, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async Task<StylizeImageResponse> StylizeImageAsync(ProtoImage image, SessionConfig? config = null, CancellationToken cancellationToken = default) =>
        await Raw.StylizeImageAsync(new StylizeImageRequest { Image = image, Config = config ?? new SessionConfig() }, _headers, cancellationToken: cancellationToken).ConfigureAwait(false);

    /// <summary>Opens a stream and sends <paramref name="config"/> as its first message.</summary>
    public async Task<StylizeStream> OpenStreamAsync(SessionConfig config, CancellationToken cancellationToken = default)
    {
        var call = Raw.StylizeStream(_headers, cancellationToken: cancellationToken);
        var stream = new StylizeStream(call);
        try
        {
            await stream.SendConfigAsync(config, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            // The server may have ended the call (e.g. a wrong key) while the config was being written: the
            // write then only says Cancelled, and the call's own status is the real answer.
            var status = await StatusAfterFailedWriteAsync(call, e).ConfigureAwait(false);
            stream.Dispose();
            throw new RpcException(status);
        }
        catch
        {
            stream.Dispose();
            throw;
        }

        return stream;
    }

    /// <summary>An RGB24 wire image holding a copy of <paramref name="frame"/>'s pixels.</summary>
    public static ProtoImage ToImage(Frame frame)
    {
        if (frame.Format != PixelFormat.Rgb24)
        {
            throw new ArgumentException($"frame is {frame.Format}; only Rgb24 frames are sent as is", nameof(frame));
        }

        return new ProtoImage
        {
            Encoding = Protos.V1.Encoding.Rgb24,
            Width = (uint)frame.Width,
            Height = (uint)frame.Height,
            Stride = (uint)frame.Stride,
            Data = ByteString.CopyFrom(frame.Pixels),
        };
    }

    /// <summary>Copies an RGB24 wire image into <paramref name="frame"/> (same size).</summary>
    public static void CopyTo(ProtoImage image, Frame frame)
    {
        if (image.Encoding != Protos.V1.Encoding.Rgb24 || image.Width != frame.Width || image.Height != frame.Height)
        {
            throw new MediaException($"the server sent a {image.Encoding} {image.Width}x{image.Height} image; expected RGB24 {frame.Width}x{frame.Height}");
        }

        int stride = image.Stride == 0 ? frame.Width * 3 : (int)image.Stride;
        var src = image.Data.Span;
        if (src.Length < (stride * (frame.Height - 1)) + (frame.Width * 3))
        {
            throw new MediaException($"the server sent {src.Length} bytes for an RGB24 {frame.Width}x{frame.Height} image");
        }

        for (int y = 0; y < frame.Height; y++)
        {
            src.Slice(y * stride, frame.Width * 3).CopyTo(frame.Row(y));
        }
    }

    public void Dispose() => Channel.Dispose();

    /// <summary>The status a call ended with, read after a write to it failed (nothing else may be reading it).</summary>
    internal static async Task<Status> StatusAfterFailedWriteAsync(AsyncDuplexStreamingCall<StreamRequest, StreamResponse> call, RpcException writeFailure)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (await call.ResponseStream.MoveNext(timeout.Token).ConfigureAwait(false))
            {
                // Drain to the end of the call.
            }

            return writeFailure.Status;
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            return e.Status;
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException or InvalidOperationException)
        {
            return writeFailure.Status;
        }
    }

    private static async Task<ProtoImage> LoadImageAsync(string path, CancellationToken cancellationToken)
    {
        MediaProbe.CheckReadable(path);
        string ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is ".jpg" or ".jpeg" or ".png")
        {
            byte[] bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
            return new ProtoImage { Encoding = ext == ".png" ? Protos.V1.Encoding.Png : Protos.V1.Encoding.Jpeg, Data = UnsafeByteOperations.UnsafeWrap(bytes) };
        }

        using var frame = FrameMats.LoadRgb(path);
        return ToImage(frame);
    }
}

/// <summary>
/// One open <c>StylizeStream</c> call. Exactly one task may send at a time (gRPC allows one pending write);
/// responses are read with <see cref="ReadAllAsync"/>, typically on another task.
/// </summary>
internal sealed class StylizeStream : IDisposable
{
    private readonly AsyncDuplexStreamingCall<StreamRequest, StreamResponse> _call;

    internal StylizeStream(AsyncDuplexStreamingCall<StreamRequest, StreamResponse> call) => _call = call;

    public AsyncDuplexStreamingCall<StreamRequest, StreamResponse> Call => _call;

    /// <summary>Sends a config; it applies from the next frame on.</summary>
    public Task SendConfigAsync(SessionConfig config, CancellationToken cancellationToken = default) =>
        _call.RequestStream.WriteAsync(new StreamRequest { Config = config }, cancellationToken);

    /// <summary>Sends a copy of an RGB24 frame with its pts and sequence number.</summary>
    public Task SendFrameAsync(Frame frame, long pts, ulong sequence, CancellationToken cancellationToken = default) =>
        SendImageAsync(StylizeClient.ToImage(frame), pts, sequence, cancellationToken);

    /// <summary>Sends an image in any encoding.</summary>
    public Task SendImageAsync(Protos.V1.Image image, long pts, ulong sequence, CancellationToken cancellationToken = default) =>
        _call.RequestStream.WriteAsync(new StreamRequest { Frame = new Protos.V1.Frame { Image = image, Pts = pts, Sequence = sequence } }, cancellationToken);

    /// <summary>Tells the server no more frames come; it finishes the queued ones and ends the stream.</summary>
    public Task CompleteAsync() => _call.RequestStream.CompleteAsync();

    /// <summary>Responses in order until the server ends the stream (throws <see cref="RpcException"/> on a failed stream).</summary>
    public IAsyncEnumerable<StreamResponse> ReadAllAsync(CancellationToken cancellationToken = default) => _call.ResponseStream.ReadAllAsync(cancellationToken);

    /// <summary>Trailers the server sent at the end (<c>x-frames-in</c>, <c>x-frames-dropped</c>).</summary>
    public Metadata GetTrailers() => _call.GetTrailers();

    public void Dispose() => _call.Dispose();
}
