using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Video.Streaming.Grpc;
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

    [Fact]
    public async Task StylizeImage_WrongKeyWithLargeBody_UnauthenticatedWithoutReadingTheBody()
    {
        await using var server = await GrpcTestServer.StartAsync(o => o.ApiKeys = ["right-key"], apiKey: "right-key");
        using var http = new HttpClient(new SocketsHttpHandler()) { Timeout = T };

        // A 24 MiB StylizeImage request (a 4K RGB24 frame's worth) with the wrong key. HTTP/2 flow control lets the
        // client send only what the server's windows allow (about 1 MiB) unless the server reads the body.
        var body = new CountingGrpcBody(24 << 20);
        using var request = new HttpRequestMessage(HttpMethod.Post, server.Address.TrimEnd('/') + "/video.stylize.v1.VideoStylizer/StylizeImage")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = body,
        };
        request.Headers.TryAddWithoutValidation("authorization", "Bearer wrong-key");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(T);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("16", Assert.Single(response.Headers.GetValues("grpc-status")));
        Assert.Contains("not valid", Uri.UnescapeDataString(Assert.Single(response.Headers.GetValues("grpc-message"))), StringComparison.Ordinal);
        Assert.True(body.Sent < 8 << 20, $"the client sent {body.Sent} of {24 << 20} bytes: the server read the body of an unauthenticated call");
        Assert.Equal(1, server.Metrics.AuthFailures);
    }

    [Fact]
    public async Task Calls_RepeatedWrongKeys_RateLimitedPerAddress()
    {
        await using var server = await GrpcTestServer.StartAsync(o =>
        {
            o.ApiKeys = ["right-key"];
            o.AuthFailureLimit = 3;
            o.AuthFailureWindow = TimeSpan.FromMinutes(5);
        }, apiKey: "right-key");
        Assert.NotEmpty((await server.Client.ListModelsAsync().WaitAsync(T)).Models);

        using var guesser = server.NewClient("guess");
        for (int i = 0; i < 3; i++)
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => guesser.ListModelsAsync().WaitAsync(T));
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        }

        // The fourth attempt, and then any call from the address (a right key too), is refused until the window ends.
        foreach (var client in new[] { guesser, server.Client })
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => client.ListModelsAsync().WaitAsync(T));
            Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
            Assert.Contains("too many failed API key attempts from 127.0.0.1 (3 in 300 s)", e.Status.Detail, StringComparison.Ordinal);
        }

        Assert.Equal(5, server.Metrics.AuthFailures);
    }

    [Fact]
    public void ApiKeyMatch_DifferentLengthsAndNearMisses_OnlyExactKeysMatch()
    {
        byte[][] keys = [.. new[] { "secret-1", "a-much-longer-second-key" }.Select(k => System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(k)))];
        Assert.True(Streaming.Grpc.Internal.ApiKeyGate.Matches("secret-1", keys));
        Assert.True(Streaming.Grpc.Internal.ApiKeyGate.Matches("a-much-longer-second-key", keys));
        foreach (var wrong in new[] { "secret-2", "secret-", "secret-11", string.Empty, "a-much-longer-second-kex" })
        {
            Assert.False(Streaming.Grpc.Internal.ApiKeyGate.Matches(wrong, keys), wrong);
        }
    }

    /// <summary>A gRPC-framed request body of <c>length</c> zero bytes, produced as the transport pulls it, counting what was sent.</summary>
    private sealed class CountingGrpcBody : HttpContent
    {
        private readonly int _length;
        private long _sent;

        public CountingGrpcBody(int length)
        {
            _length = length;
            Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        }

        public long Sent => Interlocked.Read(ref _sent);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            int length = _length;
            byte[] prefix = [0, (byte)(length >> 24), (byte)(length >> 16), (byte)(length >> 8), (byte)length];
            byte[] chunk = new byte[64 * 1024];
            try
            {
                await stream.WriteAsync(prefix);
                for (int left = length; left > 0; left -= chunk.Length)
                {
                    int n = Math.Min(left, chunk.Length);
                    await stream.WriteAsync(chunk.AsMemory(0, n));
                    Interlocked.Add(ref _sent, n);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or HttpRequestException)
            {
                // The server answered and reset the stream without reading the rest.
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task StylizeImage_PngDeclaring20000x20000_ResourceExhaustedBeforeDecoding()
    {
        await using var server = await GrpcTestServer.StartAsync();
        byte[] png = Video.Tests.Shared.HugePng.Create(20000, 20000);
        Assert.True(png.Length < 1_500_000, $"the fixture is {png.Length} bytes");
        long peakBefore = PeakResidentBytes();

        var e = await Assert.ThrowsAsync<RpcException>(() => server.Client.StylizeImageAsync(
            new Image { Encoding = Protos.V1.Encoding.Png, Data = Google.Protobuf.ByteString.CopyFrom(png) }, new SessionConfig { Model = "identity" }).WaitAsync(T));

        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Equal("image: 20000x20000 exceeds the server's frame limit of 3840x2160", e.Status.Detail);

        // Decoding it would have expanded it to 1.2 GB of BGR pixels; the header check refuses it first.
        long grew = PeakResidentBytes() - peakBefore;
        Assert.True(grew < 400L << 20, $"the process's peak resident memory grew by {grew >> 20} MiB: the image was decoded");
    }

    [Fact]
    public async Task StylizeImage_OverLongModelAndStyleNames_MessageQuotesThemCut()
    {
        await using var server = await GrpcTestServer.StartAsync();
        string name = new('m', 10_000);
        var e = await Assert.ThrowsAsync<RpcException>(() => server.Client.StylizeImageAsync(GrpcTestServer.Pattern(8, 8, 0), new SessionConfig { Model = name }).WaitAsync(T));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.StartsWith($"unknown model '{new string('m', 64)}'… (10000 characters) (installed: ", e.Status.Detail, StringComparison.Ordinal);
        Assert.True(e.Status.Detail.Length < 300, $"{e.Status.Detail.Length} characters");

        var style = await Assert.ThrowsAsync<RpcException>(() => server.Client.StylizeImageAsync(GrpcTestServer.Pattern(8, 8, 0), new SessionConfig { Model = "px", StyleId = "s\n" + new string('s', 5000) }).WaitAsync(T));
        Assert.Equal(StatusCode.NotFound, style.StatusCode);
        Assert.StartsWith("unknown style 's?sss", style.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("… (5002 characters)", style.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StylizeImage_MixedSizesOverTheBudget_OldPlansEvictedAndEveryCallServed()
    {
        // 40 MiB: a 2-slot identity plan at 640x480 holds about 15 MiB of tensors, so the cache cannot keep them all.
        const long budget = 40L << 20;
        await using var server = await GrpcTestServer.StartAsync(frameBudgetBytes: budget);
        var host = server.Server.Services.GetRequiredService<ModelHost>();
        (int W, int H)[] sizes = [(256, 192), (640, 480), (512, 384), (320, 240), (640, 360), (480, 480), (256, 192), (600, 400)];
        long peak = 0;
        foreach (var (w, h) in sizes)
        {
            foreach (var model in new[] { "identity", "white" })
            {
                var r = await server.Client.StylizeImageAsync(GrpcTestServer.Pattern(w, h, 3), new SessionConfig { Model = model }).WaitAsync(T);
                Assert.Equal(((uint)w, (uint)h), (r.Image.Width, r.Image.Height));
                peak = Math.Max(peak, server.Allocator.BytesRented + server.Allocator.BytesKept);
            }
        }

        Assert.True(peak <= budget, $"{peak} bytes held against a budget of {budget}");
        Assert.True(host.PlansEvicted > 0, "no cached plan was given back");
        Assert.True(host.CachedPlans < sizes.Length * 2, $"{host.CachedPlans} plans cached");
    }

    /// <summary>The process's peak resident set (VmHWM), in bytes.</summary>
    private static long PeakResidentBytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
