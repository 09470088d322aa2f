using BenchmarkDotNet.Attributes;
using Video.Capture;
using Video.Evaluation;
using Video.Inference.Temporal;

namespace Video.Benchmarks;

/// <summary>
/// The temporal filter's <see cref="TemporalFilter.ObserveInput"/> + <see cref="TemporalFilter.Apply"/> per frame with
/// <see cref="MemoryDiagnoserAttribute"/>, on the scene and modes of <c>video eval temporal-bench</c>
/// (<see cref="TemporalFilterBench"/>): the allocations per frame that command used to count by hand. Times include making
/// the flickering copy of the frame (one 640×360 copy), so read them from the command, not from here.
/// </summary>
[MemoryDiagnoser]
public class TemporalFilterBenchmarks
{
    private Frame[] _inputs = [];
    private Frame _work = null!;
    private TemporalFilter _filter = null!;
    private Random _random = null!;
    private long _index;

    [Params("ema", "flow", "flow, no clamp", "flow, no full-size check")]
    public string Mode { get; set; } = "flow";

    [Params(640)]
    public int Width { get; set; } = 640;

    [Params(360)]
    public int Height { get; set; } = 360;

    [GlobalSetup]
    public void Setup()
    {
        _random = new Random(7);
        _inputs = TemporalBenchScene.Create(FrameAllocator.Default, Width, Height, _random);
        _work = FrameAllocator.Default.AllocateFrame(Width, Height);
        var options = TemporalFilterBench.Modes(0.8).Single(m => m.Label == Mode).Options;
        _filter = new TemporalFilter(Width, Height, options);

        // Warm: the filter has history and every buffer it grows on first use.
        for (int i = 0; i < 20; i++)
        {
            FilterNextFrame();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _filter.Dispose();
        _work.Dispose();
        foreach (var f in _inputs)
        {
            f.Dispose();
        }
    }

    [Benchmark]
    public void FilterNextFrame()
    {
        var input = _inputs[_index % _inputs.Length];
        input.Index = _index++;
        TemporalBenchScene.Flicker(input, _work, _random);
        _filter.ObserveInput(input);
        _filter.Apply(_work);
    }
}
