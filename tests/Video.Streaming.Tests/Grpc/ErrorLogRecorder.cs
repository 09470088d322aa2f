using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Video.Streaming.Tests.Grpc;

/// <summary>One log entry at <see cref="LogLevel.Error"/> or above, as the server wrote it.</summary>
internal sealed record ErrorLogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception)
{
    public override string ToString() =>
        $"{Level} {Category}[{EventId.Id}{(EventId.Name is { } name ? " " + name : string.Empty)}]: {Message}"
        + (Exception is null ? string.Empty : Environment.NewLine + "    " + Exception.ToString().Replace("\n", "\n    ", StringComparison.Ordinal));
}

/// <summary>
/// A logger provider that records every entry at <see cref="LogLevel.Error"/> or above, so a functional test fails
/// when the server logged an error the test did not declare with <see cref="ExpectErrors"/>.
/// </summary>
/// <remarks>
/// Thread-safe: the server logs from any thread, and a test may declare expectations while the server runs. An entry
/// is judged when <see cref="AssertNoUnexpectedErrors"/> runs, not when it is logged, so an expectation declared late in
/// a test still covers an error logged earlier (for example while the server started).
/// </remarks>
internal sealed class ErrorLogRecorder : ILoggerProvider
{
    private readonly ConcurrentQueue<ErrorLogEntry> _entries = new();
    private readonly ConcurrentQueue<Func<ErrorLogEntry, bool>> _expected = new();

    /// <summary>Every error recorded so far, in the order logged.</summary>
    public IReadOnlyList<ErrorLogEntry> Entries => [.. _entries];

    /// <summary>The recorded errors no declared expectation matches.</summary>
    public IReadOnlyList<ErrorLogEntry> Unexpected => [.. _entries.Where(e => !_expected.Any(expected => expected(e)))];

    /// <summary>Declares errors the test provokes on purpose; an entry is expected when any declared predicate matches.</summary>
    public void ExpectErrors(Func<ErrorLogEntry, bool> isExpected) => _expected.Enqueue(isExpected);

    /// <summary>Fails, listing them, when any recorded error matches no expectation.</summary>
    public void AssertNoUnexpectedErrors()
    {
        var unexpected = Unexpected;
        if (unexpected.Count == 0)
        {
            return;
        }

        var message = new StringBuilder($"the server logged {unexpected.Count} unexpected error(s); declare the ones the test provokes with ExpectErrors:");
        foreach (var entry in unexpected)
        {
            message.AppendLine().Append("  ").Append(entry);
        }

        Assert.Fail(message.ToString());
    }

    public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Recorder(ErrorLogRecorder owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel is >= LogLevel.Error and < LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner._entries.Enqueue(new ErrorLogEntry(category, logLevel, eventId, formatter(state, exception), exception));
            }
        }
    }
}
