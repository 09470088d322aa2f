using System.Diagnostics;
using Grpc.Core;
using Video.Capture;
using Video.Streaming.Protos.V1;
using Frame = Video.Capture.Frame;

namespace Video.Streaming.Client;

/// <summary>What <see cref="StreamRoundTrip"/> sends with.</summary>
internal sealed record RoundTripOptions
{
    public string Model { get; init; } = string.Empty;

    public Policy Policy { get; init; } = Policy.All;

    /// <summary>Style image for AdaIN models (registered first).</summary>
    public string? StylePath { get; init; }

    public float? Alpha { get; init; }

    /// <summary>Temporal filter the server applies (off by default).</summary>
    public TemporalConfig? Temporal { get; init; }

    /// <summary>Where the sent and received frames' memory comes from; null uses <see cref="FrameAllocator.Default"/>.</summary>
    public FrameAllocator? Allocator { get; init; }

    /// <summary>Frame rate for image-folder inputs.</summary>
    public Rational? ImageRate { get; init; }
}

/// <summary>What a round trip did.</summary>
internal sealed record RoundTripResult(
    long FramesSent,
    long FramesStylized,
    long FramesWritten,
    long Dropped,
    TimeSpan Elapsed,
    string Model,
    string Device,
    string? AudioNote);

