using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Video.Streaming.Grpc.Internal;

/// <summary>
/// Gives the free pages of the C heap back to the system every <see cref="StreamingOptions.NativeHeapTrimInterval"/>
/// (glibc's <c>malloc_trim(0)</c>; where there is no glibc it does nothing).
/// </summary>
/// <remarks>
/// Why: server sessions run without ONNX Runtime's arena (<c>StylizerOptions.ReleaseRunMemory</c>), so every run
/// mallocs its working memory and frees it. glibc gives freed memory back to the system only from the top of a heap;
/// what is freed below stays resident, and with each new model and frame size more of it piles up, so RSS climbs with
/// no end in sight (measured in docs/reliability.md, item 8). <c>malloc_trim(0)</c> releases the free pages
/// anywhere in every arena. Its cost is a walk of the free lists; runs that need the pages again fault them back in.
/// Thread safe.
/// </remarks>
internal sealed partial class NativeHeapTrimmer : BackgroundService
{
    private readonly TimeSpan _interval;
    private long _trims;
    private bool _unavailable = !OperatingSystem.IsLinux();

    public NativeHeapTrimmer(IOptions<StreamingOptions> options)
    {
        _interval = options.Value.NativeHeapTrimInterval;
    }

    /// <summary>Trims done so far.</summary>
    public long Trims => Interlocked.Read(ref _trims);

    /// <summary>Releases the C heap's free pages now; false where that is not possible (no glibc) or nothing was released.</summary>
    public bool TrimNow()
    {
        if (_unavailable)
        {
            return false;
        }

        try
        {
            bool released = MallocTrim(0) != 0;
            Interlocked.Increment(ref _trims);
            return released;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true; // musl and other C libraries have no malloc_trim
            return false;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_interval <= TimeSpan.Zero || _unavailable)
        {
            return;
        }

        using var timer = new PeriodicTimer(_interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false) && !_unavailable)
            {
                TrimNow();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
