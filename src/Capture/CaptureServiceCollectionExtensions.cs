using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Video.Capture;

/// <summary>Settings of the capture layer.</summary>
public sealed class CaptureOptions
{
    /// <summary>
    /// The most bytes of pixel and tensor memory the process holds at once; null keeps
    /// <see cref="FrameAllocator.Default"/> and its budget (<see cref="PooledFrameAllocator.DefaultBudgetBytes"/>).
    /// </summary>
    public long? FrameMemoryBudgetBytes { get; set; }
}

/// <summary>Registers the capture layer.</summary>
public static class CaptureServiceCollectionExtensions
{
    /// <summary>
    /// Adds the process's one <see cref="FrameAllocator"/>: <see cref="FrameAllocator.Default"/>, or, when
    /// <see cref="CaptureOptions.FrameMemoryBudgetBytes"/> is set, a pooled allocator with that budget that
    /// also becomes the default, so code outside the container shares the same budget.
    /// </summary>
    public static IServiceCollection AddCapture(this IServiceCollection services, Action<CaptureOptions>? configure = null)
    {
        var options = services.AddOptions<CaptureOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(o => o.FrameMemoryBudgetBytes is null or > 0, "FrameMemoryBudgetBytes must be positive").ValidateOnStart();
        services.TryAddSingleton<FrameAllocator>(sp =>
        {
            if (sp.GetRequiredService<IOptions<CaptureOptions>>().Value.FrameMemoryBudgetBytes is { } budget)
            {
                FrameAllocator.Default = new PooledFrameAllocator(budget);
            }

            return FrameAllocator.Default;
        });
        return services;
    }
}
