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
    /// Adds the one <see cref="FrameAllocator"/>: <see cref="FrameAllocator.Default"/>, which code outside the
    /// container also uses, or, when <see cref="CaptureOptions.FrameMemoryBudgetBytes"/> is set, a pooled
    /// allocator with that budget for everything the container builds (the default is left alone, so a test
    /// host with a small budget does not change the rest of the process).
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
            sp.GetRequiredService<IOptions<CaptureOptions>>().Value.FrameMemoryBudgetBytes is { } budget
                ? new PooledFrameAllocator(budget)
                : FrameAllocator.Default);
        return services;
    }
}
