using BenchmarkDotNet.Attributes;
using Video.Capture;
using Video.Inference;

namespace Video.Benchmarks;

/// <summary>
/// The per-frame path with <see cref="MemoryDiagnoserAttribute"/>: renting a frame, preprocessing,
/// inference and postprocessing on a warm plan must show 0 B allocated per operation.
/// </summary>
[MemoryDiagnoser]
public class FramePathBenchmarks
{
    private FramePool _pool = null!;
    private Stylizer _stylizer = null!;
    private StylizerPlan _plan = null!;
    private Frame _frame = null!;
    private TensorSlot _slot = null!;

    [Params("toon")]
    public string Model { get; set; } = "toon";

    [Params(640)]
    public int Width { get; set; } = 640;

    [Params(360)]
    public int Height { get; set; } = 360;

    [GlobalSetup]
    public void Setup()
    {
        var catalog = ModelCatalog.Load(ModelCatalog.ResolveDirectory());
        _stylizer = Stylizer.Load(catalog.Find(Model), new StylizerOptions { Device = Device.Cpu });
        _plan = _stylizer.CreatePlan(Width, Height, Width, Height, slots: 1);
        _pool = FrameAllocator.Default.CreatePool(Width, Height, PixelFormat.Rgb24, 2);
        _frame = FrameAllocator.Default.AllocateFrame(Width, Height);
        new Random(1).NextBytes(_frame.Pixels);
        if (!_plan.TryRentSlot(out _slot))
        {
            throw new InvalidOperationException("no slot");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plan.ReturnSlot(_slot);
        _plan.Dispose();
        _stylizer.Dispose();
        _pool.Dispose();
    }

    [Benchmark]
    public void RentAndReturnFrame()
    {
        _pool.TryRent(out var frame);
        frame!.Dispose();
    }

    [Benchmark]
    public void Preprocess() => _plan.Preprocess(_frame, _slot);

    [Benchmark]
    public void Infer() => _plan.Infer(_slot);

    [Benchmark]
    public void Postprocess() => _plan.Postprocess(_slot, _frame);
}
