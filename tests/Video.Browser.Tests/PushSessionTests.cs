using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Video.Streaming.Grpc.Internal;
using Video.Streaming.Protos.V1;

namespace Video.Browser.Tests;

/// <summary>
/// OpenSession + PushSession, the browser's form of StylizeStream, from a plain HTTP/2 gRPC client: the same session
/// semantics (first config, frames answered with their pts and sequence, configs switching from the next frame on).
/// </summary>
public sealed class PushSessionTests
{
    [Fact]
    public async Task OpenSession_FramesAndConfigPushed_AnsweredInOrderWithTheSwitchedModel()
    {
        await using var server = await PageServer.StartAsync(webRoot: null);
        using var channel = GrpcChannel.ForAddress(server.Server.Address);
        var client = new VideoStylizer.VideoStylizerClient(channel);
        using var cts = new CancellationTokenSource(PageServer.Timeout);

        using var call = client.OpenSession(new OpenSessionRequest { Config = new SessionConfig { Model = "toon", Policy = Policy.All } }, cancellationToken: cts.Token);
        Assert.True(await call.ResponseStream.MoveNext(cts.Token));
        var applied = call.ResponseStream.Current.ConfigApplied;
        Assert.Equal("toon", applied.Model);
        Assert.Equal(32, applied.SessionId.Length);

        var image = new Image { Encoding = Encoding.Rgb24, Width = 64, Height = 48, Data = Google.Protobuf.ByteString.CopyFrom(Gradient(64, 48)) };
        await client.PushSessionAsync(new PushSessionRequest { SessionId = applied.SessionId, Request = new StreamRequest { Frame = new Frame { Image = image, Pts = 111, Sequence = 1 } } }, cancellationToken: cts.Token);
        await client.PushSessionAsync(new PushSessionRequest { SessionId = applied.SessionId, Request = new StreamRequest { Config = new SessionConfig { Model = "starry-night" } } }, cancellationToken: cts.Token);
        await client.PushSessionAsync(new PushSessionRequest { SessionId = applied.SessionId, Request = new StreamRequest { Frame = new Frame { Image = image, Pts = 222, Sequence = 2 } }, EndOfStream = true }, cancellationToken: cts.Token);

        var frames = new List<StylizedFrame>();
        var configs = new List<ConfigApplied>();
        while (await call.ResponseStream.MoveNext(cts.Token))
        {
            var r = call.ResponseStream.Current;
            if (r.KindCase == StreamResponse.KindOneofCase.Frame)
            {
                frames.Add(r.Frame);
            }
            else
            {
                configs.Add(r.ConfigApplied);
            }
        }

        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal([111L, 222L], frames.Select(f => f.Pts));
        Assert.Equal(["toon", "starry-night"], frames.Select(f => f.Model));
        Assert.Equal(64u, frames[1].Image.Width);
        Assert.Equal(applied.SessionId, Assert.Single(configs).SessionId);

        // The session ended with its call: it left the registry, and pushing into it now is NotFound.
        Assert.Equal(0, server.Server.Services.GetRequiredService<PushSessionRegistry>().Count);
        var gone = await Assert.ThrowsAsync<RpcException>(() => client.PushSessionAsync(new PushSessionRequest { SessionId = applied.SessionId, EndOfStream = true }, cancellationToken: cts.Token).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task PushSession_UnknownOrEmpty_OneLineErrors()
    {
        await using var server = await PageServer.StartAsync(webRoot: null);
        using var channel = GrpcChannel.ForAddress(server.Server.Address);
        var client = new VideoStylizer.VideoStylizerClient(channel);

        var unknown = await Assert.ThrowsAsync<RpcException>(() => client.PushSessionAsync(new PushSessionRequest { SessionId = "nope", EndOfStream = true }).ResponseAsync.WaitAsync(PageServer.Timeout));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.DoesNotContain('\n', unknown.Status.Detail);

        var empty = await Assert.ThrowsAsync<RpcException>(() => client.PushSessionAsync(new PushSessionRequest { SessionId = "nope" }).ResponseAsync.WaitAsync(PageServer.Timeout));
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
    }

    private static byte[] Gradient(int width, int height)
    {
        var data = new byte[width * height * 3];
        for (int i = 0; i < data.Length; i += 3)
        {
            int x = (i / 3) % width, y = (i / 3) / width;
            (data[i], data[i + 1], data[i + 2]) = ((byte)(x * 4), (byte)(y * 5), (byte)((x + y) * 2));
        }

        return data;
    }
}
