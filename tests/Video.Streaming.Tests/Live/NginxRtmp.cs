using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Video.Tests.Shared;

namespace Video.Streaming.Tests.Live;

/// <summary>
/// nginx with its RTMP module on 127.0.0.1 (a free port), started for a test and stopped with it; the recipe of
/// live-io-facts (<c>idle_streams off</c>, so a player of a stream nobody publishes fails at once instead of hanging).
/// </summary>
internal sealed class NginxRtmp : IDisposable
{
    private const string Module = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
    private readonly TempDir _dir = new();
    private readonly Process _nginx;

    public NginxRtmp()
    {
        if (!File.Exists("/usr/sbin/nginx") || !File.Exists(Module))
        {
            throw new InvalidOperationException("nginx-light and libnginx-mod-rtmp are needed for the RTMP tests; ./video test installs them");
        }

        Port = FreePort();
        Directory.CreateDirectory(_dir.File("logs"));
        File.WriteAllText(_dir.File("nginx.conf"), $$"""
            load_module {{Module}};
            worker_processes 1;
            error_log {{_dir.File("logs/error.log")}};
            pid {{_dir.File("nginx.pid")}};
            events { worker_connections 64; }
            rtmp { server { listen 127.0.0.1:{{Port}}; application live { live on; idle_streams off; } } }
            """);
        var psi = new ProcessStartInfo("/usr/sbin/nginx") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-p", _dir.Path, "-c", _dir.File("nginx.conf"), "-g", "daemon off;" })
        {
            psi.ArgumentList.Add(a);
        }

        _nginx = Process.Start(psi)!;
        var deadline = Stopwatch.StartNew();
        while (!Accepts(Port))
        {
            if (_nginx.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new InvalidOperationException($"nginx did not start: {_nginx.StandardError.ReadToEnd()}");
            }

            Thread.Sleep(50);
        }
    }

    public int Port { get; }

    public string Url(string stream) => $"rtmp://127.0.0.1:{Port}/live/{stream}";

    /// <summary>Starts ffmpeg publishing a 640×360, 30 fps test pattern with a 440 Hz tone to <paramref name="stream"/>.</summary>
    public Process Publish(string stream, double seconds)
    {
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[]
        {
            "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", Url(stream),
        })
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }

    /// <summary>
    /// Records <paramref name="seconds"/> of <paramref name="stream"/> into <paramref name="path"/> (stream copy), trying
    /// again while the stream is not published yet; true when something was recorded.
    /// </summary>
    public bool Record(string stream, string path, double seconds, TimeSpan within)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < within)
        {
            var result = ChildProcess.Run(
                "ffmpeg",
                ["-nostdin", "-v", "error", "-y", "-rw_timeout", "5000000", "-i", Url(stream), "-t", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c", "copy", path],
                TimeSpan.FromSeconds(seconds + 15));
            if (result.ExitCode == 0 && File.Exists(path) && new FileInfo(path).Length > 10_000)
            {
                return true;
            }

            Thread.Sleep(500);
        }

        return false;
    }

    public void Dispose()
    {
        try
        {
            _nginx.Kill(entireProcessTree: true);
            _nginx.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }

        _nginx.Dispose();
        _dir.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool Accepts(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
