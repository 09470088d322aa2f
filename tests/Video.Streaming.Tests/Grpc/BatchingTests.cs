using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Video.Inference;
using Video.Inference.Batching;
using Video.Inference.Onnx;
using Video.Streaming.Client;
using Video.Streaming.Grpc;
using Video.Streaming.Protos.V1;
using Video.Tests.Shared;

namespace Video.Streaming.Tests.Grpc;

/// <summary>Cross-stream batching (<c>--batch-max</c>) against real servers on 127.0.0.1, batching on next to batching off.</summary>
[Collection(GrpcCollection.Name)]
public sealed class BatchingTests
{
    private static readonly TimeSpan T = GrpcTestServer.Timeout;

    [Fact]
    public async Task StylizeStream_BatchingOnWithConcurrentStreams_SameFramesAsBatchingOffAndOnlyLikeStreamsShareABatch()
    {
        await using var off = await GrpcTestServer.StartAsync(o => o.MaxStreamsPerClient = 16);
        await using var on = await GrpcTestServer.StartAsync(o =>
        {
            o.MaxStreamsPerClient = 16;
            o.BatchMax = 4;
            o.BatchDelay = TimeSpan.FromMilliseconds(100);
        });

        var styleA = GrpcTestServer.Rgb(32, 32, (x, y) => ((byte)(200 + ((x + y) % 2 * 20)), 40, 40));
        var styleB = GrpcTestServer.Rgb(32, 32, (x, y) => (30, (byte)(90 + ((x * y) % 30)), 210));

        // Three toon streams of one size (they may share batches), and streams that must never join them: another
        // size, another model, and AdaIN streams whose style differs (two with style A may batch, style B is alone).
        var specs = new (string Name, string Model, char Style, int W, int H, bool Alone)[]
        {
            ("toon-1", "toon", ' ', 96, 64, false),
            ("toon-2", "toon", ' ', 96, 64, false),
            ("toon-3", "toon", ' ', 96, 64, false),
            ("toon-small", "toon", ' ', 64, 48, true),
            ("identity", "identity", ' ', 96, 64, true),
            ("px-a1", "px", 'A', 96, 64, false),
            ("px-a2", "px", 'A', 96, 64, false),
            ("px-b", "px", 'B', 96, 64, true),
        };
        const int count = 12;

        async Task<List<StylizedFrame>[]> RunAllAsync(GrpcTestServer server)
        {
            string a = (await server.Client.Raw.RegisterStyleAsync(new RegisterStyleRequest { Model = "px", Image = styleA }).ResponseAsync.WaitAsync(T)).StyleId;
            string b = (await server.Client.Raw.RegisterStyleAsync(new RegisterStyleRequest { Model = "px", Image = styleB }).ResponseAsync.WaitAsync(T)).StyleId;
            return await Task.WhenAll(specs.Select((s, k) =>
            {
                var config = new SessionConfig { Model = s.Model, Policy = Policy.All, StyleId = s.Style switch { 'A' => a, 'B' => b, _ => string.Empty } };
                var frames = Enumerable.Range(0, count).Select(i => GrpcTestServer.Pattern(s.W, s.H, (k * 17) + i)).ToList();
                return RunStreamAsync(server.Client, config, frames);
            }));
        }

        var expected = await RunAllAsync(off);
        var actual = await RunAllAsync(on);

        for (int k = 0; k < specs.Length; k++)
        {
            var spec = specs[k];
            Assert.Equal(count, expected[k].Count);
            Assert.Equal(count, actual[k].Count);
            Assert.Equal(Enumerable.Range(0, count).Select(i => (ulong)i), actual[k].Select(f => f.Sequence));
            Assert.All(expected[k], f => Assert.Equal(1u, f.Timings.BatchSize));
            for (int i = 0; i < count; i++)
            {
                int worst = MaxDifference(expected[k][i].Image.Data.Span, actual[k][i].Image.Data.Span);
                Assert.True(worst <= 1, $"{spec.Name} frame {i}: batched differs from frame by frame by {worst} levels");
            }

            if (spec.Alone)
            {
                Assert.All(actual[k], f => Assert.Equal(1u, f.Timings.BatchSize));
            }
        }

        // Batching really happened where it could (otherwise the comparison above proves nothing).
        Assert.True(actual.Take(3).SelectMany(f => f).Max(f => f.Timings.BatchSize) >= 2, "no toon frame ran in a batch of 2 or more");
        Assert.True(actual.Take(3).SelectMany(f => f).All(f => f.Timings.BatchSize <= 3), "a toon batch took frames of streams outside the three alike");

        await GrpcTestServer.EventuallyAsync(() => on.Metrics.ActiveStreams == 0, "the streams to close");
        Assert.Equal(0, on.Metrics.FramesLeaked);
        var host = on.Server.Services.GetRequiredService<ModelHost>();
        Assert.Equal(0, host.Get("toon").Batched!.OpenBatchers);
        Assert.Equal(0, host.Get("px").Batched!.OpenBatchers);
    }

