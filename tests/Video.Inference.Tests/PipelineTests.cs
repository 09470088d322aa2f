using Video.Capture;
using Video.Inference;
using Video.Tests.Shared;

namespace Video.Inference.Tests;

/// <summary>Tests that count process-wide allocations run alone, or other tests' allocations would count too.</summary>
[CollectionDefinition(nameof(AllocationSensitive), DisableParallelization = true)]
public sealed class AllocationSensitive
{
}

[Collection(nameof(AllocationSensitive))]
public class PipelineTests : FrameLeakCheckedTest
{
    [Fact]
    public async Task Run_GeneratedClip_WritesEveryFrameInOrderAndThePoolIsWhole()
    {
        using var dir = new TempDir();
        var manifest = ModelFixtures.Affine(dir);
        string clip = Media.Generate(dir.File("in.mp4"), 160, 96, "25", 1.6, audio: true);
        using var stylizer = Stylizer.Load(manifest, new StylizerOptions { Device = Device.Cpu });
        var pipeline = new StylizePipeline(stylizer, allocator: Allocator);

        await using (var source = await FrameSources.OpenAsync(clip))
        await using (var sink = FfmpegVideoSink.Create(dir.File("out.mp4"), 160, 96, source.Info.FrameRate, source.Info))
        {
            var stats = await pipeline.RunAsync(source, sink).WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Equal(40, stats.FramesOut);
        }

        Assert.Equal(0, Allocator.Outstanding);
        Assert.InRange(Allocator.Rents<byte>(), 1, new PipelineOptions().PoolFrames);
        var probe = Media.Probe(dir.File("out.mp4"));
        Assert.Equal(40, probe.Frames);
        Assert.True(probe.HasAudio);
    }

