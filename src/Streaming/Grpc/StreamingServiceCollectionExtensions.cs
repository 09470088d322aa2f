using Grpc.HealthCheck;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Video.Inference;
using Video.Streaming.Grpc.Internal;

namespace Video.Streaming.Grpc;

/// <summary>Registers and maps the gRPC stylization server.</summary>
internal static class StreamingServiceCollectionExtensions
{
    /// <summary>
    /// Adds the inference layer (<c>AddInference()</c>, which adds the capture layer and its frame allocator),
    /// the stylization service, its model host, limits, API-key check, health, reflection and the
    /// OpenTelemetry meter exported for Prometheus. Options are validated when the host starts.
    /// </summary>
    public static IServiceCollection AddStreaming(this IServiceCollection services, Action<StreamingOptions>? configure = null)
    {
        var options = services.AddOptions<StreamingOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StreamingOptions>, StreamingOptionsValidator>());

        services.AddInference();
        services.TryAddSingleton<HealthServiceImpl>();
        services.TryAddSingleton<StreamingMetrics>();
        services.TryAddSingleton<StyleRegistry>();
        services.TryAddSingleton<StreamLimiter>();
        services.TryAddSingleton<SessionConfigResolver>();
        services.TryAddSingleton<ModelHost>();
        services.TryAddSingleton<PushSessionRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelHost>());
        services.TryAddSingleton<NativeHeapTrimmer>();
        services.AddHostedService(sp => sp.GetRequiredService<NativeHeapTrimmer>());
        services.TryAddSingleton<ApiKeyGate>();

        services.AddGrpc(o =>
        {
            o.EnableDetailedErrors = false;
            o.MaxSendMessageSize = null;
        });
        services.AddOptions<global::Grpc.AspNetCore.Server.GrpcServiceOptions>()
            .Configure<IOptions<StreamingOptions>>((g, s) => g.MaxReceiveMessageSize = s.Value.MaxMessageBytes);
        services.AddGrpcReflection();
        services.AddOpenTelemetry().ConfigureResource(r => r.AddService("video")).WithMetrics(m => m.AddMeter(StreamingMetrics.MeterName).AddPrometheusExporter());
        return services;
    }

    /// <summary>
    /// Checks API keys on the request headers of every stylization call before gRPC reads the body (<see cref="ApiKeyGate"/>);
    /// goes before <c>UseGrpcWeb</c> and the endpoints.
    /// </summary>
    public static IApplicationBuilder UseApiKeys(this IApplicationBuilder app)
    {
        var gate = app.ApplicationServices.GetRequiredService<ApiKeyGate>();
        return app.Use((context, next) => gate.InvokeAsync(context, next));
    }

    /// <summary>Maps the stylization service, <c>grpc.health.v1</c>, server reflection and <c>/metrics</c>.</summary>
    public static IEndpointRouteBuilder MapStreaming(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<VideoStylizerService>();
        endpoints.MapGrpcService<HealthServiceImpl>();
        endpoints.MapGrpcReflectionService();
        endpoints.MapPrometheusScrapingEndpoint();
        return endpoints;
    }
}

/// <summary>Runs <see cref="StreamingOptions.Validate"/> when the host starts, as an options validation failure.</summary>
internal sealed class StreamingOptionsValidator : IValidateOptions<StreamingOptions>
{
    public ValidateOptionsResult Validate(string? name, StreamingOptions options)
    {
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
