using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Video.Capture;
using Video.Inference;
using Video.Inference.Onnx;
using Video.Streaming.Client;
using Video.Streaming.Grpc;
using Video.Streaming.Protos.V1;
using Video.Tests.Shared;

namespace Video.Streaming.Tests.Grpc;

/// <summary>
/// A real server on 127.0.0.1 (port 0) with fixture models whose output is known by hand: <c>identity</c>,
/// <c>black</c>, <c>white</c> (affine), <c>px</c> (pixel AdaIN) and the shipped <c>toon</c>. Its frames and tensors come
/// from a <see cref="TestFrameAllocator"/>: disposing the server fails when any of them was never returned. Every
/// error it logs is recorded by an <see cref="ErrorLogRecorder"/>: disposing the server also fails when it logged an
/// error the test did not declare (with <see cref="ExpectErrors"/>, or <c>expectedErrors</c> for errors logged while
/// the server starts).
/// </summary>
internal sealed class GrpcTestServer : IAsyncDisposable
{
    /// <summary>The bound on every await in these tests: generous, because the machine is shared.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private readonly TempDir _models;
    private readonly TestFrameAllocator _allocator;
    private readonly ErrorLogRecorder _errors;

    private GrpcTestServer(TempDir models, StreamingServer server, StylizeClient client, TestFrameAllocator allocator, ErrorLogRecorder errors)
    {
        _models = models;
        _allocator = allocator;
        _errors = errors;
        Server = server;
        Client = client;
    }

    public StreamingServer Server { get; }

    public StylizeClient Client { get; }

    public StreamingMetrics Metrics => Server.Services.GetRequiredService<StreamingMetrics>();

    /// <summary>The server's frame allocator (its budget is <c>frameBudgetBytes</c>).</summary>
    public TestFrameAllocator Allocator => _allocator;

    public string Address => Server.Address;

    /// <summary>The errors the server logged so far.</summary>
    public IReadOnlyList<ErrorLogEntry> ErrorLogs => _errors.Entries;

    /// <summary>Declares errors the test provokes on purpose (any declared predicate may match an entry).</summary>
    public void ExpectErrors(Func<ErrorLogEntry, bool> isExpected) => _errors.ExpectErrors(isExpected);

    /// <summary>Fails when the server logged an error no expectation matches; disposing the server checks it too.</summary>
    public void AssertNoUnexpectedErrors() => _errors.AssertNoUnexpectedErrors();

    public static async Task<GrpcTestServer> StartAsync(Action<StreamingOptions>? configure = null, bool withModels = true, string? apiKey = null, Action<TempDir>? extraModels = null, StreamGate? gate = null, Func<ErrorLogEntry, bool>? expectedErrors = null, long frameBudgetBytes = 1L << 30)
    {
        var dir = new TempDir();
        if (withModels)
        {
            WriteModels(dir);
        }

        extraModels?.Invoke(dir);
        var allocator = new TestFrameAllocator(frameBudgetBytes);
        var errors = new ErrorLogRecorder();
        if (expectedErrors is not null)
        {
            errors.ExpectErrors(expectedErrors);
        }

        var server = StreamingServer.Create(
            new ServerEndpoint { Address = "127.0.0.1", Port = 0, MetricsPort = 0, LogLevel = LogLevel.Warning },
            o =>
            {
                o.ModelsDirectory = withModels ? dir.Path : dir.File("missing");
                o.Device = Device.Cpu;
                o.IntraOpThreads = 1;
                configure?.Invoke(o);
            },
            services =>
            {
                services.AddSingleton<FrameAllocator>(allocator);
                services.AddSingleton<ILoggerProvider>(errors);

                // A rule for this provider alone wins over the server's category filters, so the recorder sees errors
                // from every category, including those the console is told to drop.
                services.Configure<LoggerFilterOptions>(f => f.Rules.Add(new LoggerFilterRule(typeof(ErrorLogRecorder).FullName, null, LogLevel.Error, null)));
                gate?.Register(services);
            });
        await server.StartAsync().WaitAsync(Timeout);
        await server.Services.GetRequiredService<ModelHost>().Loaded.WaitAsync(Timeout);
        return new GrpcTestServer(dir, server, new StylizeClient(server.Address, new StylizeClientOptions { ApiKey = apiKey }), allocator, errors);
    }

    public StylizeClient NewClient(string? apiKey) => new(Server.Address, new StylizeClientOptions { ApiKey = apiKey });

