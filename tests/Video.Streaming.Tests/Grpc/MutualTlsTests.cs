using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Video.Inference;
using Video.Inference.Onnx;
using Video.Streaming.Client;
using Video.Streaming.Grpc;
using Video.Tests.Shared;

namespace Video.Streaming.Tests.Grpc;

/// <summary>Issue 18, item 9: TLS with client certificates (<c>--tls-client-ca</c>) on a real server on 127.0.0.1.</summary>
[Collection(GrpcCollection.Name)]
public sealed class MutualTlsTests
{
    private static readonly TimeSpan T = GrpcTestServer.Timeout;

    [Fact]
    public async Task ListModels_ClientCertificateFromTheCa_ServedOthersRefusedAtTheHandshake()
    {
        using var dir = new TempDir();
        using var caKey = RSA.Create(2048);
        using var ca = Authority(caKey, "CN=video test CA");
        File.WriteAllText(dir.File("ca.crt"), ca.ExportCertificatePem());
        using var server = Issue(ca, caKey, "CN=localhost", serverAuth: true);
        File.WriteAllText(dir.File("server.crt"), server.ExportCertificatePem());
        File.WriteAllText(dir.File("server.key"), server.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        using var client = Issue(ca, caKey, "CN=client", serverAuth: false);
        using var otherKey = RSA.Create(2048);
        using var otherCa = Authority(otherKey, "CN=someone else's CA");
        using var stranger = Issue(otherCa, otherKey, "CN=client", serverAuth: false);

        var models = new TempDir();
        ProceduralModels.WriteAffine(models.File("identity.onnx"), 1f, 0f);
        GrpcTestServer.WriteManifest(models, "identity");

        await using var host = StreamingServer.Create(
            new ServerEndpoint { Address = "127.0.0.1", Port = 0, TlsCertificate = dir.File("server.crt"), TlsKey = dir.File("server.key"), TlsClientCa = dir.File("ca.crt"), LogLevel = LogLevel.Warning },
            o =>
            {
                o.ModelsDirectory = models.Path;
                o.Device = Device.Cpu;
                o.IntraOpThreads = 1;
            });
        await host.StartAsync().WaitAsync(T);
        await host.Services.GetRequiredService<ModelHost>().Loaded.WaitAsync(T);
        Assert.StartsWith("https://127.0.0.1:", host.Address, StringComparison.Ordinal);
        var trust = new X509Certificate2Collection(ca);

        using (var good = new StylizeClient(host.Address, new StylizeClientOptions { ClientCertificate = client, ServerAuthorities = trust }))
        {
            Assert.Equal("identity", Assert.Single((await good.ListModelsAsync().WaitAsync(T)).Models).Name);
        }

        foreach (var (name, certificate) in new[] { ("no certificate", (X509Certificate2?)null), ("a certificate of another CA", stranger) })
        {
            using var refused = new StylizeClient(host.Address, new StylizeClientOptions { ClientCertificate = certificate, ServerAuthorities = trust });
            var e = await Assert.ThrowsAsync<RpcException>(() => refused.ListModelsAsync().WaitAsync(T));
            Assert.True(e.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{name}: {e.StatusCode} {e.Status.Detail}");
        }

        // The client checks the server too: a server certificate from a CA it does not trust is refused.
        using (var distrustful = new StylizeClient(host.Address, new StylizeClientOptions { ClientCertificate = client, ServerAuthorities = new X509Certificate2Collection(otherCa) }))
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => distrustful.ListModelsAsync().WaitAsync(T));
            Assert.True(e.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{e.StatusCode} {e.Status.Detail}");
            Assert.Contains("SSL", e.Status.DebugException?.ToString() ?? e.Status.Detail, StringComparison.OrdinalIgnoreCase);
        }

        await host.StopAsync().WaitAsync(T);
        models.Dispose();
    }

    [Fact]
    public void Serve_ClientCaWithoutTls_OneLineError()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("ca.crt"), "not used");
        var (code, _, stderr) = CliProcess.Run(dir.Path, "serve", "--port", "0", "--metrics-port", "-1", "--tls-client-ca", dir.File("ca.crt"));
        Assert.Equal(1, code);
        Assert.Equal("video: error: --tls-client-ca needs --tls-cert and --tls-key: client certificates are checked over TLS", stderr.Trim());
    }

    private static X509Certificate2 Authority(RSA key, string subject)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    /// <summary>A certificate signed by <paramref name="ca"/>, with its private key.</summary>
    private static X509Certificate2 Issue(X509Certificate2 ca, RSA caKey, string subject, bool serverAuth)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(12);
        using var issued = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForRSA(caKey, RSASignaturePadding.Pkcs1), DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), serial);
        using var withKey = issued.CopyWithPrivateKey(key);

        // Through PKCS#12 so that the key outlives this method's RSA object.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }
}
