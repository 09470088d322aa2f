using Video.Capture;

namespace Video.Inference;

/// <summary>A model cannot be found, read, or run as its manifest says.</summary>
public sealed class ModelException : VideoException
{
    public ModelException(string message)
        : base(message)
    {
    }

    public ModelException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
