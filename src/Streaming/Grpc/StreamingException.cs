using Video.Capture;

namespace Video.Streaming.Grpc;

/// <summary>Why a streaming request cannot be served; the service layer maps each to a gRPC status.</summary>
internal enum StreamingError
{
    /// <summary>The request is malformed (sizes, stride, encoding, corrupt image).</summary>
    InvalidInput,

    /// <summary>A model or style that does not exist.</summary>
    NotFound,

    /// <summary>The request is valid but not now (frames before a config, a style for a model without one).</summary>
    OutOfOrder,

    /// <summary>A server limit: frame size, streams.</summary>
    LimitExceeded,

    /// <summary>The server is not ready (models still loading).</summary>
    NotReady,

    /// <summary>A feature this server build does not have.</summary>
    Unsupported,

    /// <summary>The client sent nothing for too long.</summary>
    Idle,
}

/// <summary>A request the streaming service cannot serve, with a message the client can act on.</summary>
internal sealed class StreamingException : VideoException
{
    public StreamingException(StreamingError error, string message)
        : base(message)
    {
        Error = error;
    }

    public StreamingError Error { get; }
}
