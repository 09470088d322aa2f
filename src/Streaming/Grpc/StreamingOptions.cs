using Video.Inference;

namespace Video.Streaming.Grpc;

/// <summary>Settings of the gRPC stylization server: models, limits and security.</summary>
/// <remarks>Bound from the <c>Streaming</c> configuration section and command-line flags; validated at start.</remarks>
internal sealed class StreamingOptions
{
    public const string SectionName = "Streaming";

    /// <summary>Models directory; null resolves as <see cref="ModelCatalog.ResolveDirectory"/> does.</summary>
    public string? ModelsDirectory { get; set; }

    public Device Device { get; set; } = Device.Auto;

    /// <summary>Model used when a config names none; null = <c>toon</c> when installed, else the first model.</summary>
    public string? DefaultModel { get; set; }

    /// <summary>Accepted API keys (<c>authorization: Bearer KEY</c>). Empty = no authentication.</summary>
    public List<string> ApiKeys { get; set; } = [];

    /// <summary>Failed API key attempts allowed from one remote address per <see cref="AuthFailureWindow"/>; beyond them the address is refused until the window ends.</summary>
    public int AuthFailureLimit { get; set; } = 10;

    /// <summary>The window over which <see cref="AuthFailureLimit"/> counts failed attempts.</summary>
    public TimeSpan AuthFailureWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Largest request message in bytes (a frame plus its envelope): 32 MiB holds a raw RGB24 frame at the default 3840x2160 limit.</summary>
    public int MaxMessageBytes { get; set; } = 32 * 1024 * 1024;

    public int MaxFrameWidth { get; set; } = 3840;

    public int MaxFrameHeight { get; set; } = 2160;

    /// <summary>Open <c>StylizeStream</c> calls allowed on the server.</summary>
    public int MaxStreams { get; set; } = 16;

    /// <summary>Open <c>StylizeStream</c> calls allowed per client (remote IP address).</summary>
    public int MaxStreamsPerClient { get; set; } = 4;

    /// <summary>A stream that sends nothing for this long is closed with DeadlineExceeded.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A reply the client does not take for this long (its HTTP/2 window stays full) ends the stream: the call is
    /// aborted and its slot freed, so a client that stops reading cannot hold a slot (issue 18, case 1).
    /// </summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Queue length under <c>POLICY_LATEST</c> when the config asks for none: one waiting frame, so a live
    /// frame waits at most for the one being stylized (latency ≈ inference + transport, not a queue's worth).
    /// </summary>
    public int DefaultQueueCapacity { get; set; } = 1;

    /// <summary>Frames buffered between reading and inference under <c>POLICY_ALL</c>.</summary>
    public int LosslessQueueCapacity { get; set; } = 4;

    /// <summary>
    /// Most frame pixels (at the model's tensor size) in large model runs at once; a run waits until its pixels fit,
    /// and runs under an eighth of this go by without waiting. ONNX Runtime's working memory per run grows with its
    /// pixels; the memory budget counts it (<see cref="RunBytesPerPixel"/>), and this keeps the large runs from crowding
    /// each other. Null: one frame of
    /// <see cref="MaxFrameWidth"/>×<see cref="MaxFrameHeight"/>.
    /// </summary>
    public long? RunPixels { get; set; }

    /// <summary>
    /// ONNX Runtime working memory reserved in the memory budget per pixel of a run (at the tensor size) while it runs
    /// (<see cref="ModelHost.EnterRunAsync"/>). Measured on the shipped models at 3840×2160 (the anonymous mappings
    /// of at least 1 MiB in the server's smaps during one run): 83–110 bytes per pixel, toon 148 (docs/reliability.md,
    /// item 8), so the default covers all of them.
    /// </summary>
    public int RunBytesPerPixel { get; set; } = 160;

    /// <summary>
    /// How often the C heap's free pages are given back to the system (glibc <c>malloc_trim</c>); zero turns it off.
    /// ONNX Runtime's per-run memory is freed into that heap, which otherwise keeps it resident.
    /// </summary>
    public TimeSpan NativeHeapTrimInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Registered AdaIN styles kept (least recently used are evicted).</summary>
    public int StyleCacheCapacity { get; set; } = 64;

    /// <summary>
    /// Largest number of frames from different streams run as one ONNX Runtime call (same model, tensor size,
    /// style and α); 1 runs every frame on its own (no batching). See docs/grpc.md, "Batching across streams".
    /// </summary>
    public int BatchMax { get; set; } = 1;

    /// <summary>How long the first frame of a batch may wait for frames of other streams (when not all are there yet).</summary>
    public TimeSpan BatchDelay { get; set; } = TimeSpan.FromMilliseconds(8);

    /// <summary>ONNX Runtime intra-op threads per model; 0 lets the runtime choose.</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        static void Check(bool ok, string what)
        {
            if (!ok)
            {
                throw new ArgumentException(what);
            }
        }

        Check(MaxMessageBytes >= 1024, $"max message size {MaxMessageBytes} bytes is below 1 KiB");
        Check(MaxFrameWidth is > 0 and <= 16384 && MaxFrameHeight is > 0 and <= 16384, $"max frame size {MaxFrameWidth}x{MaxFrameHeight} is out of range (1..16384)");
        Check(MaxStreams >= 1, $"max streams {MaxStreams} must be at least 1");
        Check(MaxStreamsPerClient >= 1, $"max streams per client {MaxStreamsPerClient} must be at least 1");
        Check(IdleTimeout > TimeSpan.Zero, $"idle timeout {IdleTimeout} must be positive");
        Check(WriteTimeout > TimeSpan.Zero, $"write timeout {WriteTimeout} must be positive");
        Check(DefaultQueueCapacity is >= 1 and <= 8, $"queue capacity {DefaultQueueCapacity} is out of range (1..8)");
        Check(LosslessQueueCapacity is >= 1 and <= 64, $"lossless queue capacity {LosslessQueueCapacity} is out of range (1..64)");
        Check(BatchMax is >= 1 and <= 64, $"batch max {BatchMax} is out of range (1..64)");
        Check(BatchDelay >= TimeSpan.Zero && BatchDelay <= TimeSpan.FromSeconds(1), $"batch delay {BatchDelay.TotalMilliseconds} ms is out of range (0..1000 ms)");
        Check(RunPixels is null or >= 1, $"run pixels {RunPixels} must be at least 1");
        Check(RunBytesPerPixel is >= 0 and <= 4096, $"run bytes per pixel {RunBytesPerPixel} is out of range (0..4096)");
        Check(NativeHeapTrimInterval >= TimeSpan.Zero, $"native heap trim interval {NativeHeapTrimInterval} must not be negative");
        Check(StyleCacheCapacity >= 1, $"style cache capacity {StyleCacheCapacity} must be at least 1");
        Check(AuthFailureLimit >= 1, $"auth failure limit {AuthFailureLimit} must be at least 1");
        Check(AuthFailureWindow > TimeSpan.Zero, $"auth failure window {AuthFailureWindow} must be positive");
        Check(ApiKeys.All(k => !string.IsNullOrWhiteSpace(k)), "an API key is empty");
    }
}
