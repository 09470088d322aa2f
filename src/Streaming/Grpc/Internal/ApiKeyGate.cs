using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Video.Streaming.Grpc.Internal;

/// <summary>
/// Checks <c>authorization: Bearer KEY</c> on every <c>video.stylize.v1.VideoStylizer</c> call from the request headers,
/// before gRPC reads the request body, and rate-limits failed attempts per remote address. Does nothing when no
/// keys are configured; health and reflection stay open for probes and tools.
/// </summary>
/// <remarks>
/// A rejected call is answered at once with a trailers-only gRPC response (<c>grpc-status</c> in the headers) and its
/// body is never read, so a caller without a key cannot make the server buffer a large message (issue 18, case 3).
/// Keys are compared as SHA-256 hashes with <see cref="CryptographicOperations.FixedTimeEquals"/> against every key,
/// so the time taken says nothing about a key's length or how close a guess was. After
/// <see cref="StreamingOptions.AuthFailureLimit"/> failures from one address within
/// <see cref="StreamingOptions.AuthFailureWindow"/>, every call to the service from that address is refused with
/// ResourceExhausted until the window ends (valid keys too, so the refusal tells nothing about a guess). Thread safe.
/// </remarks>
internal sealed class ApiKeyGate
{
    private const string ServicePrefix = "/" + ModelHost.ServiceName + "/";
    private const int MaxTrackedAddresses = 10_000;

    private readonly byte[][] _keyHashes;
    private readonly StreamingOptions _options;
    private readonly StreamingMetrics _metrics;
    private readonly ILogger<ApiKeyGate> _logger;
    private readonly ConcurrentDictionary<string, FailureWindow> _failures = new(StringComparer.Ordinal);

    public ApiKeyGate(IOptions<StreamingOptions> options, StreamingMetrics metrics, ILogger<ApiKeyGate> logger)
    {
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _keyHashes = _options.ApiKeys.Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k))).ToArray();
    }

    /// <summary>True when the given key is one of <paramref name="keyHashes"/> (SHA-256), in time independent of the key.</summary>
    internal static bool Matches(string given, byte[][] keyHashes)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(given), hash);
        bool ok = false;
        foreach (var key in keyHashes)
        {
            ok |= CryptographicOperations.FixedTimeEquals(hash, key);
        }

        return ok;
    }

    /// <summary>The middleware: passes authorized calls (and everything outside the service) on to <paramref name="next"/>.</summary>
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (_keyHashes.Length == 0 || !context.Request.Path.StartsWithSegments(ServicePrefix.TrimEnd('/'), StringComparison.Ordinal))
        {
            return next(context);
        }

        string address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var now = DateTime.UtcNow;
        if (_failures.TryGetValue(address, out var window) && window.IsLockedOut(now, _options))
        {
            _metrics.AuthFailed();
            var left = window.Start + _options.AuthFailureWindow - now;
            return RejectAsync(context, StatusCode.ResourceExhausted,
                $"too many failed API key attempts from {address} ({_options.AuthFailureLimit} in {_options.AuthFailureWindow.TotalSeconds:0.#} s): calls from this address are refused for {Math.Max(1, left.TotalSeconds):0} s");
        }

        string? problem = Problem(context.Request.Headers.Authorization.ToString());
        if (problem is null)
        {
            return next(context);
        }

        _metrics.AuthFailed();
        if (_failures.Count > MaxTrackedAddresses)
        {
            foreach (var old in _failures.Where(p => now - p.Value.Start > _options.AuthFailureWindow).Select(p => p.Key).ToList())
            {
                _failures.TryRemove(old, out _);
            }
        }

        int count = _failures.GetOrAdd(address, _ => new FailureWindow(now)).Fail(now, _options);
        if (count <= _options.AuthFailureLimit)
        {
            Log.AuthFailed(_logger, address, context.Request.Path.Value ?? string.Empty, problem, count, _options.AuthFailureLimit);
        }

        return RejectAsync(context, StatusCode.Unauthenticated, problem);
    }

    private string? Problem(string header)
    {
        if (string.IsNullOrEmpty(header))
        {
            return "this server needs an API key: send the metadata 'authorization: Bearer KEY'";
        }

        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return "the authorization metadata must be 'Bearer KEY'";
        }

        return Matches(header[scheme.Length..].Trim(), _keyHashes) ? null : "the API key is not valid for this server";
    }

    /// <summary>A trailers-only gRPC response: HTTP 200 with the status in the headers and no body; the request body stays unread.</summary>
    private static Task RejectAsync(HttpContext context, StatusCode status, string message)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        string? requestType = context.Request.ContentType;
        response.ContentType = requestType is not null && requestType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) ? requestType : "application/grpc";
        response.Headers["grpc-status"] = ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = Uri.EscapeDataString(message);
        return response.CompleteAsync();
    }

    /// <summary>Failed attempts from one address in the current window.</summary>
    private sealed class FailureWindow(DateTime start)
    {
        private readonly Lock _gate = new();
        private int _count;

        public DateTime Start { get; private set; } = start;

        public bool IsLockedOut(DateTime now, StreamingOptions options)
        {
            lock (_gate)
            {
                return now - Start < options.AuthFailureWindow && _count >= options.AuthFailureLimit;
            }
        }

        public int Fail(DateTime now, StreamingOptions options)
        {
            lock (_gate)
            {
                if (now - Start >= options.AuthFailureWindow)
                {
                    Start = now;
                    _count = 0;
                }

                return ++_count;
            }
        }
    }
}
