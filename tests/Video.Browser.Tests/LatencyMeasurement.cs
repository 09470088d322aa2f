using System.Globalization;
using System.Text.Json;
using Xunit.Abstractions;

namespace Video.Browser.Tests;

/// <summary>
/// The page's capture-to-display latency and frame rate per model, for <c>docs/live.md</c>. Not part of a normal run:
/// it runs only with <c>VIDEO_BROWSER_MEASURE=SECONDS</c> (per row) and prints one markdown row per model and
/// number of frames in flight (2, the page's default, and 1); <c>VIDEO_BROWSER_MEASURE_OUT=FILE</c> also writes the table there.
/// </summary>
public sealed class LatencyMeasurement(FakeCamera camera, ITestOutputHelper output) : IClassFixture<FakeCamera>
{
    [SkippableFact]
    public async Task Measure_ToonAndStarryNight_PrintsLatencyRows()
    {
        Skip.If(Environment.GetEnvironmentVariable("VIDEO_BROWSER_MEASURE") is not { Length: > 0 }, "a measurement: set VIDEO_BROWSER_MEASURE=SECONDS to run it");
        int seconds = int.Parse(Environment.GetEnvironmentVariable("VIDEO_BROWSER_MEASURE")!, CultureInfo.InvariantCulture);
        string y4m = camera.At(30);
        await using var server = await PageServer.StartAsync(PageServer.RequireBuiltPage());
        var rows = new List<string>
        {
            "| model | frames in flight | fps (average) | p50 ms | p95 ms | p99 ms | samples | encode ms (p50) | server ms (p50) | camera frames skipped | server drops |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        };
        foreach (int inFlight in new[] { 2, 1 })
        {
            await using var browser = await ChromiumPage.OpenAsync($"{server.Server.PageAddress!}?inflight={inFlight}", y4m);
            await browser.WaitForAsync("window.videoStats.framesDrawn >= 3", "3 stylized frames");
            foreach (string model in new[] { "toon", "starry-night" })
            {
                await browser.Page.SelectOptionAsync("#model", model);
                await browser.WaitForAsync($"window.videoStats.model === '{model}'", $"a frame from {model}");
                await Task.Delay(TimeSpan.FromSeconds(5)); // warm-up, not a sync point: nothing is asserted on time
                await browser.Page.EvaluateAsync("() => window.videoStatsReset()");
                int droppedBefore = await browser.Page.EvaluateAsync<int>("() => window.videoStats.serverDropped");
                await Task.Delay(TimeSpan.FromSeconds(seconds));
                using var stats = JsonDocument.Parse(await browser.Page.EvaluateAsync<string>("() => JSON.stringify(window.videoStats)"));
                var s = stats.RootElement;
                var l = s.GetProperty("latency");
                Assert.True(l.GetProperty("count").GetInt32() > 0, $"no frame drawn from {model}");
                rows.Add(string.Create(CultureInfo.InvariantCulture,
                    $"| {model} | {inFlight} | {s.GetProperty("averageFps").GetDouble():0.0} | {l.GetProperty("p50").GetDouble():0} | {l.GetProperty("p95").GetDouble():0} | {l.GetProperty("p99").GetDouble():0} | {l.GetProperty("count").GetInt32()} | {s.GetProperty("encodeMs").GetDouble():0.0} | {s.GetProperty("serverMs").GetDouble():0} | {s.GetProperty("skipped").GetInt32()} | {s.GetProperty("serverDropped").GetInt32() - droppedBefore} |"));
            }
        }

        string table = string.Join('\n', rows);
        output.WriteLine(table);
        if (Environment.GetEnvironmentVariable("VIDEO_BROWSER_MEASURE_OUT") is { Length: > 0 } file)
        {
            await File.WriteAllTextAsync(file, table + "\n");
        }
    }
}
