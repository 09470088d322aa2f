namespace Video.Capture;

/// <summary>
/// A failure the user can act on (bad input, missing file, unusable model). Its message is one line
/// that the command line prints as is; the service layer maps it to a gRPC status.
/// </summary>
public class VideoException : Exception
{
    public VideoException(string message)
        : base(message)
    {
    }

    public VideoException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>An input or output medium cannot be read or written.</summary>
public class MediaException : VideoException
{
    public MediaException(string message)
        : base(message)
    {
    }

    public MediaException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
