namespace Video.Tests.Shared;

/// <summary>
/// A place in the code under test where it stops until the test lets it go: the code awaits
/// <see cref="WaitToContinue"/>, the test awaits <see cref="WaitForSyncPoint"/> (then the code is known to be
/// there), checks whatever must hold at that moment, and calls <see cref="Continue"/>. Tests use it instead of
/// sleeping and hoping the other side got somewhere.
/// </summary>
/// <remarks>Thread safe. One use: once released, later <see cref="WaitToContinue"/> calls return at once.</remarks>
public sealed class SyncPoint
{
    // Continuations run asynchronously, so neither side runs the other's code inside its own call.
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Called by the code under test: marks the point reached and waits for <see cref="Continue"/>.</summary>
    public Task WaitToContinue()
    {
        _reached.TrySetResult();
        return _released.Task;
    }

    /// <summary>Called by the test: completes when the code under test has reached the point.</summary>
    public Task WaitForSyncPoint() => _reached.Task;

    /// <summary>Called by the test: lets the code under test go on.</summary>
    public void Continue() => _released.TrySetResult();
}