    [Fact]
    public async Task StylizeStream_OneStreamCancelledWhileItsFrameWaitsInABatch_OtherStreamsGetEveryFrame()
    {
        await using var server = await GrpcTestServer.StartAsync(o =>
        {
            o.MaxStreamsPerClient = 16;
            o.BatchMax = 4;

            // Long, so that the cancelled stream's frame is likely waiting in a batch when the call goes away.
            o.BatchDelay = TimeSpan.FromMilliseconds(250);
        });
        const int count = 16;
        var frames = Enumerable.Range(0, count).Select(i => GrpcTestServer.Pattern(160, 96, i)).ToList();
        var survivors = new[]
        {
            RunStreamAsync(server.Client, new SessionConfig { Model = "toon", Policy = Policy.All }, frames),
            RunStreamAsync(server.Client, new SessionConfig { Model = "toon", Policy = Policy.All }, frames),
        };

        using (var cts = new CancellationTokenSource())
        {
            using var doomed = await server.Client.OpenStreamAsync(new SessionConfig { Model = "toon", Policy = Policy.All }, cts.Token).WaitAsync(T);
            Assert.Equal(StreamResponse.KindOneofCase.ConfigApplied, (await GrpcTestServer.NextAsync(doomed)).KindCase);
            for (int i = 0; i < 4; i++)
            {
                await doomed.SendImageAsync(frames[i], i, (ulong)i).WaitAsync(T);
            }

            Assert.Equal(StreamResponse.KindOneofCase.Frame, (await GrpcTestServer.NextAsync(doomed)).KindCase);
            await cts.CancelAsync();
        }

        var results = await Task.WhenAll(survivors).WaitAsync(T);
        foreach (var result in results)
        {
            Assert.Equal(Enumerable.Range(0, count).Select(i => (ulong)i), result.Select(f => f.Sequence));
        }

        // Both survivors stylized the same inputs, batched or not: their frames agree.
        for (int i = 0; i < count; i++)
        {
            Assert.True(MaxDifference(results[0][i].Image.Data.Span, results[1][i].Image.Data.Span) <= 1, $"frame {i} differs between the two streams");
        }

        Assert.True(results.SelectMany(r => r).Max(f => f.Timings.BatchSize) >= 2, "no frame ran in a batch");
        await GrpcTestServer.EventuallyAsync(() => server.Metrics.ActiveStreams == 0, "the streams to close");
        Assert.Equal(0, server.Metrics.FramesLeaked);
        Assert.Equal(0, server.Metrics.QueueDepth);
        await GrpcTestServer.EventuallyAsync(() => server.Server.Services.GetRequiredService<ModelHost>().Get("toon").Batched!.OpenBatchers == 0, "the batcher to close");

        // The server still batches after the cancellation.
        var after = await RunStreamAsync(server.Client, new SessionConfig { Model = "toon", Policy = Policy.All }, frames.Take(2).ToList());
        Assert.Equal(2, after.Count);
    }

