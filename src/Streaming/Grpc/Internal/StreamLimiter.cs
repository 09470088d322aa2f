using Microsoft.Extensions.Options;

namespace Video.Streaming.Grpc.Internal;

/// <summary>Counts open streams overall and per client and refuses those over the limits.</summary>
/// <remarks>Thread safe. A successful <see cref="Acquire"/> returns a lease that must be disposed exactly once.</remarks>
internal sealed class StreamLimiter
{
    private readonly StreamingOptions _options;
    private readonly Dictionary<string, int> _perClient = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private int _total;

    public StreamLimiter(IOptions<StreamingOptions> options) => _options = options.Value;

    /// <summary>Takes a stream slot for <paramref name="client"/> or throws LimitExceeded.</summary>
    public Lease Acquire(string client)
    {
        lock (_gate)
        {
            if (_total >= _options.MaxStreams)
            {
                throw new StreamingException(StreamingError.LimitExceeded, $"too many streams: the server has {_total} open (limit {_options.MaxStreams}); retry later");
            }

            _perClient.TryGetValue(client, out int mine);
            if (mine >= _options.MaxStreamsPerClient)
            {
                throw new StreamingException(StreamingError.LimitExceeded, $"too many streams from {client}: {mine} open (limit {_options.MaxStreamsPerClient} per client); close one first");
            }

            _perClient[client] = mine + 1;
            _total++;
        }

        return new Lease(this, client);
    }

    private void Release(string client)
    {
        lock (_gate)
        {
            _total--;
            if (_perClient.TryGetValue(client, out int mine) && mine > 1)
            {
                _perClient[client] = mine - 1;
            }
            else
            {
                _perClient.Remove(client);
            }
        }
    }

    /// <summary>One open stream's slot.</summary>
    public sealed class Lease : IDisposable
    {
        private StreamLimiter? _owner;
        private readonly string _client;

        internal Lease(StreamLimiter owner, string client)
        {
            _owner = owner;
            _client = client;
        }

        public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release(_client);
    }
}
