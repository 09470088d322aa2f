using Video.Capture;
using Video.Tests.Shared;

namespace Video.Capture.Tests.Contracts;

public sealed class FfmpegVideoSinkToVideoContractTests : FrameSinkContract
{
    protected override string OutputPath(TempDir dir) => dir.File("out/clip.mp4");

    protected override IFrameSink Create(string outputPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(outputPath)!);
        return FfmpegVideoSink.Create(outputPath, Width, Height, new Rational(25, 1), null);
    }

    protected override long CountFrames(string outputPath) => Media.Probe(outputPath).Frames;
}

public sealed class FfmpegVideoSinkToImageSequenceContractTests : FrameSinkContract
{
    protected override string OutputPath(TempDir dir) => dir.File("out/frames") + "/";

    protected override IFrameSink Create(string outputPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(outputPath))!);
        return FfmpegVideoSink.Create(outputPath, Width, Height, new Rational(25, 1), null);
    }

    protected override long CountFrames(string outputPath) => Directory.GetFiles(outputPath, "*.png").Length;
}
