using Video.Capture;
using Video.Inference.Temporal;
using Video.Tests.Shared;

namespace Video.Inference.Tests.Temporal;

public class TemporalPipelineTests : FrameLeakCheckedTest
{
    [Theory]
    [InlineData(TemporalMode.Flow)]
    [InlineData(TemporalMode.Ema)]
    public async Task Run_WithTemporalStage_WritesEveryFrameInOrderAndThePoolIsWhole(TemporalMode mode)
    {
        using var dir = new TempDir();
        string clip = Media.Generate(dir.File("in.mp4"), 160, 96, "25", 1.2, audio: false);
        using var stylizer = Stylizer.Load(ModelFixtures.Affine(dir), new StylizerOptions { Device = Device.Cpu });
        var pipeline = new StylizePipeline(stylizer, new PipelineOptions { Temporal = new TemporalOptions { Mode = mode } }, Allocator);
        var stats = new PipelineStats();
        await using (var source = await FrameSources.OpenAsync(clip))
        await using (var sink = FfmpegVideoSink.Create(dir.File("out.mp4"), 160, 96, source.Info.FrameRate, null))
        {
            await pipeline.RunAsync(source, sink, stats).WaitAsync(TimeSpan.FromMinutes(2));
        }

        Assert.Equal(30, stats.FramesOut);
        Assert.Contains(stats.StageMilliseconds(), s => s.Stage == "temporal");
        Assert.Equal(30, Media.Probe(dir.File("out.mp4")).Frames);
    }
}
