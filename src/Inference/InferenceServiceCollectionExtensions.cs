using Microsoft.Extensions.DependencyInjection;
using Video.Capture;

namespace Video.Inference;

/// <summary>Registers the inference layer.</summary>
public static class InferenceServiceCollectionExtensions
{
    /// <summary>
    /// Adds what plans and pipelines need from the container: the capture layer (<c>AddCapture()</c>), whose
    /// <see cref="FrameAllocator"/> holds their frames and tensors under the one budget.
    /// </summary>
    public static IServiceCollection AddInference(this IServiceCollection services)
    {
        services.AddCapture();
        return services;
    }
}
