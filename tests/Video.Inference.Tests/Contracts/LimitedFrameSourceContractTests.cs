using Video.Capture;
using Video.Inference.Internal;
using Video.Tests.Shared;

namespace Video.Inference.Tests.Contracts;

/// <summary>The frame limit a job puts on its input is a source like any other.</summary>
public sealed class LimitedFrameSourceContractTests : FrameSourceContract
{
    protected override Task<IFrameSource> OpenAsync(TempDir dir) =>
        Task.FromResult<IFrameSource>(new LimitedFrameSource(new SyntheticSource(Width, Height, Frames * 3), Frames));
}
