using Microsoft.Extensions.Logging;

namespace Video.Streaming.Grpc;

/// <summary>The streaming server's log messages, with fixed event ids. Nothing is logged per frame above Debug.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Loaded {Count} model(s) on {Device} in {Milliseconds:0} ms: {Models}")]
    public static partial void ModelsLoaded(ILogger logger, int count, string device, double milliseconds, string models);

    [LoggerMessage(2, LogLevel.Warning, "Model skipped: {Problem}")]
    public static partial void ModelSkipped(ILogger logger, string problem);

    [LoggerMessage(3, LogLevel.Error, "No model could be loaded; the server stays NOT_SERVING: {Reason}")]
    public static partial void ModelsFailed(ILogger logger, string reason);

    [LoggerMessage(4, LogLevel.Warning, "{Warning}")]
    public static partial void DeviceWarning(ILogger logger, string warning);

    [LoggerMessage(5, LogLevel.Information, "Model {Model}: frames of different streams are batched, up to {MaxBatch} per call, waiting at most {DelayMs:0.#} ms ({How})")]
    public static partial void BatchingOn(ILogger logger, string model, int maxBatch, double delayMs, string how);

    [LoggerMessage(6, LogLevel.Warning, "Model {Model} runs frame by frame although batching is on: {Reason}")]
    public static partial void BatchingOff(ILogger logger, string model, string reason);

    [LoggerMessage(7, LogLevel.Debug, "Cached plan {Model} {Width}x{Height} disposed to make room ({Left} left)")]
    public static partial void PlanEvicted(ILogger logger, string model, int width, int height, int left);

    [LoggerMessage(31, LogLevel.Debug, "Dropped frame memory given back to the system in {Milliseconds:0.0} ms ({CommittedMib} MiB committed by the GC)")]
    public static partial void MemoryGivenBack(ILogger logger, double milliseconds, long committedMib);

    [LoggerMessage(10, LogLevel.Information, "Stream {StreamId} from {Peer} started: model {Model}, policy {Policy}, queue {Capacity}")]
    public static partial void StreamStarted(ILogger logger, long streamId, string peer, string model, string policy, int capacity);

    [LoggerMessage(11, LogLevel.Information, "Stream {StreamId} ended: {FramesIn} in, {FramesOut} out, {Dropped} dropped")]
    public static partial void StreamEnded(ILogger logger, long streamId, long framesIn, long framesOut, long dropped);

    [LoggerMessage(12, LogLevel.Information, "Stream {StreamId} failed with {Status}: {Message}")]
    public static partial void StreamFailed(ILogger logger, long streamId, string status, string message);

    [LoggerMessage(13, LogLevel.Debug, "Stream {StreamId} switched to model {Model} (config {Version})")]
    public static partial void ConfigApplied(ILogger logger, long streamId, string model, int version);

    [LoggerMessage(14, LogLevel.Warning, "Stream {StreamId} returned with {Outstanding} frame(s) not back in its pool")]
    public static partial void FramesLeaked(ILogger logger, long streamId, int outstanding);

    [LoggerMessage(15, LogLevel.Warning, "Stream {StreamId} from {Peer} aborted: a reply was not read for {Seconds:0.#} s (the client stopped reading)")]
    public static partial void RepliesNotRead(ILogger logger, long streamId, string peer, double seconds);

    [LoggerMessage(20, LogLevel.Information, "Call {Method} rejected: {Status}: {Message}")]
    public static partial void CallRejected(ILogger logger, string method, string status, string message);

    [LoggerMessage(21, LogLevel.Error, "Call {Method} failed with an internal error")]
    public static partial void CallFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(22, LogLevel.Warning, "Call {Path} from {Address} refused before its body was read: {Reason} (failure {Count} of {Limit} allowed in the window; then the address is refused)")]
    public static partial void AuthFailed(ILogger logger, string address, string path, string reason, int count, int limit);

    [LoggerMessage(30, LogLevel.Information, "Style {StyleId} registered for model {Model}")]
    public static partial void StyleRegistered(ILogger logger, string styleId, string model);
}