    [Fact]
    public async Task BatchingOn_ModelThatMixesBatchItems_RunsFrameByFrameAndSaysWhy()
    {
        await using var server = await GrpcTestServer.StartAsync(
            o =>
            {
                o.MaxStreamsPerClient = 16;
                o.BatchMax = 4;
                o.BatchDelay = TimeSpan.FromMilliseconds(100);
            },
            extraModels: dir =>
            {
                // output = clip(x − mean over batch, height and width + 0.5): per frame it centres each channel, but
                // a batch of frames would share one mean, so the load-time probe must refuse to batch it.
                var g = new OnnxGraphBuilder("batchmix");
                string x = g.Input("input", 1, 3, null, null);
                string mean = g.Node("ReduceMean", [x], attributes: [("axes", new[] { 0, 2, 3 }), ("keepdims", 1)]);
                string centred = g.Node("Add", [g.Node("Sub", [x, mean]), g.Initializer("half", [0.5f], 1)]);
                g.Node("Clip", [centred, g.Initializer("zero", [0f]), g.Initializer("one", [1f])], "output");
                g.Output("output", 1, 3, null, null);
                g.Save(dir.File("batchmix.onnx"));
                GrpcTestServer.WriteManifest(dir, "batchmix");
            });

        var models = await server.Client.ListModelsAsync().WaitAsync(T);
        Assert.Equal(4u, models.BatchMax);
        var mix = models.Models.Single(m => m.Name == "batchmix");
        Assert.Equal(1u, mix.MaxBatch);
        Assert.Contains("mixes the items of a batch", mix.BatchingNote, StringComparison.Ordinal);
        var toon = models.Models.Single(m => m.Name == "toon");
        Assert.Equal(4u, toon.MaxBatch);
        Assert.Equal(string.Empty, toon.BatchingNote);

        var inputs = Enumerable.Range(0, 6).Select(i => GrpcTestServer.Pattern(48, 32, i * 5)).ToList();
        var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => RunStreamAsync(server.Client, new SessionConfig { Model = "batchmix", Policy = Policy.All }, inputs)));
        foreach (var result in results)
        {
            Assert.Equal(inputs.Count, result.Count);
            Assert.All(result, f => Assert.Equal(1u, f.Timings.BatchSize));
            for (int i = 0; i < inputs.Count; i++)
            {
                var input = inputs[i].Data.Span;
                var output = result[i].Image.Data.Span;
                var means = new double[3];
                for (int p = 0; p < input.Length; p++)
                {
                    means[p % 3] += input[p] / 255.0;
                }

                int worst = 0;
                for (int p = 0; p < input.Length; p++)
                {
                    double v = Math.Clamp((input[p] / 255.0) - (means[p % 3] / (input.Length / 3)) + 0.5, 0, 1) * 255;
                    worst = Math.Max(worst, (int)Math.Abs(Math.Round(v) - output[p]));
                }

                Assert.True(worst <= 1, $"frame {i} is not the frame-by-frame result (off by {worst})");
            }
        }
    }

    [Fact]
    public async Task InferenceBatcher_WarmWithTwoSubmitters_AllocatesNoTensorMemoryPerFrame()
    {
        var options = new StylizerOptions { Device = Device.Cpu, IntraOpThreads = 1 };
        using var stylizer = Stylizer.Load(ModelManifest.Load(Path.Combine(Repo.Models, "toon.json")), options);
        using var batched = BatchedModel.TryLoad(stylizer, options, 4, TimeSpan.FromMilliseconds(20), out string reason);
        Assert.True(batched is not null, reason);
        var batcher = batched.Attach(64, 48, null, 1f);
        Assert.Same(batcher, batched.Attach(64, 48, null, 1f));
        var items = Enumerable.Range(0, 2).Select(_ => new BatchItem { Input = new float[batcher.ItemInputLength], Output = new float[batcher.ItemOutputLength] }).ToArray();
        items[0].Input.Span.Fill(0.3f);
        items[1].Input.Span.Fill(0.7f);

        async Task SubmitAsync(BatchItem item, int runs)
        {
            for (int i = 0; i < runs; i++)
            {
                await batcher.RunAsync(item);
            }
        }

        await Task.WhenAll(SubmitAsync(items[0], 20), SubmitAsync(items[1], 20)).WaitAsync(T);
        long batches = batcher.Batches, runItems = batcher.ItemsRun;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        await Task.WhenAll(SubmitAsync(items[0], 100), SubmitAsync(items[1], 100)).WaitAsync(T);
        long perFrame = (GC.GetTotalAllocatedBytes(precise: true) - before) / 200;

        // One frame's tensors are 2 x 36 KiB here: a batcher that allocated them per frame would show it at once.
        Assert.True(perFrame < 512, $"{perFrame} B allocated per frame");
        Assert.True(batcher.ItemsRun - runItems > batcher.Batches - batches, "the two submitters never shared a batch");
        Assert.NotEqual(items[0].Output.Span[0], items[1].Output.Span[0]);
        batched.Detach(batcher);
        batched.Detach(batcher);
        Assert.Equal(0, batched.OpenBatchers);
    }

    [Theory]
    [InlineData(0, 8, "batch max 0 is out of range (1..64)")]
    [InlineData(65, 8, "batch max 65 is out of range (1..64)")]
    [InlineData(4, -1, "batch delay -1 ms is out of range (0..1000 ms)")]
    [InlineData(4, 1500, "batch delay 1500 ms is out of range (0..1000 ms)")]
    public void StreamingOptions_BadBatchSettings_AreRejectedWithTheReason(int max, double delayMs, string message)
    {
        var options = new StreamingOptions { BatchMax = max, BatchDelay = TimeSpan.FromMilliseconds(delayMs) };
        var e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(message, e.Message);
    }

    /// <summary>Sends <paramref name="frames"/> on a new <c>POLICY_ALL</c> stream while reading; returns the stylized frames.</summary>
    private static async Task<List<StylizedFrame>> RunStreamAsync(StylizeClient client, SessionConfig config, IReadOnlyList<Image> frames)
    {
        using var stream = await client.OpenStreamAsync(config).WaitAsync(T);
        var reading = GrpcTestServer.ReadAllAsync(stream);
        for (int i = 0; i < frames.Count; i++)
        {
            await stream.SendImageAsync(frames[i], i, (ulong)i).WaitAsync(T);
        }

        await stream.CompleteAsync().WaitAsync(T);
        return (await reading.WaitAsync(T)).Where(r => r.KindCase == StreamResponse.KindOneofCase.Frame).Select(r => r.Frame).ToList();
    }

    private static int MaxDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        Assert.Equal(a.Length, b.Length);
        int worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
        }

        return worst;
    }
}
