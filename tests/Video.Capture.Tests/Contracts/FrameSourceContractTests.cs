using Video.Capture;
using Video.Tests.Shared;

namespace Video.Capture.Tests.Contracts;

public sealed class FfmpegVideoSourceContractTests : FrameSourceContract
{
    protected override async Task<IFrameSource> OpenAsync(TempDir dir) =>
        await FfmpegVideoSource.OpenAsync(Media.Generate(dir.File("in.mp4"), Width, Height, "25", Frames / 25.0, audio: false));
}

public sealed class ImageSequenceSourceContractTests : FrameSourceContract
{
    protected override Task<IFrameSource> OpenAsync(TempDir dir)
    {
        Directory.CreateDirectory(dir.File("frames"));
        for (int i = 0; i < Frames; i++)
        {
            using var frame = Allocator.AllocateFrame(Width, Height);
            frame.Pixels.Fill((byte)(i * 30));
            FrameMats.SaveRgb(frame, dir.File($"frames/{i:D3}.png"));
        }

        return Task.FromResult<IFrameSource>(ImageSequenceSource.Open(dir.File("frames"), new Rational(10, 1)));
    }
}

public sealed class SyntheticSourceContractTests : FrameSourceContract
{
    protected override Task<IFrameSource> OpenAsync(TempDir dir) => Task.FromResult<IFrameSource>(new SyntheticSource(Width, Height, Frames));
}
