using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.DependencyInjection;
using Video.Streaming.Protos.V1;
using Video.Tests.Shared;

namespace Video.Streaming.Tests.Grpc;

/// <summary>
/// A server interceptor that lets a test hold <c>StylizeStream</c> calls at a known point: the server's first
/// frame response (of each of the first <see cref="HoldStreams"/> streams to write one) waits at
/// <see cref="FirstFrameResponse"/> before it is written, so the test knows the write loop is stopped
/// (deterministically, not by HTTP/2 windows filling up in time). It also counts the frames the server has read and
/// says when it has read the whole request stream.
/// </summary>
/// <remarks>One gate per test server; thread safe.</remarks>
internal sealed class StreamGate : Interceptor
{
    private readonly TaskCompletionSource _requestsEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _framesRead;
    private int _held;

    /// <summary>Where the first frame response of the server waits until the test continues it.</summary>
    public SyncPoint FirstFrameResponse { get; } = new();

    /// <summary>How many streams (the first to write a frame response) are held at <see cref="FirstFrameResponse"/>.</summary>
    public int HoldStreams { get; init; } = 1;

    /// <summary>Streams whose first frame response has reached <see cref="FirstFrameResponse"/>.</summary>
    public int Held => Math.Min(Volatile.Read(ref _held), HoldStreams);

    /// <summary>Frame messages the server has taken from request streams.</summary>
    public int FramesRead => Volatile.Read(ref _framesRead);

    /// <summary>Completes when the server has read a request stream to its end.</summary>
    public Task RequestsEnded => _requestsEnded.Task;

    /// <summary>Adds the gate to a server's services, in front of every call.</summary>
    public void Register(IServiceCollection services)
    {
        services.AddSingleton(this);
        services.AddGrpc(o => o.Interceptors.Add<StreamGate>());
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        continuation(new CountingReader<TRequest>(requestStream, this), new HoldingWriter<TResponse>(responseStream, this), context);

    private sealed class CountingReader<T>(IAsyncStreamReader<T> inner, StreamGate gate) : IAsyncStreamReader<T>
    {
        public T Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            bool more = await inner.MoveNext(cancellationToken).ConfigureAwait(false);
            if (!more)
            {
                gate._requestsEnded.TrySetResult();
            }
            else if (inner.Current is StreamRequest { KindCase: StreamRequest.KindOneofCase.Frame })
            {
                Interlocked.Increment(ref gate._framesRead);
            }

            return more;
        }
    }

    private sealed class HoldingWriter<T>(IServerStreamWriter<T> inner, StreamGate gate) : IServerStreamWriter<T>
    {
        private bool _wroteFrame;

        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

        public async Task WriteAsync(T message, CancellationToken cancellationToken)
        {
            if (message is StreamResponse { KindCase: StreamResponse.KindOneofCase.Frame } && !_wroteFrame)
            {
                _wroteFrame = true;
                if (Interlocked.Increment(ref gate._held) <= gate.HoldStreams)
                {
                    await gate.FirstFrameResponse.WaitToContinue().WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            await inner.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
    }
}
