using Video.Inference.Temporal;
using Video.Tests.Shared;

namespace Video.Evaluation.Tests;

public class TemporalFilterBenchTests : FrameLeakCheckedTest
{
    [Fact]
    public void Run_SmallFrames_TimesEveryModeAndBlendsEveryFrame()
    {
        var r = TemporalFilterBench.Run(160, 96, 12, 0.8, CancellationToken.None, Allocator);

        Assert.Equal(["ema", "flow", "flow, no clamp", "flow, no full-size check"], r.Modes.Select(m => m.Label));
        Assert.Equal((160, 96), (r.Width, r.Height));
        Assert.Equal(TemporalMode.Flow, r.Flow.Mode);
        foreach (var m in r.Modes)
        {
            Assert.True(m.P10Ms > 0 && m.P10Ms <= m.MedianMs && m.MedianMs <= m.P90Ms, $"{m.Label}: p10 {m.P10Ms} median {m.MedianMs} p90 {m.P90Ms}");
            Assert.Equal(12, m.FramesBlended);
        }
    }

    [Fact]
    public void Scene_Frames_PanWithoutAJumpAndFlickerKeepsTheIndex()
    {
        var frames = TemporalBenchScene.Create(Allocator, 64, 48, new Random(7));
        try
        {
            Assert.Equal(TemporalBenchScene.Distinct, frames.Length);
            Assert.Equal(frames[1].Pixels.ToArray(), frames[^1].Pixels.ToArray()); // ping-pong: phase 1 on the way back
            using var stylized = Allocator.AllocateFrame(64, 48);
            frames[3].Index = 42;
            TemporalBenchScene.Flicker(frames[3], stylized, new Random(1));
            Assert.Equal(42, stylized.Index);
        }
        finally
        {
            foreach (var f in frames)
            {
                f.Dispose();
            }
        }
    }
}
