using Video.Capture;
using Video.Capture.Live;
using Video.Inference;
using Video.Streaming.Live;
using Video.Tests.Shared;

namespace Video.Streaming.Tests.Live;

/// <summary>The live loop with real models: switching without losing frames, dropping under load, bounded memory.</summary>
[Collection(LiveTests.Collection)]
public class LiveSessionTests : FrameLeakCheckedTest
{
    private const string FastModel = "starry-night";

    [Fact]
    public async Task Switch_WhileRunning_LosesNoFrameAndChangesModelBetweenTwoFrames()
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("clip.mp4"), 160, 96, "25", 1.6, audio: false);
        var catalog = ModelCatalog.Load(Repo.Models);
        var options = new StylizerOptions { Device = Device.Cpu };
        await using var session = new LiveSession(catalog, options, 160, 96, Allocator);
        await session.SwitchAsync(new LiveSettings { Model = "toon" });

        // A file source waits instead of dropping, so every frame must come out; the switch is handed over after the
        // 15th frame is read (index 14), which may still be queued, so the new model starts at index 14 or 15.
        await using var file = await FrameSources.OpenAsync(clip);
        var source = new SwitchingSource(file, afterFrame: 15, () => session.SwitchAsync(new LiveSettings { Model = FastModel }));
        await using var sink = new CapturingSink();
        await session.RunAsync(source, sink, CancellationToken.None);

        Assert.Equal(40, sink.Frames.Count);
        Assert.Equal(FastModel, session.Settings.Model);
        Assert.Equal(0, session.Status().Dropped);

        // Each output frame is exactly one model's output for its input frame: toon up to the switch, the fast model after.
        var inputs = await DecodeAsync(clip);
        var toon = Reference(catalog, "toon", inputs);
        var fast = Reference(catalog, FastModel, inputs);
        var byModel = sink.Frames.Select((f, i) => Distance(f, toon[i]) < 1 ? "toon" : Distance(f, fast[i]) < 1 ? FastModel : "neither").ToList();
        Assert.DoesNotContain("neither", byModel);
        int first = byModel.IndexOf(FastModel);
        Assert.InRange(first, 14, 15);
        Assert.All(byModel.Take(first), m => Assert.Equal("toon", m));
        Assert.All(byModel.Skip(first), m => Assert.Equal(FastModel, m));
    }

    [Fact]
    public async Task LiveSource_FasterThanTheModel_DropsTheOldestWithMemoryAndLatencyBounded()
    {
        var catalog = ModelCatalog.Load(Repo.Models);
        await using var session = new LiveSession(catalog, new StylizerOptions { Device = Device.Cpu }, 640, 360, Allocator);
        await session.SwitchAsync(new LiveSettings { Model = FastModel });
        var input = LiveInput.Parse("testsrc") with { Size = (640, 360), FrameRate = 120 };
        await using var source = await LiveSource.OpenAsync(input, new LiveSourceOptions { Audio = false });
        await using var sink = new CapturingSink(keep: false);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(6));
        await session.RunAsync(source, sink, stop.Token);

        var status = session.Status();
        int rentsAfterRun = Allocator.Rents<byte>();
        Assert.True(status.FramesOut > 10, $"{status.FramesOut} frames out");
        Assert.True(status.Dropped > 0, "a 120 fps source must outrun the model on this CPU");
        Assert.Equal(status.FramesIn, status.FramesOut + status.Dropped);
        Assert.Equal(status.FramesOut, sink.Count);

        // Memory: the frames come from one small pool, whatever the number of frames (no frame allocated per frame).
        Assert.True(rentsAfterRun <= 12, $"{rentsAfterRun} frame buffers rented for {status.FramesIn} frames");

        // Latency stays bounded by the one-frame queues: old frames are dropped, not queued.
        var latency = session.TotalLatency();
        Assert.Equal(status.FramesOut, latency.Samples);
        Assert.InRange(latency.P50, 0.1, 1000);
        Assert.True(latency.P99 < 2000, $"p99 {latency.P99:0} ms");
    }

    private static async Task<List<byte[]>> DecodeAsync(string clip)
    {
        await using var source = await FrameSources.OpenAsync(clip);
        using var pool = FrameAllocator.Default.CreatePool(source.Info.Width, source.Info.Height, PixelFormat.Rgb24, 3);
        var frames = new List<byte[]>();
        await foreach (var frame in source.ReadAllAsync(pool))
        {
            using (frame)
            {
                frames.Add(frame.Pixels.ToArray());
            }
        }

        return frames;
    }

    private static List<byte[]> Reference(ModelCatalog catalog, string model, List<byte[]> inputs)
    {
        using var stylizer = Stylizer.Load(catalog.Find(model), new StylizerOptions { Device = Device.Cpu });
        var (tw, th) = stylizer.InferenceSize(160, 96);
        using var plan = stylizer.CreatePlan(160, 96, tw, th, slots: 1);
        using var frame = FrameAllocator.Default.AllocateFrame(160, 96);
        return inputs.Select(bytes =>
        {
            bytes.CopyTo(frame.Pixels);
            plan.StylizeInPlace(frame);
            return frame.Pixels.ToArray();
        }).ToList();
    }

    private static double Distance(byte[] a, byte[] b)
    {
        long sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += Math.Abs(a[i] - b[i]);
        }

        return (double)sum / a.Length;
    }

    /// <summary>Passes a source through and asks for a switch once <paramref name="afterFrame"/> frames have been read.</summary>
    private sealed class SwitchingSource(IFrameSource inner, int afterFrame, Func<Task> onSwitch) : IFrameSource
    {
        public MediaInfo Info => inner.Info;

        public bool IsLive => inner.IsLive;

        public async IAsyncEnumerable<Frame> ReadAllAsync(FramePool pool, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            int n = 0;
            await foreach (var frame in inner.ReadAllAsync(pool, cancellationToken))
            {
                yield return frame;
                if (++n == afterFrame)
                {
                    // The next frame is read only once the switch is in effect.
                    await onSwitch();
                }
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>The live tests measure rates and latency, so they run one at a time.</summary>
[CollectionDefinition(Collection, DisableParallelization = true)]
public sealed class LiveTests
{
    public const string Collection = "live";
}

/// <summary>A sink that keeps a copy of every frame (or only counts them), for asserting on what a pipeline wrote.</summary>
internal sealed class CapturingSink(bool keep = true) : IFrameSink
{
    public List<byte[]> Frames { get; } = [];

    public int Count { get; private set; }

    public bool Completed { get; private set; }

    public ValueTask WriteAsync(Frame frame, CancellationToken cancellationToken = default)
    {
        if (keep)
        {
            Frames.Add(frame.Pixels.ToArray());
        }

        Count++;
        return ValueTask.CompletedTask;
    }

    public Task CompleteAsync(CancellationToken cancellationToken = default)
    {
        Completed = true;
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
