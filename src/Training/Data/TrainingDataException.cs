namespace Video.Training.Data;

/// <summary>A problem with the training data or arguments that the user can fix; reported as one line, no stack trace.</summary>
internal sealed class TrainingDataException : Exception
{
    public TrainingDataException(string message)
        : base(message)
    {
    }

    public TrainingDataException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public TrainingDataException()
    {
    }
}
