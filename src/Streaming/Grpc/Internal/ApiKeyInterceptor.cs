using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace Video.Streaming.Grpc.Internal;

/// <summary>
/// Checks <c>authorization: Bearer KEY</c> against the configured API keys; calls without a valid key end
/// with Unauthenticated. Does nothing when no keys are configured.
/// </summary>
/// <remarks>Applied to the stylization service only: health and reflection stay open for probes and tools.</remarks>
internal sealed class ApiKeyInterceptor : Interceptor
{
    private readonly byte[][] _keys;

    public ApiKeyInterceptor(IOptions<StreamingOptions> options)
    {
        _keys = options.Value.ApiKeys.Select(k => Encoding.UTF8.GetBytes(k)).ToArray();
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Check(ServerCallContext context)
    {
        if (_keys.Length == 0)
        {
            return;
        }

        string? header = context.RequestHeaders.GetValue("authorization");
        if (header is null)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "this server needs an API key: send the metadata 'authorization: Bearer KEY'"));
        }

        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the authorization metadata must be 'Bearer KEY'"));
        }

        byte[] given = Encoding.UTF8.GetBytes(header[scheme.Length..].Trim());
        bool ok = false;
        foreach (var key in _keys)
        {
            // Compare against every key in constant time so timing tells nothing about which key is close.
            ok |= given.Length == key.Length && CryptographicOperations.FixedTimeEquals(given, key);
        }

        if (!ok)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the API key is not valid for this server"));
        }
    }
}
