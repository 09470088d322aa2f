using SharpFuzz;
using Video.Capture;
using Video.Inference;

namespace Video.Fuzz;

/// <summary>
/// SharpFuzz targets for the parsers that take outside bytes (issue 18, item 7), run under AFL++ by
/// <c>tests/fuzz/run.sh TARGET</c>: <c>image-header</c> (<see cref="ImageHeader"/>, which reads every PNG/JPEG
/// before OpenCV does, over gRPC and in the CLI) and <c>manifest</c> (<see cref="ModelManifest.Load"/>).
/// </summary>
/// <remarks>
/// Each target lets through only the exceptions its callers turn into one-line errors; anything else escapes and
/// AFL++ records the input as a crash.
/// </remarks>
internal static class Program
{
    public static int Main(string[] args)
    {
        string target = args.Length > 0 ? args[0] : string.Empty;
        Action<Stream>? run = target switch
        {
            "image-header" => ImageHeaderTarget,
            "manifest" => ManifestTarget,
            _ => null,
        };
        if (run is null)
        {
            Console.Error.WriteLine("usage: Video.Fuzz image-header|manifest [FILE]  (input on stdin under AFL++, or FILE to replay one)");
            return 2;
        }

        if (args.Length > 1)
        {
            using var file = File.OpenRead(args[1]);
            run(file);
            return 0;
        }

        Fuzzer.OutOfProcess.Run(run);
        return 0;
    }

    private static void ImageHeaderTarget(Stream input)
    {
        using var buffer = new MemoryStream();
        input.CopyTo(buffer);
        var data = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (ImageHeader.ReadSize(data) is var (w, h) && (w < 0 || h < 0))
        {
            throw new InvalidOperationException($"negative size {w}x{h}");
        }

        _ = ImageHeader.Truncation(data);
    }

    private static readonly string ManifestPath = Path.Combine(Path.GetTempPath(), $"video-fuzz-{Environment.ProcessId}.json");

    private static void ManifestTarget(Stream input)
    {
        using (var file = File.Create(ManifestPath))
        {
            input.CopyTo(file);
        }

        try
        {
            _ = ModelManifest.Load(ManifestPath);
        }
        catch (ModelException)
        {
            // A malformed manifest is a one-line error for the user: expected.
        }
    }
}
