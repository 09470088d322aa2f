using Google.Protobuf;
using Grpc.Core;
using Video.Streaming.Protos.V1;

namespace Video.Streaming.Tests.Grpc;

/// <summary>Every bad input gets its status and a helpful message, and the server keeps serving.</summary>
[Collection(GrpcCollection.Name)]
public sealed class BadInputTests
{
    private static readonly TimeSpan T = GrpcTestServer.Timeout;

    public static TheoryData<string, StatusCode, string> BadFrames => new()
    {
        { "short-data", StatusCode.InvalidArgument, "needs 46080 bytes, got 1000" },
        { "small-stride", StatusCode.InvalidArgument, "stride 100 is less than one row" },
        { "odd-i420", StatusCode.InvalidArgument, "even width, height and stride" },
        { "unknown-encoding", StatusCode.InvalidArgument, "encoding #42 (unknown) is not supported" },
        { "unspecified-encoding", StatusCode.InvalidArgument, "ENCODING_UNSPECIFIED is not supported" },
        { "corrupt-jpeg", StatusCode.InvalidArgument, "corrupt JPEG" },
        { "png-as-jpeg", StatusCode.InvalidArgument, "not a JPEG file" },
        { "oversize", StatusCode.ResourceExhausted, "exceeds the server's frame limit of 640x360" },
        { "no-size", StatusCode.InvalidArgument, "needs a width and a height" },
    };

    [Theory]
    [MemberData(nameof(BadFrames))]
    public async Task StylizeStream_BadFrame_FailsWithStatusAndServerKeepsServing(string kind, StatusCode code, string message)
    {
        await using var server = await GrpcTestServer.StartAsync(o => (o.MaxFrameWidth, o.MaxFrameHeight) = (640, 360));

        // A healthy stream runs alongside the bad one and must not notice it.
        using var good = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity" }).WaitAsync(T);
        await GrpcTestServer.NextAsync(good);

        using var bad = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity" }).WaitAsync(T);
        await GrpcTestServer.SendRejectableAsync(bad, BadImage(kind), 0, 7);
        var e = await GrpcTestServer.FailureAsync(bad);
        Assert.Equal(code, e.StatusCode);
        Assert.Contains(message, e.Status.Detail, StringComparison.Ordinal);
        if (kind != "no-size")
        {
            Assert.Contains("frame 7", e.Status.Detail, StringComparison.Ordinal);
        }

        await good.SendImageAsync(GrpcTestServer.Pattern(32, 16, 1), 5, 5).WaitAsync(T);
        var answer = await GrpcTestServer.NextAsync(good);
        Assert.Equal(5UL, answer.Frame.Sequence);
        await good.CompleteAsync().WaitAsync(T);
        await GrpcTestServer.ReadAllAsync(good);
        await GrpcTestServer.EventuallyAsync(() => server.Metrics.ActiveStreams == 0, "both streams to close");
        Assert.Equal(0, server.Metrics.FramesLeaked);
    }

