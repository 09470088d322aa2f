using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Video.Tests.Shared;

namespace Video.Browser.Tests;

/// <summary><c>video serve</c> as a user runs it: the page's URL is printed at start and serves the page.</summary>
public sealed partial class ServeCommandTests
{
    [SkippableFact]
    public async Task Serve_PageBuilt_PrintsTheUrlThatServesThePage()
    {
        string webRoot = PageServer.RequireBuiltPage();
        var lines = await RunUntilPageLineAsync(webRoot, [], async line =>
        {
            var url = PageUrl().Match(line);
            Assert.True(url.Success, $"no page URL in: {line}");
            using var http = new HttpClient();
            string html = await http.GetStringAsync(url.Groups[1].Value).WaitAsync(PageServer.Timeout);
            Assert.Contains("<script type=\"module\" src=\"app.js\"></script>", html, StringComparison.Ordinal);
            using var script = await http.GetAsync(url.Groups[1].Value + "app.js").WaitAsync(PageServer.Timeout);
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
            Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        });
        Assert.Contains(lines, l => l.StartsWith("video serve: gRPC", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_NoHttp1Port_SaysThereIsNoPage()
    {
        await RunUntilPageLineAsync(webRoot: null, ["--metrics-port", "-1"], line =>
        {
            Assert.Equal("video serve: no browser page: it needs the HTTP/1.1 port, which --metrics-port -1 turned off", line);
            return Task.CompletedTask;
        });
    }

    /// <summary>Runs the host's <c>serve</c> (no models: the page does not need them) until it prints its page line.</summary>
    private static async Task<List<string>> RunUntilPageLineAsync(string? webRoot, string[] extra, Func<string, Task> check)
    {
        using var models = new TempDir();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "video.dll"), "serve", "--port", "0", "--device", "cpu", "--models", models.Path }.Concat(extra))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["VIDEO_WEB_ROOT"] = webRoot ?? models.Path;
        using var server = Process.Start(psi)!;
        _ = server.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        try
        {
            while (await server.StandardOutput.ReadLineAsync().WaitAsync(PageServer.Timeout) is { } line)
            {
                lines.Add(line);
                if (line.Contains("browser page", StringComparison.Ordinal))
                {
                    await check(line);
                    return lines;
                }
            }

            Assert.Fail($"video serve ended without a page line: {string.Join(" | ", lines)}");
            return lines;
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync().WaitAsync(PageServer.Timeout);
        }
    }

    [GeneratedRegex(@"browser page on (http://\S+/) ")]
    private static partial Regex PageUrl();
}
