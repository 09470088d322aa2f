using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using Video.Streaming.Protos.V1;
using Video.Tests.Shared;

namespace Video.Browser.Tests;

/// <summary>
/// <c>video serve --tls-cert --tls-key</c>: one port, HTTP/1.1 and HTTP/2 by ALPN, for gRPC clients, the page and its
/// gRPC-Web calls alike (a self-signed certificate made by the test).
/// </summary>
public sealed class TlsTests(FakeCamera camera) : IClassFixture<FakeCamera>
{
    [SkippableFact]
    public async Task Tls_OnePort_ServesGrpcClientsAndThePage()
    {
        string y4m = camera.Y4m;
        using var dir = new TempDir();
        var tls = SelfSigned(dir);
        await using var server = await PageServer.StartAsync(PageServer.RequireBuiltPage(), tls: tls);
        Assert.StartsWith("https://127.0.0.1:", server.Server.PageAddress, StringComparison.Ordinal);
        Assert.Equal(server.Server.Address.TrimEnd('/') + "/", server.Server.PageAddress);

        // An HTTP/2 gRPC client on the TLS port.
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var channel = GrpcChannel.ForAddress(server.Server.Address, new GrpcChannelOptions { HttpHandler = handler });
        var models = await new VideoStylizer.VideoStylizerClient(channel).ListModelsAsync(new ListModelsRequest()).ResponseAsync.WaitAsync(PageServer.Timeout);
        Assert.Contains(models.Models, m => m.Name == "toon");

        // The page over https on the same port.
        await using var browser = await ChromiumPage.OpenAsync(server.Server.PageAddress!, y4m, acceptSelfSigned: true);
        await browser.WaitForAsync("window.videoStats.framesDrawn >= 3", "3 stylized frames over TLS");
    }

    private static (string Certificate, string Key) SelfSigned(TempDir dir)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        File.WriteAllText(dir.File("server.crt"), certificate.ExportCertificatePem());
        File.WriteAllText(dir.File("server.key"), rsa.ExportPkcs8PrivateKeyPem());
        return (dir.File("server.crt"), dir.File("server.key"));
    }
}