    /// <summary>Waits until <paramref name="condition"/> holds (polling), failing after <see cref="Timeout"/>.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for: {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>An RGB24 image filled by <paramref name="pixel"/>(x, y).</summary>
    public static Image Rgb(int width, int height, Func<int, int, (byte R, byte G, byte B)> pixel)
    {
        var data = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                var (r, g, b) = pixel(x, y);
                int i = ((y * width) + x) * 3;
                data[i] = r;
                data[i + 1] = g;
                data[i + 2] = b;
            }
        }

        return new Image { Encoding = Protos.V1.Encoding.Rgb24, Width = (uint)width, Height = (uint)height, Data = UnsafeByteOperations.UnsafeWrap(data) };
    }

    /// <summary>A smooth test pattern that differs per <paramref name="phase"/>.</summary>
    public static Image Pattern(int width, int height, int phase) =>
        Rgb(width, height, (x, y) => ((byte)((x * 2) + phase), (byte)((y * 2) + (phase * 3)), (byte)(((x + y) * 3 / 2) + 40)));

    /// <summary>Reads responses until the stream ends, each read under the timeout.</summary>
    public static async Task<List<StreamResponse>> ReadAllAsync(StylizeStream stream)
    {
        var list = new List<StreamResponse>();
        var reader = stream.Call.ResponseStream;
        while (await reader.MoveNext(CancellationToken.None).WaitAsync(Timeout))
        {
            list.Add(reader.Current);
        }

        return list;
    }

    /// <summary>The next response, under the timeout.</summary>
    public static async Task<StreamResponse> NextAsync(StylizeStream stream)
    {
        Assert.True(await stream.Call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout), "the stream ended early");
        return stream.Call.ResponseStream.Current;
    }

    /// <summary>The status a failing stream ends with.</summary>
    public static async Task<RpcException> FailureAsync(StylizeStream stream)
    {
        var e = await Assert.ThrowsAsync<RpcException>(async () => await ReadAllAsync(stream));
        return e;
    }

    /// <summary>Opens a stream the server must reject and returns the status, whether the rejection arrives
    /// while the config is written or when the responses are read.</summary>
    public static async Task<RpcException> RejectedAsync(StylizeClient client, Protos.V1.SessionConfig config)
    {
        StylizeStream stream;
        try
        {
            stream = await client.OpenStreamAsync(config).WaitAsync(Timeout);
        }
        catch (RpcException e)
        {
            return e;
        }

        using (stream)
        {
            return await FailureAsync(stream);
        }
    }

    /// <summary>Sends a frame the server may reject while it is still being written.</summary>
    public static async Task SendRejectableAsync(StylizeStream stream, Image image, long pts, ulong sequence)
    {
        try
        {
            await stream.SendImageAsync(image, pts, sequence).WaitAsync(Timeout);
        }
        catch (RpcException)
        {
            // The status is read from the response stream.
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.StopAsync().WaitAsync(Timeout);
        await Server.DisposeAsync();
        _models.Dispose();

        // Errors first: an unexpected error usually explains a buffer that never came back.
        _errors.AssertNoUnexpectedErrors();
        _allocator.AssertNoneOutstanding();
    }

    private static void WriteModels(TempDir dir)
    {
        File.Copy(Path.Combine(Repo.Models, "toon.onnx"), dir.File("toon.onnx"));
        var toon = ModelManifest.Load(Path.Combine(Repo.Models, "toon.json"));
        (toon with { SampleSheet = null }).Save(dir.File("toon.json"));
        Affine(dir, "identity", 1f, 0f);
        Affine(dir, "black", 0f, 0f);
        Affine(dir, "white", 0f, 1f);
        ProceduralModels.WritePixelAdain(dir.Path, "px");
        File.WriteAllText(dir.File("px.json"), """
            { "name": "px", "family": "adain", "model": "px.onnx", "input": { "name": "input" }, "output": { "name": "output" },
              "adain": { "styleEncoder": "px.style.onnx", "styleInput": "style", "statistics": ["style_mean", "style_std"], "alphaInput": "alpha" } }
            """);
    }

    private static void Affine(TempDir dir, string name, float gain, float bias)
    {
        ProceduralModels.WriteAffine(dir.File(name + ".onnx"), gain, bias);
        WriteManifest(dir, name);
    }

    /// <summary>A manifest for <c>NAME.onnx</c> with input <c>input</c> and output <c>output</c>, NCHW RGB in [0, 1].</summary>
    public static void WriteManifest(TempDir dir, string name)
    {
        new ModelManifest
        {
            Name = name,
            Family = ModelFamily.External,
            Model = name + ".onnx",
            Input = new TensorSpec { Name = "input" },
            Output = new TensorSpec { Name = "output" },
        }.Save(dir.File(name + ".json"));
    }
}

/// <summary>The gRPC tests share the two cores; run their classes one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GrpcCollection
{
    public const string Name = "grpc";
}