    [Fact]
    public async Task StylizeStream_FrameBeforeConfig_FailedPrecondition()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using var call = server.Client.Raw.StylizeStream();
        await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Protos.V1.Frame { Image = GrpcTestServer.Pattern(8, 8, 0) } }).WaitAsync(T);
        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(T));
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("before any SessionConfig", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StylizeStream_NoMessageAtAll_FailedPrecondition()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using var call = server.Client.Raw.StylizeStream();
        await call.RequestStream.CompleteAsync().WaitAsync(T);
        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(T));
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("send a SessionConfig first", e.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nope", "", StatusCode.NotFound, "unknown model 'nope' (installed: black, identity, px, toon, white)")]
    [InlineData("px", "px-0000000000000000", StatusCode.NotFound, "unknown style 'px-0000000000000000'")]
    [InlineData("px", "", StatusCode.FailedPrecondition, "needs a style")]
    [InlineData("toon", "some-style", StatusCode.FailedPrecondition, "takes no style")]
    public async Task StylizeStream_UnknownModelOrStyle_FailsWithStatus(string model, string style, StatusCode code, string message)
    {
        await using var server = await GrpcTestServer.StartAsync();
        var e = await GrpcTestServer.RejectedAsync(server.Client, new SessionConfig { Model = model, StyleId = style });
        Assert.Equal(code, e.StatusCode);
        Assert.Contains(message, e.Status.Detail, StringComparison.Ordinal);

        // Mid-stream too: a bad switch ends that stream with the same status.
        using var mid = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity" }).WaitAsync(T);
        await mid.SendConfigAsync(new SessionConfig { Model = model, StyleId = style }).WaitAsync(T);
        Assert.Equal(code, (await GrpcTestServer.FailureAsync(mid)).StatusCode);
        Assert.Equal("toon", (await server.Client.ListModelsAsync().WaitAsync(T)).DefaultModel);
    }

    [Fact]
    public async Task StylizeStream_TooManyStreams_ResourceExhaustedUntilOneCloses()
    {
        await using var server = await GrpcTestServer.StartAsync(o => (o.MaxStreams, o.MaxStreamsPerClient) = (3, 2));
        using var first = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity" }).WaitAsync(T);
        using var second = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity" }).WaitAsync(T);
        await GrpcTestServer.NextAsync(first);
        await GrpcTestServer.NextAsync(second);

        var e = await GrpcTestServer.RejectedAsync(server.Client, new SessionConfig { Model = "identity" });
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("too many streams from 127.0.0.1: 2 open (limit 2 per client)", e.Status.Detail, StringComparison.Ordinal);

        await first.CompleteAsync().WaitAsync(T);
        await GrpcTestServer.ReadAllAsync(first);
        await GrpcTestServer.EventuallyAsync(() => server.Metrics.ActiveStreams == 1, "the first stream to close");
        using var again = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity" }).WaitAsync(T);
        Assert.Equal(StreamResponse.KindOneofCase.ConfigApplied, (await GrpcTestServer.NextAsync(again)).KindCase);
    }

    [Fact]
    public async Task StylizeStream_SilentClient_DeadlineExceededAfterIdleTimeout()
    {
        await using var server = await GrpcTestServer.StartAsync(o => o.IdleTimeout = TimeSpan.FromMilliseconds(400));
        using var stream = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity" }).WaitAsync(T);
        var e = await GrpcTestServer.FailureAsync(stream);
        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        Assert.Contains("closed as idle", e.Status.Detail, StringComparison.Ordinal);
        await GrpcTestServer.EventuallyAsync(() => server.Metrics.ActiveStreams == 0, "the idle stream to close");
    }

    [Fact]
    public async Task StylizeStream_MessageOverSizeLimit_ResourceExhausted()
    {
        await using var server = await GrpcTestServer.StartAsync(o => o.MaxMessageBytes = 64 * 1024);
        using var stream = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity" }).WaitAsync(T);
        await GrpcTestServer.SendRejectableAsync(stream, GrpcTestServer.Pattern(160, 160, 0), 0, 0);

        var e = await GrpcTestServer.FailureAsync(stream);
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
    }

    [Fact]
    public async Task Calls_WrongOrMissingApiKey_Unauthenticated()
    {
        await using var server = await GrpcTestServer.StartAsync(o => o.ApiKeys = ["secret-1", "secret-2"], apiKey: "secret-2");
        Assert.NotEmpty((await server.Client.ListModelsAsync().WaitAsync(T)).Models);

        foreach (var key in new[] { "wrong", null })
        {
            using var client = server.NewClient(key);
            var unary = await Assert.ThrowsAsync<RpcException>(() => client.ListModelsAsync().WaitAsync(T));
            Assert.Equal(StatusCode.Unauthenticated, unary.StatusCode);
            Assert.Contains(key is null ? "needs an API key" : "not valid", unary.Status.Detail, StringComparison.Ordinal);

            using var stream = client.Raw.StylizeStream(client.Headers);
            var e = await Assert.ThrowsAsync<RpcException>(() => stream.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(T));
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        }
    }

    [Fact]
    public async Task StylizeImage_CorruptPng_InvalidArgument()
    {
        await using var server = await GrpcTestServer.StartAsync();
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3, 4, 5];
        var e = await Assert.ThrowsAsync<RpcException>(() => server.Client.StylizeImageAsync(new Image { Encoding = Protos.V1.Encoding.Png, Data = ByteString.CopyFrom(png) }).WaitAsync(T));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("corrupt PNG", e.Status.Detail, StringComparison.Ordinal);
    }

    private static Image BadImage(string kind) => kind switch
    {
        "short-data" => new Image { Encoding = Protos.V1.Encoding.Rgb24, Width = 160, Height = 96, Data = ByteString.CopyFrom(new byte[1000]) },
        "small-stride" => new Image { Encoding = Protos.V1.Encoding.Rgb24, Width = 160, Height = 96, Stride = 100, Data = ByteString.CopyFrom(new byte[9600]) },
        "odd-i420" => new Image { Encoding = Protos.V1.Encoding.I420, Width = 33, Height = 16, Data = ByteString.CopyFrom(new byte[33 * 24]) },
        "unknown-encoding" => new Image { Encoding = (Protos.V1.Encoding)42, Width = 8, Height = 8, Data = ByteString.CopyFrom(new byte[192]) },
        "unspecified-encoding" => new Image { Width = 8, Height = 8, Data = ByteString.CopyFrom(new byte[192]) },
        "corrupt-jpeg" => new Image { Encoding = Protos.V1.Encoding.Jpeg, Data = ByteString.CopyFrom([0xFF, 0xD8, 0xFF, 0xE0, .. Enumerable.Range(0, 500).Select(i => (byte)(i * 7))]) },
        "png-as-jpeg" => new Image { Encoding = Protos.V1.Encoding.Jpeg, Data = ByteString.CopyFrom([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) },
        "oversize" => new Image { Encoding = Protos.V1.Encoding.Rgb24, Width = 1000, Height = 100, Data = ByteString.CopyFrom(new byte[300_000]) },
        "no-size" => new Image { Encoding = Protos.V1.Encoding.Rgb24, Data = ByteString.CopyFrom(new byte[3]) },
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
