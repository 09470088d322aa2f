using OpenCvSharp;

namespace Video.Training.Tests;

/// <summary>Locates the repository, the shared data folder and makes small synthetic image folders.</summary>
internal static class TestData
{
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Video.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("Video.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public static string SharedData => TrainerCli.SharedDataDir();

    /// <summary><c>models/NAME.onnx</c> of this repository; the test is skipped when it is not shipped.</summary>
    public static string ShippedModel(string name)
    {
        var path = Path.Combine(RepoRoot, "models", name + ".onnx");
        Skip.IfNot(File.Exists(path), $"{path} is not shipped");
        return path;
    }

    /// <summary>
    /// A file from the shared data folder. Missing data fails the test when CI=true and skips it locally.
    /// </summary>
    public static string RequireShared(string relative)
    {
        var path = Path.Combine(SharedData, relative);
        if (!File.Exists(path))
        {
            var msg = $"shared data file missing: {path} (set VIDEO_SHARED_DATA)";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail(msg);
            }

            Skip.If(true, msg);
        }

        return path;
    }

    /// <summary>A fresh temporary folder of <paramref name="count"/> synthetic "photos" (smooth gradients, shapes, noise).</summary>
    public static string SyntheticFolder(int count, int width = 96, int height = 80, int seed = 1)
    {
        var dir = Directory.CreateTempSubdirectory("video-train-test-").FullName;
        var rng = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            using var m = new Mat(height, width, MatType.CV_8UC3);
            var c0 = new Vec3b((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
            var c1 = new Vec3b((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    double t = (double)x / width;
                    m.Set(y, x, new Vec3b(
                        (byte)((c0.Item0 * (1 - t)) + (c1.Item0 * t)),
                        (byte)((c0.Item1 * (1 - t)) + (c1.Item1 * t)),
                        (byte)((c0.Item2 * (1 - t)) + (c1.Item2 * t))));
                }
            }

            Cv2.Circle(m, new Point(rng.Next(width), rng.Next(height)), 10 + rng.Next(20), new Scalar(rng.Next(256), rng.Next(256), rng.Next(256)), -1);
            Cv2.ImWrite(Path.Combine(dir, $"img_{i:00}.png"), m);
        }

        return dir;
    }

    /// <summary>A synthetic "painting": diagonal coloured stripes.</summary>
    public static string SyntheticStyle(string dir)
    {
        using var m = new Mat(96, 96, MatType.CV_8UC3);
        for (int y = 0; y < 96; y++)
        {
            for (int x = 0; x < 96; x++)
            {
                bool band = ((x + y) / 6) % 2 == 0;
                m.Set(y, x, band ? new Vec3b(200, 60, 20) : new Vec3b(30, 200, 240));
            }
        }

        var path = Path.Combine(dir, "stripes.png");
        Cv2.ImWrite(path, m);
        return path;
    }
}
