using Video.Tests.Shared;

namespace Video.Browser.Tests;

/// <summary>
/// The fake webcam's input: 5 s of a real shared clip as a 640×360 .y4m (Chromium plays it in a loop), made once per
/// test class and rate by ffmpeg as ../shared/docs/live-io-facts.md describes.
/// </summary>
public sealed class FakeCamera : IDisposable
{
    /// <summary>A clip with motion everywhere (a bird on a branch), so consecutive frames differ.</summary>
    private const string PreferredClip = "imageio_cockatoo.mp4";

    private readonly TempDir _dir = new();
    private readonly Dictionary<int, string> _made = [];

    /// <summary>The 20 fps .y4m path; skips (locally) or fails (CI) when ../shared/data is missing.</summary>
    public string Y4m => At(20);

    /// <summary>The clip at <paramref name="fps"/> frames per second (made on first use).</summary>
    public string At(int fps)
    {
        SharedData.Require();
        lock (_made)
        {
            if (!_made.TryGetValue(fps, out var y4m))
            {
                y4m = Make(fps);
                _made[fps] = y4m;
            }

            return y4m;
        }
    }

    public void Dispose() => _dir.Dispose();

    private string Make(int fps)
    {
        var videos = SharedData.Videos();
        string clip = videos.FirstOrDefault(v => Path.GetFileName(v) == PreferredClip) ?? videos[0];
        string y4m = _dir.File($"camera-{fps}.y4m");
        var result = ChildProcess.Run("ffmpeg", ["-v", "error", "-y", "-i", clip, "-t", "5", "-vf", $"scale=640:360,fps={fps}", "-pix_fmt", "yuv420p", "-an", y4m], TimeSpan.FromMinutes(2));
        Assert.True(result.ExitCode == 0 && File.Exists(y4m), $"ffmpeg could not make the fake camera clip from {clip}: {result.Stderr}");
        return y4m;
    }
}