/// <summary>
/// Streams a video file or image folder through a server and writes the stylized result with the input's
/// audio: a send loop (decode → wire) and a receive loop (wire → encoder), joined under one token.
/// </summary>
/// <remarks>
/// Under <see cref="Policy.All"/> every frame comes back. Under <see cref="Policy.Latest"/> the file is sent at
/// its own frame rate, as a live source would, and frames the server dropped are filled with the last
/// stylized frame, so the output keeps the input's frame count and timing.
/// </remarks>
internal static class StreamRoundTrip
{
    /// <summary>Runs the round trip; gRPC failures become <see cref="VideoException"/>s with the server's message.</summary>
    public static async Task<RoundTripResult> RunAsync(StylizeClient client, string input, string output, RoundTripOptions options, CancellationToken cancellationToken)
    {
        if (!input.Contains("://", StringComparison.Ordinal))
        {
            MediaProbe.CheckReadable(input);
        }

        OutputKinds.FromPath(output);
        try
        {
            return await RunCoreAsync(client, input, output, options, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled || !cancellationToken.IsCancellationRequested)
        {
            throw new VideoException($"server {client.Address}: {e.StatusCode}: {Detail(e)}");
        }
        catch (HttpRequestException e)
        {
            throw new VideoException($"server {client.Address}: cannot talk gRPC to it: {e.Message.ReplaceLineEndings(" ")}");
        }
        catch (HttpIOException e)
        {
            throw new VideoException($"server {client.Address}: cannot talk gRPC to it (is it a `video serve` gRPC port?): {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>The status detail, or a hint when the server could not be reached.</summary>
    public static string Detail(RpcException e) => e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is { } inner
        ? $"cannot reach the server ({inner.Message.ReplaceLineEndings(" ")})"
        : e.Status.Detail;

    private static async Task<RoundTripResult> RunCoreAsync(StylizeClient client, string input, string output, RoundTripOptions options, CancellationToken cancellationToken)
    {
        await using var source = await FrameSources.OpenAsync(input, options.ImageRate, cancellationToken).ConfigureAwait(false);
        var info = source.Info;
        string styleId = string.Empty;
        if (options.StylePath is { } style)
        {
            styleId = (await client.RegisterStyleAsync(style, options.Model, cancellationToken).ConfigureAwait(false)).StyleId;
        }

        var config = new SessionConfig { Model = options.Model, Policy = options.Policy, StyleId = styleId, OutputEncoding = Protos.V1.Encoding.Rgb24, Temporal = options.Temporal };
        if (options.Alpha is { } alpha)
        {
            config.Alpha = alpha;
        }

        await using var sink = FfmpegVideoSink.Create(output, info.Width, info.Height, info.FrameRate, info);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var stream = await client.OpenStreamAsync(config, cts.Token).ConfigureAwait(false);
        var allocator = options.Allocator ?? FrameAllocator.Default;
        using var sendPool = allocator.CreatePool(info.Width, info.Height, PixelFormat.Rgb24, 3);
        using var receivePool = allocator.CreatePool(info.Width, info.Height, PixelFormat.Rgb24, 2);
        var watch = Stopwatch.StartNew();
        long sent = 0;
        bool pace = options.Policy == Policy.Latest && !source.IsLive;
        double interval = 1.0 / Math.Max(1e-3, info.FrameRate.Value);

        RpcException? writeFailure = null;
        async Task SendAsync()
        {
            try
            {
                await foreach (var frame in source.ReadAllAsync(sendPool, cts.Token).ConfigureAwait(false))
                {
                    using (frame)
                    {
                        if (pace)
                        {
                            var due = TimeSpan.FromSeconds(sent * interval) - watch.Elapsed;
                            if (due > TimeSpan.Zero)
                            {
                                await Task.Delay(due, cts.Token).ConfigureAwait(false);
                            }
                        }

                        await stream.SendFrameAsync(frame, frame.Timestamp.Ticks / 10, (ulong)frame.Index, cts.Token).ConfigureAwait(false);
                        Interlocked.Increment(ref sent);
                    }
                }

                await stream.CompleteAsync().ConfigureAwait(false);
            }
            catch (RpcException e) when (!cts.IsCancellationRequested)
            {
                // The server ended the call while a frame was being written; the receive loop reads its status.
                writeFailure = e;
            }
            catch
            {
                await cts.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }

        long stylized = 0, written = 0, dropped = 0;
        string model = string.Empty, device = string.Empty;
        async Task ReceiveAsync()
        {
            Frame? last = null;
            try
            {
                long expected = 0;
                await foreach (var response in stream.ReadAllAsync(cts.Token).ConfigureAwait(false))
                {
                    if (response.KindCase == StreamResponse.KindOneofCase.ConfigApplied)
                    {
                        model = response.ConfigApplied.Model;
                        device = response.ConfigApplied.Device;
                        continue;
                    }

                    var f = response.Frame;
                    stylized++;
                    dropped = (long)f.DroppedTotal;
                    long sequence = (long)f.Sequence;
                    if (sequence < expected)
                    {
                        throw new MediaException($"the server answered frame {sequence} after frame {expected - 1}: out of order");
                    }

                    // Frames the server dropped (POLICY_LATEST) are filled with the last stylized frame.
                    for (; expected < sequence && last is not null; expected++)
                    {
                        await sink.WriteAsync(last, cts.Token).ConfigureAwait(false);
                        written++;
                    }

                    last?.Dispose();
                    last = await receivePool.RentAsync(cts.Token).ConfigureAwait(false);
                    StylizeClient.CopyTo(f.Image, last);
                    await sink.WriteAsync(last, cts.Token).ConfigureAwait(false);
                    written++;
                    expected = sequence + 1;
                }

                for (; last is not null && written < Interlocked.Read(ref sent); )
                {
                    await sink.WriteAsync(last, cts.Token).ConfigureAwait(false);
                    written++;
                }
            }
            catch
            {
                await cts.CancelAsync().ConfigureAwait(false);
                throw;
            }
            finally
            {
                last?.Dispose();
            }
        }

        var sending = Task.Run(SendAsync, CancellationToken.None);
        var receiving = Task.Run(ReceiveAsync, CancellationToken.None);
        // The receive side carries the server's status; prefer it over the cancellation it caused.
        await TaskJoin.WhenAllAsync([receiving, sending], e => e is RpcException { StatusCode: StatusCode.Cancelled }).ConfigureAwait(false);

        if (writeFailure is not null)
        {
            throw writeFailure;
        }

        await sink.CompleteAsync(cancellationToken).ConfigureAwait(false);
        return new RoundTripResult(sent, stylized, written, dropped, watch.Elapsed, model, device, sink.AudioNote);
    }
}
