using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using Video.Streaming.Client;
using Video.Streaming.Protos.V1;
using Video.Tests.Shared;

namespace Video.Streaming.Tests.Grpc;

[Collection(GrpcCollection.Name)]
public sealed class OperationsTests
{
    private static readonly TimeSpan T = GrpcTestServer.Timeout;

    [Fact]
    public async Task Health_ModelsLoaded_Serving()
    {
        await using var server = await GrpcTestServer.StartAsync();
        var health = new Health.HealthClient(server.Client.Channel);
        foreach (var service in new[] { string.Empty, "video.stylize.v1.VideoStylizer" })
        {
            var r = await health.CheckAsync(new HealthCheckRequest { Service = service }).ResponseAsync.WaitAsync(T);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, r.Status);
        }
    }

    [Fact]
    public async Task Health_NoModels_NotServingAndCallsUnavailable()
    {
        await using var server = await GrpcTestServer.StartAsync(withModels: false, expectedErrors: e => e.EventId.Name == "ModelsFailed");
        var health = new Health.HealthClient(server.Client.Channel);
        var r = await health.CheckAsync(new HealthCheckRequest()).ResponseAsync.WaitAsync(T);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, r.Status);
        var e = await Assert.ThrowsAsync<RpcException>(() => server.Client.ListModelsAsync().WaitAsync(T));
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Contains("no usable model", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reflection_ListServices_IncludesStylizerAndHealth()
    {
        await using var server = await GrpcTestServer.StartAsync();
        var reflection = new ServerReflection.ServerReflectionClient(server.Client.Channel);
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = string.Empty }).WaitAsync(T);
        await call.RequestStream.CompleteAsync().WaitAsync(T);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(T));
        var names = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("video.stylize.v1.VideoStylizer", names);
        Assert.Contains("grpc.health.v1.Health", names);
    }

    [Fact]
    public async Task ListModelsAndStylizeImage_Jpeg_AnswersWithModelsDeviceAndJpeg()
    {
        await using var server = await GrpcTestServer.StartAsync();
        var models = await server.Client.ListModelsAsync().WaitAsync(T);
        Assert.Equal("cpu", models.Device);
        Assert.Equal(["black", "identity", "px", "toon", "white"], models.Models.Select(m => m.Name));
        Assert.True(models.Models.Single(m => m.Name == "px").NeedsStyle);

        OpenCvSharp.Cv2.ImEncode(".jpg", new OpenCvSharp.Mat(40, 60, OpenCvSharp.MatType.CV_8UC3, new OpenCvSharp.Scalar(90, 90, 90)), out byte[] jpeg);
        var r = await server.Client.StylizeImageAsync(new Image { Encoding = Protos.V1.Encoding.Jpeg, Data = Google.Protobuf.ByteString.CopyFrom(jpeg) }, new SessionConfig { Model = "white" }).WaitAsync(T);
        Assert.Equal(Protos.V1.Encoding.Jpeg, r.Image.Encoding);
        using var decoded = OpenCvSharp.Cv2.ImDecode(r.Image.Data.ToByteArray(), OpenCvSharp.ImreadModes.Color);
        Assert.Equal((60, 40), (decoded.Width, decoded.Height));
        Assert.True(decoded.Mean().Val0 > 250);
    }

    [Fact]
    public async Task Metrics_AfterAStream_ExportsFramesLatencyAndActiveStreams()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using (var stream = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity" }).WaitAsync(T))
        {
            await stream.SendImageAsync(GrpcTestServer.Pattern(32, 32, 0), 0, 0).WaitAsync(T);
            await stream.CompleteAsync().WaitAsync(T);
            await GrpcTestServer.ReadAllAsync(stream);
        }

        using var http = new HttpClient { Timeout = T };
        string text = string.Empty;
        await GrpcTestServer.EventuallyAsync(
            () =>
            {
                text = http.GetStringAsync(server.Server.MetricsAddress + "/metrics").GetAwaiter().GetResult();
                return text.Contains("video_stream_frames_out", StringComparison.Ordinal);
            },
            "the frame counters on /metrics");
        foreach (var name in new[] { "video_stream_frames_in", "video_stream_inference_duration", "video_stream_total_duration", "video_stream_active", "video_stream_queue_depth", "video_memory_held", "video_memory_budget", "video_memory_run_reserved" })
        {
            Assert.Contains(name, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task StreamRoundTrip_LatestPolicy_FillsDropsAndKeepsFrameCount()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using var dir = new TempDir();
        string input = Media.Generate(dir.File("in.mp4"), 320, 180, "25", seconds: 1.0, audio: false);
        var result = await StreamRoundTrip.RunAsync(server.Client, input, dir.File("out.mp4"), new RoundTripOptions { Model = "toon", Policy = Policy.Latest }, CancellationToken.None).WaitAsync(T);
        Assert.Equal(25, Media.Probe(dir.File("out.mp4")).Frames);
        Assert.Equal(25, result.FramesWritten);
        Assert.Equal(result.FramesSent, result.FramesStylized + result.Dropped);
    }

    [Fact]
    public async Task StreamRoundTrip_GeneratedClip_SameFrameCountWithAudio()
    {
        await using var server = await GrpcTestServer.StartAsync();
        using var dir = new TempDir();
        string input = Media.Generate(dir.File("in.mp4"), 160, 96, "25", seconds: 1.0, audio: true);
        var result = await StreamRoundTrip.RunAsync(server.Client, input, dir.File("out.mp4"), new RoundTripOptions { Model = "toon", Policy = Policy.All }, CancellationToken.None).WaitAsync(T);
        var probe = Media.Probe(dir.File("out.mp4"));
        Assert.Equal(Media.Probe(input).Frames, probe.Frames);
        Assert.Equal(result.FramesSent, result.FramesStylized);
        Assert.True(probe.HasAudio);
        await GrpcTestServer.EventuallyAsync(() => server.Metrics.ActiveStreams == 0, "the stream to close");
    }
}
