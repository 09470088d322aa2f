using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Video.Capture;
using Video.Inference;

namespace Video.Streaming.Tests.Grpc;

public class ServiceRegistrationTests
{
    [Fact]
    public void AddInference_NoBudget_RegistersTheProcessDefaultAllocatorOnce()
    {
        using var services = new ServiceCollection().AddInference().AddCapture().BuildServiceProvider();
        Assert.Same(FrameAllocator.Default, services.GetRequiredService<FrameAllocator>());
        Assert.Single(new ServiceCollection().AddInference().AddCapture(), d => d.ServiceType == typeof(FrameAllocator));
    }

    [Fact]
    public void AddCapture_WithBudget_GivesTheContainerItsOwnAllocatorWithThatBudget()
    {
        using var services = new ServiceCollection().AddCapture(o => o.FrameMemoryBudgetBytes = 1 << 20).BuildServiceProvider();
        var allocator = services.GetRequiredService<FrameAllocator>();
        Assert.NotSame(FrameAllocator.Default, allocator);
        Assert.Equal(1 << 20, allocator.BudgetBytes);
        Assert.Throws<FrameBudgetException>(() => allocator.AllocateFrame(1024, 1024));
    }

    [Fact]
    public void AddCapture_NegativeBudget_FailsValidation()
    {
        using var services = new ServiceCollection().AddCapture(o => o.FrameMemoryBudgetBytes = -1).BuildServiceProvider();
        Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<CaptureOptions>>().Value);
    }
}
