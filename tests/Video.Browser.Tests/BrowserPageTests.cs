using System.Net;
using System.Text.Json;

namespace Video.Browser.Tests;

/// <summary>
/// The page served by <c>video serve</c> at <c>/</c>, end to end: Chromium with a fake webcam playing a real clip,
/// gRPC-Web to a real server on 127.0.0.1, the shipped models.
/// </summary>
public sealed class BrowserPageTests(FakeCamera camera) : IClassFixture<FakeCamera>
{
    [SkippableFact]
    public async Task Page_FakeWebcam_ShowsStylizedFramesThatChangeAndMeasuresLatency()
    {
        string y4m = camera.Y4m;
        await using var server = await PageServer.StartAsync(PageServer.RequireBuiltPage());
        await using var browser = await ChromiumPage.OpenAsync(server.Server.PageAddress!, y4m);

        await browser.WaitForAsync("window.videoStats.framesDrawn >= 10", "10 stylized frames");
        Assert.Equal("toon", await browser.Page.EvaluateAsync<string>("() => window.videoStats.model"));

        // Stylized: the output is not the camera frame; and it follows the camera: it changes over time.
        await browser.SnapAsync("input", "in1");
        await browser.SnapAsync("output", "out1");
        Assert.True(await browser.MeanAsync("out1") > 10, "the output canvas is black");
        double styled = await browser.DifferenceAsync("in1", "out1");
        await browser.WaitForMoreFramesAsync(10);
        await browser.SnapAsync("output", "out2");
        double moved = await browser.DifferenceAsync("out1", "out2");
        Assert.True(styled > 8, $"output differs from input by only {styled:0.00} of 255");
        Assert.True(moved > 0.5, $"the output did not change over 10 frames ({moved:0.00} of 255)");

        // Latency and rate as the page reports them: positive, ordered, bounded.
        await browser.WaitForAsync("window.videoStats.latency.count >= 30", "30 latency samples");
        using var stats = JsonDocument.Parse(await browser.Page.EvaluateAsync<string>("() => JSON.stringify(window.videoStats)"));
        var latency = stats.RootElement.GetProperty("latency");
        double p50 = latency.GetProperty("p50").GetDouble(), p95 = latency.GetProperty("p95").GetDouble(), p99 = latency.GetProperty("p99").GetDouble();
        Assert.True(p50 > 0 && p50 <= p95 && p95 <= p99, $"latency p50 {p50} p95 {p95} p99 {p99}");
        Assert.True(p99 < 10_000, $"latency p99 {p99} ms is not bounded by 10 s");
        Assert.True(stats.RootElement.GetProperty("fps").GetDouble() > 0, "fps is 0");
        Assert.Equal(string.Empty, stats.RootElement.GetProperty("error").GetString());

        string shot = Environment.GetEnvironmentVariable("VIDEO_BROWSER_SCREENSHOT") is { Length: > 0 } wanted ? wanted : Path.Combine(Path.GetTempPath(), "video-browser.png");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(shot))!);
        await browser.Page.ScreenshotAsync(new() { Path = shot });
        Assert.True(new FileInfo(shot).Length > 10_000, "the screenshot is empty");
    }

    [SkippableFact]
    public async Task Page_ModelSwitched_OutputChangesForTheSameFrame()
    {
        string y4m = camera.Y4m;
        await using var server = await PageServer.StartAsync(PageServer.RequireBuiltPage());
        await using var browser = await ChromiumPage.OpenAsync(server.Server.PageAddress!, y4m);
        await browser.WaitForAsync("window.videoStats.framesDrawn >= 3", "3 stylized frames");

        // Hold one camera frame, so the only change left is the model's.
        await browser.Page.CheckAsync("#hold");
        await browser.WaitForMoreFramesAsync(4);
        await browser.SnapAsync("output", "toon1");
        await browser.WaitForMoreFramesAsync(2);
        await browser.SnapAsync("output", "toon2");

        await browser.Page.SelectOptionAsync("#model", "starry-night");
        await browser.WaitForAsync("window.videoStats.model === 'starry-night'", "a frame from starry-night");
        await browser.WaitForMoreFramesAsync(2);
        await browser.SnapAsync("output", "starry");

        double same = await browser.DifferenceAsync("toon1", "toon2");
        double switched = await browser.DifferenceAsync("toon1", "starry");
        Assert.True(same < 1.5, $"the held frame stylized twice by toon differs by {same:0.00} of 255");
        Assert.True(switched > 8 && switched > 5 * same, $"switching to starry-night changed the output by only {switched:0.00} of 255 (toon vs itself: {same:0.00})");
    }

    [SkippableFact]
    public async Task Page_AdainStyleStrengthAndTemporal_ApplyWithoutReload()
    {
        string y4m = camera.Y4m;
        string styleImage = Directory.EnumerateFiles(Path.Combine(Video.Tests.Shared.SharedData.Require(), "style"), "*.jpg").Order(StringComparer.Ordinal).First();
        await using var server = await PageServer.StartAsync(PageServer.RequireBuiltPage());
        await using var browser = await ChromiumPage.OpenAsync(server.Server.PageAddress!, y4m);
        await browser.WaitForAsync("window.videoStats.framesDrawn >= 3", "3 stylized frames");
        await browser.Page.CheckAsync("#hold");

        // AdaIN with the first preset style (registered by the page), full strength.
        await browser.Page.SelectOptionAsync("#model", "adain");
        await browser.WaitForAsync("window.videoStats.model === 'adain'", "a frame from adain");
        Assert.True(await browser.Page.IsVisibleAsync("#alpha"), "the strength slider is hidden for an AdaIN model");
        await browser.WaitForMoreFramesAsync(3);
        await browser.SnapAsync("output", "full");

        // Strength 0.2: the output moves toward the content.
        int version = await ConfigVersionAsync(browser);
        await browser.Page.EvalOnSelectorAsync("#alpha", "el => { el.value = '0.2'; el.dispatchEvent(new Event('change')); }");
        await browser.WaitForAsync($"window.videoStats.configVersion > {version}", "the strength config applied");

        // Up to two frames stylized under the old config can still be on their way: wait past them.
        await browser.WaitForMoreFramesAsync(4);
        await browser.SnapAsync("output", "weak");

        // An uploaded style image (a shared one): registered, selected and applied.
        version = await ConfigVersionAsync(browser);
        await browser.Page.SetInputFilesAsync("#style-file", styleImage);
        await browser.WaitForAsync($"window.videoStats.configVersion > {version}", "the uploaded style applied");
        Assert.Equal(Path.GetFileName(styleImage), await browser.Page.EvalOnSelectorAsync<string>("#style", "el => el.selectedOptions[0].textContent"));
        await browser.WaitForMoreFramesAsync(4);
        await browser.SnapAsync("output", "uploaded");

        // The temporal toggle applies as a config too, and frames keep coming.
        version = await ConfigVersionAsync(browser);
        await browser.Page.CheckAsync("#temporal");
        await browser.WaitForAsync($"window.videoStats.configVersion > {version}", "the temporal config applied");
        await browser.WaitForMoreFramesAsync(3);

        double strength = await browser.DifferenceAsync("full", "weak");
        double style = await browser.DifferenceAsync("weak", "uploaded");
        Assert.True(strength > 3, $"strength 1 → 0.2 changed the output by only {strength:0.00} of 255");
        Assert.True(style > 3, $"the uploaded style changed the output by only {style:0.00} of 255");
        Assert.Equal(string.Empty, await browser.Page.EvaluateAsync<string>("() => window.videoStats.error"));
    }

    [SkippableFact]
    public async Task Page_ServerWithApiKey_StreamsOnceTheKeyIsEntered()
    {
        string y4m = camera.Y4m;
        await using var server = await PageServer.StartAsync(PageServer.RequireBuiltPage(), o => o.ApiKeys = ["browser-key"]);
        await using var browser = await ChromiumPage.OpenAsync(server.Server.PageAddress!, y4m);

        await browser.WaitForAsync("document.getElementById('status').textContent.includes('API key')", "the page to ask for the API key");
        Assert.Equal(0, await browser.FramesDrawnAsync());

        await browser.Page.FillAsync("#api-key", "browser-key");
        await browser.Page.Locator("#api-key").DispatchEventAsync("change");
        await browser.WaitForAsync("window.videoStats.framesDrawn >= 3", "3 stylized frames with the key");
    }

    [Fact]
    public async Task Root_PageNotBuilt_AnswersHowToBuildIt()
    {
        using var empty = new Video.Tests.Shared.TempDir();
        await using var server = await PageServer.StartAsync(empty.Path);
        Assert.Null(server.Server.WebRoot);

        using var http = new HttpClient();
        using var response = await http.GetAsync(server.Server.PageAddress!).WaitAsync(PageServer.Timeout);
        string body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("npm run build", body, StringComparison.Ordinal);
        Assert.Single(body.TrimEnd('\n').Split('\n'));
    }

    private static Task<int> ConfigVersionAsync(ChromiumPage browser) => browser.Page.EvaluateAsync<int>("() => window.videoStats.configVersion");
}
