using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Sdk;

namespace Video.Streaming.Tests.Grpc;

/// <summary>The fixture's check on error logs: an error the test did not declare fails it, a declared one does not.</summary>
[Collection(GrpcCollection.Name)]
public sealed class ErrorLogTests
{
    [Fact]
    public async Task DisposeAsync_UndeclaredServerError_Fails()
    {
        // With no model the server logs ModelsFailed at Error while it starts; this test does not declare it.
        var server = await GrpcTestServer.StartAsync(withModels: false);

        var e = await Assert.ThrowsAnyAsync<XunitException>(async () => await server.DisposeAsync());
        Assert.Contains("1 unexpected error", e.Message, StringComparison.Ordinal);
        Assert.Contains("No model could be loaded", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AssertNoUnexpectedErrors_ErrorDeclaredAfterItWasLogged_Passes()
    {
        await using var server = await GrpcTestServer.StartAsync(withModels: false, expectedErrors: e => e.EventId.Name == "ModelsFailed");
        var logger = server.Server.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Video.Streaming.Tests.Probe");
        logger.LogWarning("a warning is not an error");
        logger.LogError(new InvalidOperationException("probe"), "probe error {Id}", 7);

        var e = Assert.ThrowsAny<XunitException>(server.AssertNoUnexpectedErrors);
        Assert.Contains("probe error 7", e.Message, StringComparison.Ordinal);
        Assert.Contains("InvalidOperationException: probe", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, server.ErrorLogs.Count);

        server.ExpectErrors(entry => entry.Category == "Video.Streaming.Tests.Probe" && entry.Exception is InvalidOperationException);
        server.AssertNoUnexpectedErrors();
    }
}
