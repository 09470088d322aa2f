using Grpc.Core;
using Video.Streaming.Protos.V1;

namespace Video.Streaming.Tests.Grpc;

/// <summary>Issue 18: what a careless or hostile client does to the server, each case with the fix's regression test.</summary>
[Collection(GrpcCollection.Name)]
public sealed class HardeningTests
{
    private static readonly TimeSpan T = GrpcTestServer.Timeout;

    [Fact]
    public async Task StylizeStream_ClientNeverReadsReplies_StreamAbortedAndSlotFreed()
    {
        // One slot on the whole server: a stalled stream that kept it would lock every other client out.
        await using var server = await GrpcTestServer.StartAsync(o =>
        {
            o.MaxStreams = 1;
            o.WriteTimeout = TimeSpan.FromSeconds(1);
        });

        // 320x240 RGB24 replies are 230 KB each, far more than the client's 64 KiB HTTP/2 stream window, so the
        // server's first reply write stalls while this client sends and never reads.
        using var stalled = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity", Policy = Policy.All }).WaitAsync(T);
        var image = GrpcTestServer.Pattern(320, 240, 1);
        var sender = Task.Run(async () =>
        {
            try
            {
                for (ulong i = 0; i < 200; i++)
                {
                    await stalled.SendImageAsync(image, (long)i, i).WaitAsync(T);
                }
            }
            catch (Exception e) when (e is RpcException or IOException)
            {
                // The server aborts the call (an HTTP/2 reset): sending fails from then on.
            }
        });

        await GrpcTestServer.EventuallyAsync(() => server.Metrics.StreamsStalled == 1, "the stalled stream to be aborted");
        await GrpcTestServer.EventuallyAsync(() => server.Metrics.ActiveStreams == 0, "the stalled stream's slot to be freed");
        await sender.WaitAsync(T);

        // The slot is usable again by a client that reads.
        using var next = await server.NewClient(null).OpenStreamAsync(new SessionConfig { Model = "identity" }).WaitAsync(T);
        Assert.Equal(StreamResponse.KindOneofCase.ConfigApplied, (await GrpcTestServer.NextAsync(next)).KindCase);
        await next.SendImageAsync(GrpcTestServer.Pattern(32, 32, 0), 0, 0).WaitAsync(T);
        Assert.Equal(StreamResponse.KindOneofCase.Frame, (await GrpcTestServer.NextAsync(next)).KindCase);
        await next.CompleteAsync().WaitAsync(T);
        await GrpcTestServer.ReadAllAsync(next);
    }
}
