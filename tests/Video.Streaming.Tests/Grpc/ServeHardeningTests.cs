using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Video.Tests.Shared;

namespace Video.Streaming.Tests.Grpc;

/// <summary>Issue 18, case 6: <c>video serve</c> takes keys from a file or the environment, and says plainly when TLS files are wrong.</summary>
[Collection(GrpcCollection.Name)]
public sealed class ServeHardeningTests
{
    private static readonly TimeSpan T = GrpcTestServer.Timeout;

    [Fact]
    public async Task Serve_ApiKeyFile_KeysReadFromTheFile()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("keys.txt"), ["# the keys", "first-key", "", "  second-key  "]);
        string line = await StartupLineAsync(dir, new Dictionary<string, string?>(), "--api-key-file", dir.File("keys.txt"));
        Assert.Contains(", 2 API key(s),", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_VideoApiKeyEnvironment_KeyUsed()
    {
        using var dir = new TempDir();
        string line = await StartupLineAsync(dir, new Dictionary<string, string?> { ["VIDEO_API_KEY"] = "from-env" });
        Assert.Contains(", 1 API key(s),", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("missing.txt", "not found")]
    [InlineData("empty.txt", "no key in it (one key per line)")]
    public void Serve_BadApiKeyFile_OneLineError(string file, string message)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("empty.txt"), "# nothing\n\n");
        var (code, _, stderr) = CliProcess.Run(dir.Path, "serve", "--port", "0", "--metrics-port", "-1", "--api-key-file", dir.File(file));
        Assert.Equal(1, code);
        Assert.Equal($"video: error: --api-key-file {dir.File(file)}: {message}", stderr.Trim());
    }

    [Fact]
    public void Serve_TlsCertificateAndKeySwapped_OneLineError()
    {
        using var dir = new TempDir();
        var (cert, key) = WritePair(dir, "server");
        var (code, _, stderr) = CliProcess.Run(dir.Path, "serve", "--port", "0", "--models", dir.Path, "--tls-cert", key, "--tls-key", cert);
        Assert.Equal(1, code);
        Assert.Equal($"video: error: --tls-cert {key} holds a private key and --tls-key {cert} a certificate: they are the wrong way round", stderr.Trim());
    }

    [Fact]
    public void Serve_TlsKeyOfAnotherCertificate_OneLineError()
    {
        using var dir = new TempDir();
        var (cert, _) = WritePair(dir, "server");
        var (_, otherKey) = WritePair(dir, "other");
        var (code, _, stderr) = CliProcess.Run(dir.Path, "serve", "--port", "0", "--models", dir.Path, "--tls-cert", cert, "--tls-key", otherKey);
        Assert.Equal(1, code);
        Assert.StartsWith($"video: error: --tls-key {otherKey} is not the private key of --tls-cert {cert}", stderr.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain('\n', stderr.Trim());
    }

    /// <summary>A self-signed certificate for localhost and its key, as PEM files NAME.crt and NAME.key.</summary>
    internal static (string Certificate, string Key) WritePair(TempDir dir, string name)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        File.WriteAllText(dir.File(name + ".crt"), certificate.ExportCertificatePem());
        File.WriteAllText(dir.File(name + ".key"), rsa.ExportPkcs8PrivateKeyPem());
        return (dir.File(name + ".crt"), dir.File(name + ".key"));
    }

    /// <summary>Starts <c>video serve</c> on an empty models folder and returns its "video serve: gRPC …" line, then stops it.</summary>
    private static async Task<string> StartupLineAsync(TempDir dir, Dictionary<string, string?> env, params string[] extra)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "video.dll"), "serve", "--port", "0", "--metrics-port", "-1", "--device", "cpu", "--models", dir.Path, .. extra])
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["VIDEO_API_KEYS"] = null;
        psi.Environment["VIDEO_API_KEY"] = null;
        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }

        using var server = Process.Start(psi)!;
        _ = server.StandardError.ReadToEndAsync();
        try
        {
            string? line;
            while ((line = await server.StandardOutput.ReadLineAsync().WaitAsync(T)) is not null && !line.StartsWith("video serve: gRPC", StringComparison.Ordinal))
            {
                // Log lines (the empty models folder) come first.
            }

            Assert.NotNull(line);
            return line;
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync().WaitAsync(T);
        }
    }
}
