using Microsoft.Playwright;
using Video.Tests.Shared;

namespace Video.Browser.Tests;

/// <summary>
/// Debian's Chromium driven by Playwright (never a downloaded browser), with a fake webcam that plays a real clip:
/// the page's <c>getUserMedia</c> gets the clip's frames. Helpers read the page's canvases and <c>window.videoStats</c>.
/// </summary>
internal sealed class ChromiumPage : IAsyncDisposable
{
    private readonly IPlaywright _playwright;
    private readonly IBrowserContext _context;
    private readonly TempDir _profile;

    private ChromiumPage(IPlaywright playwright, IBrowserContext context, TempDir profile, IPage page)
    {
        _playwright = playwright;
        _context = context;
        _profile = profile;
        Page = page;
    }

    public IPage Page { get; }

    /// <summary>Messages the page logged to its console (errors help when a wait times out).</summary>
    public List<string> Console { get; } = [];

    /// <summary>
    /// Opens <paramref name="url"/> in a fresh profile with <paramref name="fakeCamera"/> (a .y4m) as the webcam;
    /// <paramref name="acceptSelfSigned"/> accepts the test's self-signed TLS certificate.
    /// </summary>
    public static async Task<ChromiumPage> OpenAsync(string url, string fakeCamera, bool acceptSelfSigned = false)
    {
        const string chromium = "/usr/bin/chromium";
        if (!File.Exists(chromium))
        {
            const string why = "Chromium is not installed at /usr/bin/chromium (./video test installs it)";
            Assert.False(string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase), why);
            Skip.If(true, why);
        }

        var playwright = await Playwright.CreateAsync();
        var profile = new TempDir();
        try
        {
            // The flags of ../shared/docs/live-io-facts.md; the profile is Playwright's userDataDir (a fresh folder).
            var context = await playwright.Chromium.LaunchPersistentContextAsync(profile.Path, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = chromium,
                Headless = true,
                IgnoreHTTPSErrors = acceptSelfSigned,
                ViewportSize = new ViewportSize { Width = 1340, Height = 600 },
                Args =
                [
                    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-proxy-server",
                    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", $"--use-file-for-fake-video-capture={fakeCamera}",
                ],
            });
            var page = context.Pages.Count > 0 ? context.Pages[0] : await context.NewPageAsync();
            var opened = new ChromiumPage(playwright, context, profile, page);
            page.Console += (_, m) => opened.Console.Add($"{m.Type}: {m.Text}");
            page.PageError += (_, e) => opened.Console.Add($"page error: {e}");
            await page.GotoAsync(url, new PageGotoOptions { Timeout = (float)PageServer.Timeout.TotalMilliseconds });
            return opened;
        }
        catch
        {
            playwright.Dispose();
            profile.Dispose();
            throw;
        }
    }

    /// <summary>Waits until the JavaScript <paramref name="condition"/> holds, failing with the page's state after the timeout.</summary>
    public async Task WaitForAsync(string condition, string what)
    {
        try
        {
            await Page.WaitForFunctionAsync($"() => {condition}", null, new PageWaitForFunctionOptions { Timeout = (float)PageServer.Timeout.TotalMilliseconds, PollingInterval = 50 });
        }
        catch (TimeoutException)
        {
            string status = await Page.InnerTextAsync("#status");
            string stats = await Page.EvaluateAsync<string>("() => JSON.stringify(window.videoStats)");
            Assert.Fail($"timed out waiting for {what}; status '{status}', stats {stats}, console: {string.Join(" | ", Console.TakeLast(10))}");
        }
    }

    /// <summary>Frames drawn so far.</summary>
    public Task<int> FramesDrawnAsync() => Page.EvaluateAsync<int>("() => window.videoStats.framesDrawn");

    /// <summary>Waits until <paramref name="more"/> frames beyond those drawn now have been drawn.</summary>
    public async Task WaitForMoreFramesAsync(int more)
    {
        int target = await FramesDrawnAsync() + more;
        await WaitForAsync($"window.videoStats.framesDrawn >= {target}", $"{target} frames drawn");
    }

    /// <summary>Copies a canvas's pixels into the page under <paramref name="name"/>.</summary>
    public Task SnapAsync(string canvasId, string name) => Page.EvaluateAsync(
        "([id, name]) => { (window.snaps ??= {})[name] = document.getElementById(id).getContext('2d').getImageData(0, 0, 640, 360).data; }",
        new[] { canvasId, name });

    /// <summary>Mean absolute difference (0..255) over the RGB channels of two snapshots.</summary>
    public Task<double> DifferenceAsync(string a, string b) => Page.EvaluateAsync<double>(
        "([a, b]) => { const x = window.snaps[a], y = window.snaps[b]; let s = 0, n = 0;"
        + " for (let i = 0; i < x.length; i += 4) { s += Math.abs(x[i] - y[i]) + Math.abs(x[i + 1] - y[i + 1]) + Math.abs(x[i + 2] - y[i + 2]); n += 3; }"
        + " return s / n; }",
        new[] { a, b });

    /// <summary>Mean RGB value (0..255) of a snapshot: a black or empty canvas is near 0.</summary>
    public Task<double> MeanAsync(string name) => Page.EvaluateAsync<double>(
        "name => { const x = window.snaps[name]; let s = 0, n = 0; for (let i = 0; i < x.length; i += 4) { s += x[i] + x[i + 1] + x[i + 2]; n += 3; } return s / n; }",
        name);

    public async ValueTask DisposeAsync()
    {
        await _context.CloseAsync();
        _playwright.Dispose();
        _profile.Dispose();
    }
}