    [Fact]
    public async Task Run_SyntheticSource_PreservesOrderAndAppliesTheModel()
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir, gain: 0f, bias: 0.5f), new StylizerOptions { Device = Device.Cpu });
        var source = new SyntheticSource(64, 32, 50);
        var sink = new RecordingSink();
        await new StylizePipeline(stylizer, allocator: Allocator).RunAsync(source, sink).WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(sink.Completed);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), sink.Indices);
        Assert.All(sink.FirstBytes, b => Assert.InRange(b, 127, 128));
    }

    [Fact]
    public async Task Run_TwoInferenceWorkers_KeepsTheDecoderOrderAndAppliesTheModel()
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir, gain: 0f, bias: 0.5f), new StylizerOptions { Device = Device.Cpu, IntraOpThreads = 1 });
        var sink = new RecordingSink();
        var pipeline = new StylizePipeline(stylizer, new PipelineOptions { InferenceWorkers = 2 }, Allocator);

        var stats = await pipeline.RunAsync(new SyntheticSource(640, 360, 250), sink).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.True(sink.Completed);
        Assert.Equal(250, stats.FramesOut);
        Assert.Equal(Enumerable.Range(0, 250).Select(i => (long)i), sink.Indices);
        Assert.All(sink.FirstBytes, b => Assert.InRange(b, 127, 128));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Run_SinkFailsOrCancelledWithWorkers_StopsAndThePoolIsWhole(int workers)
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu, IntraOpThreads = 1 });
        var pipeline = new StylizePipeline(stylizer, new PipelineOptions { InferenceWorkers = workers }, Allocator);
        var failing = new RecordingSink { FailAt = 7 };
        var e = await Assert.ThrowsAsync<MediaException>(() => pipeline.RunAsync(new SyntheticSource(64, 32, 100), failing).WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Equal("disk full", e.Message);
        Assert.False(failing.Completed);

        using var cts = new CancellationTokenSource();
        var cancelled = new RecordingSink { OnWrite = n => { if (n == 10) { cts.Cancel(); } } };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pipeline.RunAsync(new SyntheticSource(64, 32, 10_000), cancelled, cancellationToken: cts.Token).WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.False(cancelled.Completed);
    }

    [Fact]
    public async Task Run_SinkFails_ErrorSurfacesAndThePoolIsWhole()
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu });
        var pipeline = new StylizePipeline(stylizer, allocator: Allocator);
        var sink = new RecordingSink { FailAt = 7 };
        var e = await Assert.ThrowsAsync<MediaException>(() => pipeline.RunAsync(new SyntheticSource(64, 32, 100), sink).WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Equal("disk full", e.Message);
        Assert.False(sink.Completed);
    }

    [Fact]
    public async Task Run_Cancelled_StopsAndThePoolIsWhole()
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu });
        var pipeline = new StylizePipeline(stylizer, allocator: Allocator);
        using var cts = new CancellationTokenSource();
        var sink = new RecordingSink { OnWrite = n => { if (n == 10) { cts.Cancel(); } } };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pipeline.RunAsync(new SyntheticSource(64, 32, 10_000), sink, cancellationToken: cts.Token).WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.False(sink.Completed);
    }

    [Fact]
    public async Task StylizeAsync_WarmPlanWithoutLane_AllocatesNothingPerFrame()
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu });
        using var plan = stylizer.CreatePlan(160, 90, 160, 90, slots: 1, Allocator);
        using var frame = Allocator.AllocateFrame(160, 90);
        await plan.StylizeAsync(frame); // warm up JIT and ORT

        long Measure(int frames)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < frames; i++)
            {
                plan.StylizeAsync(frame).AsTask().GetAwaiter().GetResult();
            }

            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }

        long small = Measure(20);
        long large = Measure(220);
        double perFrame = (large - small) / 200.0;
        Assert.True(perFrame < 64, $"{perFrame:0} bytes allocated per frame by the frame-level call");
        Assert.Equal(1, plan.FreeSlots);
    }

    [Fact]
    public async Task Run_SteadyState_AllocatesNoFrameOrTensorMemoryPerFrame()
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu });
        const int w = 160, h = 90;
        var pipeline = new StylizePipeline(stylizer, allocator: Allocator);
        await pipeline.RunAsync(new SyntheticSource(w, h, 20), new RecordingSink()); // warm up JIT and ORT

        long Measure(int frames)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            pipeline.RunAsync(new SyntheticSource(w, h, frames), new RecordingSink()).GetAwaiter().GetResult();
            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }

        long small = Measure(50);
        long large = Measure(1050);
        double perFrame = (large - small) / 1000.0;
        // One frame is 43,200 bytes and one tensor 172,800; anything per frame near those would show here.
        Assert.True(perFrame < 512, $"{perFrame:0} bytes allocated per frame in steady state");
    }

    [Fact]
    public async Task Run_LiveSourceWhileTheSinkIsStuck_DropsTheOldestFramesInsteadOfWaiting()
    {
        using var dir = new TempDir();
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu });
        const int frames = 40;
        // The sink's first write stops here until the source has handed over its last frame.
        var sourceDone = new SyncPoint();
        var source = new SyntheticSource(64, 32, frames, isLive: true)
        {
            // The reader has taken the last frame: only a source that never waited for the stuck sink gets here.
            AfterYield = i => { if (i == frames - 1) { sourceDone.Continue(); } },
        };
        var sink = new RecordingSink { BeforeFirstWrite = sourceDone.WaitToContinue };
        var stats = new PipelineStats();
        var run = new StylizePipeline(stylizer, allocator: Allocator).RunAsync(source, sink, stats);

        await sourceDone.WaitForSyncPoint().WaitAsync(TimeSpan.FromMinutes(1));
        await run.WaitAsync(TimeSpan.FromMinutes(1));

        Assert.True(sink.Completed);
        Assert.Equal(frames, stats.FramesOut + stats.FramesDropped);
        Assert.True(stats.FramesDropped > 0, "nothing was dropped while the sink was stuck");
        Assert.Equal(sink.Indices.Order(), sink.Indices);
        Assert.Equal(frames - 1, sink.Indices[^1]);
    }

    private sealed class RecordingSink : IFrameSink
    {
        public List<long> Indices { get; } = new(256);

        public List<byte> FirstBytes { get; } = new(256);

        public int FailAt { get; init; } = -1;

        public Action<int>? OnWrite { get; init; }

        public Func<Task>? BeforeFirstWrite { get; init; }

        public bool Completed { get; private set; }

        public ValueTask WriteAsync(Frame frame, CancellationToken cancellationToken = default)
        {
            if (Indices.Count == 0 && BeforeFirstWrite is { } before)
            {
                return WaitThenWriteAsync(before, frame);
            }

            return Write(frame);
        }

        private async ValueTask WaitThenWriteAsync(Func<Task> before, Frame frame)
        {
            await before();
            await Write(frame);
        }

        private ValueTask Write(Frame frame)
        {
            if (Indices.Count == FailAt)
            {
                throw new MediaException("disk full");
            }

            if (Indices.Count < Indices.Capacity)
            {
                Indices.Add(frame.Index);
                FirstBytes.Add(frame.Pixels[0]);
            }

            OnWrite?.Invoke(Indices.Count);
            return ValueTask.CompletedTask;
        }

        public Task CompleteAsync(CancellationToken cancellationToken = default)
        {
            Completed = true;
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
