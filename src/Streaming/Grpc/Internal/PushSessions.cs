using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Threading.Channels;
using Grpc.Core;
using Video.Streaming.Protos.V1;

namespace Video.Streaming.Grpc.Internal;

/// <summary>
/// The sessions opened by <c>OpenSession</c>, by id. Each is a <see cref="PushedRequestStream"/>: the request stream
/// a <see cref="StreamSession"/> reads, fed by <c>PushSession</c> calls instead of by the client's own stream, because
/// a browser cannot stream requests over gRPC-Web.
/// </summary>
/// <remarks>Thread safe. Ids are 128 random bits, so a session is reachable only by the client it was given to.</remarks>
internal sealed class PushSessionRegistry
{
    private readonly ConcurrentDictionary<string, PushedRequestStream> _open = new(StringComparer.Ordinal);

    /// <summary>Sessions open now.</summary>
    public int Count => _open.Count;

    /// <summary>Opens a session whose request stream starts with <paramref name="first"/>.</summary>
    public PushedRequestStream Open(StreamRequest first)
    {
        while (true)
        {
            var stream = new PushedRequestStream(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), first);
            if (_open.TryAdd(stream.Id, stream))
            {
                return stream;
            }
        }
    }

    /// <summary>The open session with this id, or null.</summary>
    public PushedRequestStream? Find(string id) => _open.TryGetValue(id, out var stream) ? stream : null;

    /// <summary>Removes the session and ends its request stream; pushes still waiting fail.</summary>
    public void Close(PushedRequestStream stream)
    {
        _open.TryRemove(new KeyValuePair<string, PushedRequestStream>(stream.Id, stream));
        stream.Complete();
    }
}

/// <summary>A request stream whose messages are pushed by other calls.</summary>
/// <remarks>
/// Thread safe for pushers; read by the one session. The queue is bounded: a push waits while it is full, which is
/// the backpressure of <see cref="Policy.All"/> (under <see cref="Policy.Latest"/> the session never lets it fill).
/// </remarks>
internal sealed class PushedRequestStream : IAsyncStreamReader<StreamRequest>
{
    private readonly Channel<StreamRequest> _queue = Channel.CreateBounded<StreamRequest>(new BoundedChannelOptions(4)
    {
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = true,
    });

    public PushedRequestStream(string id, StreamRequest first)
    {
        Id = id;
        _queue.Writer.TryWrite(first);
    }

    /// <summary>The session id a client names in <c>PushSession</c>.</summary>
    public string Id { get; }

    public StreamRequest Current { get; private set; } = null!;

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        while (await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_queue.Reader.TryRead(out var message))
            {
                Current = message;
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Queues <paramref name="request"/> (when given) and then, with <paramref name="endOfStream"/>, ends the stream.
    /// Throws <see cref="StreamingException"/> (NotFound) when the session has ended.
    /// </summary>
    public async ValueTask PushAsync(StreamRequest? request, bool endOfStream, CancellationToken cancellationToken)
    {
        try
        {
            if (request is not null)
            {
                await _queue.Writer.WriteAsync(request, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (ChannelClosedException)
        {
            throw new StreamingException(StreamingError.NotFound, $"session {Id} has ended: open a new one with OpenSession");
        }

        if (endOfStream)
        {
            _queue.Writer.TryComplete();
        }
    }

    /// <summary>Ends the stream: the session reads what is queued, then sees its end.</summary>
    public void Complete() => _queue.Writer.TryComplete();
}
