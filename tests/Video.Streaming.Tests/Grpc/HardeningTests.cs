using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Video.Capture;
using Video.Streaming.Grpc;
using Video.Streaming.Grpc.Internal;
using Video.Streaming.Protos.V1;

namespace Video.Streaming.Tests.Grpc;

/// <summary>Issue 18: what a careless or hostile client does to the server, each case with the fix's regression test.</summary>
[Collection(GrpcCollection.Name)]
public sealed class HardeningTests
{
    private static readonly TimeSpan T = GrpcTestServer.Timeout;

    [Fact]
    public async Task StylizeStream_ClientNeverReadsReplies_StreamAbortedAndSlotFreed()
    {
        // One slot on the whole server: a stalled stream that kept it would lock every other client out.
        await using var server = await GrpcTestServer.StartAsync(o =>
        {
            o.MaxStreams = 1;
            o.WriteTimeout = TimeSpan.FromSeconds(1);
        });

        // 320x240 RGB24 replies are 230 KB each, far more than the client's 64 KiB HTTP/2 stream window, so the
        // server's first reply write stalls while this client sends and never reads.
        using var stalled = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity", Policy = Policy.All }).WaitAsync(T);
        var image = GrpcTestServer.Pattern(320, 240, 1);
        var sender = Task.Run(async () =>
        {
            try
            {
                for (ulong i = 0; i < 200; i++)
                {
                    await stalled.SendImageAsync(image, (long)i, i).WaitAsync(T);
                }
            }
            catch (Exception e) when (e is RpcException or IOException)
            {
                // The server aborts the call (an HTTP/2 reset): sending fails from then on.
            }
        });

        await GrpcTestServer.EventuallyAsync(() => server.Metrics.StreamsStalled == 1, "the stalled stream to be aborted");
        await GrpcTestServer.EventuallyAsync(() => server.Metrics.ActiveStreams == 0, "the stalled stream's slot to be freed");
        await sender.WaitAsync(T);

        // The slot is usable again by a client that reads.
        using var next = await server.NewClient(null).OpenStreamAsync(new SessionConfig { Model = "identity" }).WaitAsync(T);
        Assert.Equal(StreamResponse.KindOneofCase.ConfigApplied, (await GrpcTestServer.NextAsync(next)).KindCase);
        await next.SendImageAsync(GrpcTestServer.Pattern(32, 32, 0), 0, 0).WaitAsync(T);
        Assert.Equal(StreamResponse.KindOneofCase.Frame, (await GrpcTestServer.NextAsync(next)).KindCase);
        await next.CompleteAsync().WaitAsync(T);
        await GrpcTestServer.ReadAllAsync(next);
    }

    [Fact]
    public async Task StylizeImage_WrongKeyWithLargeBody_UnauthenticatedWithoutReadingTheBody()
    {
        await using var server = await GrpcTestServer.StartAsync(o => o.ApiKeys = ["right-key"], apiKey: "right-key");
        using var http = new HttpClient(new SocketsHttpHandler()) { Timeout = T };

        // A 24 MiB StylizeImage request (a 4K RGB24 frame's worth) with the wrong key. HTTP/2 flow control lets the
        // client send only what the server's windows allow (about 1 MiB) unless the server reads the body.
        var body = new CountingGrpcBody(24 << 20);
        using var request = new HttpRequestMessage(HttpMethod.Post, server.Address.TrimEnd('/') + "/video.stylize.v1.VideoStylizer/StylizeImage")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = body,
        };
        request.Headers.TryAddWithoutValidation("authorization", "Bearer wrong-key");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(T);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("16", Assert.Single(response.Headers.GetValues("grpc-status")));
        Assert.Contains("not valid", Uri.UnescapeDataString(Assert.Single(response.Headers.GetValues("grpc-message"))), StringComparison.Ordinal);
        Assert.True(body.Sent < 8 << 20, $"the client sent {body.Sent} of {24 << 20} bytes: the server read the body of an unauthenticated call");
        Assert.Equal(1, server.Metrics.AuthFailures);
    }

    [Fact]
    public async Task Calls_RepeatedWrongKeys_RateLimitedPerAddress()
    {
        await using var server = await GrpcTestServer.StartAsync(o =>
        {
            o.ApiKeys = ["right-key"];
            o.AuthFailureLimit = 3;
            o.AuthFailureWindow = TimeSpan.FromMinutes(5);
        }, apiKey: "right-key");
        Assert.NotEmpty((await server.Client.ListModelsAsync().WaitAsync(T)).Models);

        using var guesser = server.NewClient("guess");
        for (int i = 0; i < 3; i++)
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => guesser.ListModelsAsync().WaitAsync(T));
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        }

        // The fourth attempt, and then any call from the address (a right key too), is refused until the window ends.
        foreach (var client in new[] { guesser, server.Client })
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => client.ListModelsAsync().WaitAsync(T));
            Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
            Assert.Contains("too many failed API key attempts from 127.0.0.1 (3 in 300 s)", e.Status.Detail, StringComparison.Ordinal);
        }

        Assert.Equal(5, server.Metrics.AuthFailures);
    }

    [Fact]
    public void ApiKeyMatch_DifferentLengthsAndNearMisses_OnlyExactKeysMatch()
    {
        byte[][] keys = [.. new[] { "secret-1", "a-much-longer-second-key" }.Select(k => System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(k)))];
        Assert.True(Streaming.Grpc.Internal.ApiKeyGate.Matches("secret-1", keys));
        Assert.True(Streaming.Grpc.Internal.ApiKeyGate.Matches("a-much-longer-second-key", keys));
        foreach (var wrong in new[] { "secret-2", "secret-", "secret-11", string.Empty, "a-much-longer-second-kex" })
        {
            Assert.False(Streaming.Grpc.Internal.ApiKeyGate.Matches(wrong, keys), wrong);
        }
    }

    /// <summary>A gRPC-framed request body of <c>length</c> zero bytes, produced as the transport pulls it, counting what was sent.</summary>
    private sealed class CountingGrpcBody : HttpContent
    {
        private readonly int _length;
        private long _sent;

        public CountingGrpcBody(int length)
        {
            _length = length;
            Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        }

        public long Sent => Interlocked.Read(ref _sent);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            int length = _length;
            byte[] prefix = [0, (byte)(length >> 24), (byte)(length >> 16), (byte)(length >> 8), (byte)length];
            byte[] chunk = new byte[64 * 1024];
            try
            {
                await stream.WriteAsync(prefix);
                for (int left = length; left > 0; left -= chunk.Length)
                {
                    int n = Math.Min(left, chunk.Length);
                    await stream.WriteAsync(chunk.AsMemory(0, n));
                    Interlocked.Add(ref _sent, n);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or HttpRequestException)
            {
                // The server answered and reset the stream without reading the rest.
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task StylizeImage_PngDeclaring20000x20000_ResourceExhaustedBeforeDecoding()
    {
        await using var server = await GrpcTestServer.StartAsync();
        byte[] png = Video.Tests.Shared.HugePng.Create(20000, 20000);
        Assert.True(png.Length < 1_500_000, $"the fixture is {png.Length} bytes");
        long peakBefore = PeakResidentBytes();

        var e = await Assert.ThrowsAsync<RpcException>(() => server.Client.StylizeImageAsync(
            new Image { Encoding = Protos.V1.Encoding.Png, Data = Google.Protobuf.ByteString.CopyFrom(png) }, new SessionConfig { Model = "identity" }).WaitAsync(T));

        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Equal("image: 20000x20000 exceeds the server's frame limit of 3840x2160", e.Status.Detail);

        // Decoding it would have expanded it to 1.2 GB of BGR pixels; the header check refuses it first.
        long grew = PeakResidentBytes() - peakBefore;
        Assert.True(grew < 400L << 20, $"the process's peak resident memory grew by {grew >> 20} MiB: the image was decoded");
    }

    [Fact]
    public async Task StylizeImage_OverLongModelAndStyleNames_MessageQuotesThemCut()
    {
        await using var server = await GrpcTestServer.StartAsync();
        string name = new('m', 10_000);
        var e = await Assert.ThrowsAsync<RpcException>(() => server.Client.StylizeImageAsync(GrpcTestServer.Pattern(8, 8, 0), new SessionConfig { Model = name }).WaitAsync(T));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.StartsWith($"unknown model '{new string('m', 64)}'… (10000 characters) (installed: ", e.Status.Detail, StringComparison.Ordinal);
        Assert.True(e.Status.Detail.Length < 300, $"{e.Status.Detail.Length} characters");

        var style = await Assert.ThrowsAsync<RpcException>(() => server.Client.StylizeImageAsync(GrpcTestServer.Pattern(8, 8, 0), new SessionConfig { Model = "px", StyleId = "s\n" + new string('s', 5000) }).WaitAsync(T));
        Assert.Equal(StatusCode.NotFound, style.StatusCode);
        Assert.StartsWith("unknown style 's?sss", style.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("… (5002 characters)", style.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StylizeImage_MixedSizesOverTheBudget_OldPlansEvictedAndEveryCallServed()
    {
        // 40 MiB: a 2-slot identity plan at 640x480 holds about 15 MiB of tensors, so the cache cannot keep them all.
        // No run memory reserved here (the next test covers it): only plans and frames compete.
        const long budget = 40L << 20;
        await using var server = await GrpcTestServer.StartAsync(o => o.RunBytesPerPixel = 0, frameBudgetBytes: budget);
        var host = server.Server.Services.GetRequiredService<ModelHost>();
        (int W, int H)[] sizes = [(256, 192), (640, 480), (512, 384), (320, 240), (640, 360), (480, 480), (256, 192), (600, 400)];
        long peak = 0;
        foreach (var (w, h) in sizes)
        {
            foreach (var model in new[] { "identity", "white" })
            {
                var r = await server.Client.StylizeImageAsync(GrpcTestServer.Pattern(w, h, 3), new SessionConfig { Model = model }).WaitAsync(T);
                Assert.Equal(((uint)w, (uint)h), (r.Image.Width, r.Image.Height));
                peak = Math.Max(peak, server.Allocator.BytesRented + server.Allocator.BytesKept);
            }
        }

        Assert.True(peak <= budget, $"{peak} bytes held against a budget of {budget}");
        Assert.True(host.PlansEvicted > 0, "no cached plan was given back");
        Assert.True(host.CachedPlans < sizes.Length * 2, $"{host.CachedPlans} plans cached");
    }

    [Fact]
    public async Task StylizeImage_RunMemoryInTheBudget_IdlePlansEvictedAndGivenBackForIt()
    {
        // Item 8: ONNX Runtime's working memory for a run counts in the same budget as frames and plans, so RSS stays
        // within it. 40 MiB; three cached 480x360 identity plans (about 8 MiB each) leave too little for a 640x480 run
        // (a 15 MiB plan plus 64 bytes per pixel reserved = 19 MiB): it is served after the idle plans are given back.
        const long budget = 40L << 20;
        await using var server = await GrpcTestServer.StartAsync(o => o.RunBytesPerPixel = 64, frameBudgetBytes: budget);
        var host = server.Server.Services.GetRequiredService<ModelHost>();
        foreach (var (w, h) in new[] { (480, 360), (480, 368), (488, 360) })
        {
            await server.Client.StylizeImageAsync(GrpcTestServer.Pattern(w, h, 1), new SessionConfig { Model = "identity" }).WaitAsync(T);
        }

        Assert.Equal(3, host.CachedPlans);
        Assert.Equal(0, host.PlansEvicted);
        var r = await server.Client.StylizeImageAsync(GrpcTestServer.Pattern(640, 480, 2), new SessionConfig { Model = "identity" }).WaitAsync(T);

        Assert.Equal((640u, 480u), (r.Image.Width, r.Image.Height));
        Assert.True(host.PlansEvicted >= 2, $"{host.PlansEvicted} plans evicted: the run's memory did not count");
        Assert.True(host.MemoryGivenBack >= 1, "the evicted plans' memory was not given back before the run");
        Assert.Equal(0, server.Allocator.BytesReserved);
        Assert.True(server.Allocator.BytesRented + server.Allocator.BytesKept <= budget);

        // A run that cannot fit beside what is held is refused with one line, not run over the budget.
        var e = await Assert.ThrowsAsync<RpcException>(() => server.Client.StylizeImageAsync(GrpcTestServer.Pattern(1024, 768, 3), new SessionConfig { Model = "identity" }).WaitAsync(T));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.DoesNotContain('\n', e.Status.Detail);
        Assert.Equal(0, server.Allocator.BytesReserved);
    }

    [Fact]
    public async Task RegisterStyle_EncoderRunDoesNotFitTheBudget_ResourceExhaustedAndNothingHeld()
    {
        // The style encoder's run reserves its working memory like every other run: 64x64 pixels at 4 KiB each is
        // 16 MiB, twice an 8 MiB budget, so the call is refused instead of running over it.
        await using var server = await GrpcTestServer.StartAsync(o => o.RunBytesPerPixel = 4096, frameBudgetBytes: 8L << 20);
        var style = GrpcTestServer.Rgb(64, 64, (x, y) => ((byte)(x * 4), (byte)(y * 4), 90));

        var e = await Assert.ThrowsAsync<RpcException>(() => server.Client.Raw.RegisterStyleAsync(new RegisterStyleRequest { Model = "px", Image = style }).ResponseAsync.WaitAsync(T));

        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.DoesNotContain('\n', e.Status.Detail);
        Assert.Equal(0, server.Allocator.BytesReserved);
        Assert.Equal(0, server.Allocator.BytesRented);
    }

    [Fact]
    public async Task EnterRunAsync_RunMemoryHeldByAnotherRun_WaitsForItInsteadOfFailing()
    {
        // A stream's frame in POLICY_ALL must not be lost because another run holds the memory for a moment.
        const long budget = 40L << 20;
        const long pixels = 640 * 480; // 64 bytes per pixel: 18.75 MiB, two do not fit beside the test's frames
        await using var server = await GrpcTestServer.StartAsync(
            o =>
            {
                o.RunBytesPerPixel = 64;
                o.RunPixels = 8 * pixels; // the pixel gate lets both in: only memory holds the second back
            },
            frameBudgetBytes: budget);
        var host = server.Server.Services.GetRequiredService<ModelHost>();
        using var filler = server.Allocator.Allocate<byte>(4 << 20);

        var first = await host.EnterRunAsync(pixels, CancellationToken.None);
        var second = host.EnterRunAsync(pixels, CancellationToken.None).AsTask();
        await GrpcTestServer.EventuallyAsync(() => host.RunsWaitedForMemory == 1, "the second run to wait for memory");
        Assert.False(second.IsCompleted);

        first.Dispose();
        first.Dispose(); // harmless
        using (await second.WaitAsync(T))
        {
            Assert.Equal(pixels * 64, server.Allocator.BytesReserved);
        }

        // With no other run to wait for, a run that cannot fit fails at once.
        await Assert.ThrowsAsync<FrameBudgetException>(() => host.EnterRunAsync(3 * pixels, CancellationToken.None).AsTask().WaitAsync(T));
        Assert.Equal(0, server.Allocator.BytesReserved);
        Assert.Equal(0, host.Runs.InUse);
    }

    [Fact]
    public async Task StylizeStream_PlanDoesNotFitWhileAnotherRunHoldsMemory_FrameWaitsAndIsServed()
    {
        // Found by the item 8 soak with run memory in the budget: a POLICY_ALL stream's plan for a new size failed with
        // RESOURCE_EXHAUSTED while 3840x2160 runs held their reservations, and the stream was lost. The run now leaves,
        // waits for another run to end and comes back. Here another run holds all but 1 MiB: room for the stream's frame
        // and its run's reservation (1 byte per pixel), not for its 320x240 plan (about 1.8 MiB of tensors).
        const long budget = 40L << 20;
        await using var server = await GrpcTestServer.StartAsync(
            o =>
            {
                o.RunBytesPerPixel = 1;
                o.RunPixels = 1L << 32; // every run is "small": only memory holds anything back
            },
            frameBudgetBytes: budget);
        var host = server.Server.Services.GetRequiredService<ModelHost>();
        using var stream = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity", Policy = Policy.All }).WaitAsync(T);
        Assert.Equal(StreamResponse.KindOneofCase.ConfigApplied, (await GrpcTestServer.NextAsync(stream).WaitAsync(T)).KindCase);

        var other = await host.EnterRunAsync(budget - server.Allocator.BytesRented - (1L << 20), CancellationToken.None);
        await stream.SendImageAsync(GrpcTestServer.Pattern(320, 240, 1), 0, 0).WaitAsync(T);
        var reply = GrpcTestServer.NextAsync(stream);
        await GrpcTestServer.EventuallyAsync(() => host.RunsWaitedForMemory >= 1, "the stream's run to wait for the other run's memory");
        Assert.False(reply.IsCompleted, "the frame was answered while its plan could not fit");

        other.Dispose();
        var frame = await reply.WaitAsync(T);
        Assert.Equal(StreamResponse.KindOneofCase.Frame, frame.KindCase);
        Assert.Equal((320u, 240u), (frame.Frame.Image.Width, frame.Frame.Image.Height));
        await stream.CompleteAsync().WaitAsync(T);
        await GrpcTestServer.ReadAllAsync(stream);
    }

    [Fact]
    public async Task StylizeStream_TwoStreamsOfAClientStoppedByBackpressure_ItsOtherStreamsStillServed()
    {
        // Found by the item 8 soak with 4K frames: POLICY_ALL streams whose queues are full stop reading, and their
        // unread frames fill the HTTP/2 stream windows. At Kestrel's default connection window (1 MiB for all streams,
        // 768 KiB each) two of them starved every other stream of the same connection, which was then closed as idle.
        // Here two streams are held (their first replies wait at the gate) while sending 640x480 frames (900 KB each);
        // a third stream of the same client and connection must still open and be served.
        var gate = new StreamGate { HoldStreams = 2 };
        await using var server = await GrpcTestServer.StartAsync(
            o =>
            {
                o.LosslessQueueCapacity = 1;
                o.WriteTimeout = TimeSpan.FromMinutes(10); // the held replies are not late: the gate holds them
            },
            gate: gate);
        var frame = GrpcTestServer.Pattern(640, 480, 2);
        var held = new List<Client.StylizeStream>();
        var senders = new List<Task>();
        var readers = new List<Task<List<StreamResponse>>>();
        for (int s = 0; s < 2; s++)
        {
            var stream = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity", Policy = Policy.All }).WaitAsync(T);
            held.Add(stream);
            readers.Add(Task.Run(() => GrpcTestServer.ReadAllAsync(stream)));
            senders.Add(Task.Run(async () =>
            {
                for (ulong i = 0; i < 12; i++)
                {
                    await stream.SendImageAsync(frame, (long)i, i).WaitAsync(T);
                }

                await stream.CompleteAsync().WaitAsync(T);
            }));
        }

        await GrpcTestServer.EventuallyAsync(() => gate.Held == 2, "both streams' first replies to be held");
        // Quiet: the held streams' readers have stopped taking frames, so what their clients send now stays in the windows.
        int last = -1, quiet = 0;
        await GrpcTestServer.EventuallyAsync(
            () =>
            {
                int now = gate.FramesRead;
                quiet = now == last ? quiet + 1 : 0;
                last = now;
                return quiet >= 10;
            },
            "the held streams to stop reading");

        using var other = await server.Client.OpenStreamAsync(new SessionConfig { Model = "identity", Policy = Policy.All }).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(StreamResponse.KindOneofCase.ConfigApplied, (await GrpcTestServer.NextAsync(other).WaitAsync(TimeSpan.FromSeconds(20))).KindCase);
        await other.SendImageAsync(frame, 0, 0).WaitAsync(TimeSpan.FromSeconds(20));
        var reply = await GrpcTestServer.NextAsync(other).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal((640u, 480u), (reply.Frame.Image.Width, reply.Frame.Image.Height));
        await other.CompleteAsync().WaitAsync(T);
        await GrpcTestServer.ReadAllAsync(other);

        gate.FirstFrameResponse.Continue();
        await Task.WhenAll(senders).WaitAsync(T);
        foreach (var (stream, reader) in held.Zip(readers))
        {
            Assert.Equal(12, (await reader.WaitAsync(T)).Count(r => r.KindCase == StreamResponse.KindOneofCase.Frame));
            stream.Dispose();
        }
    }

    [Fact]
    public async Task StylizeStream_ManyStreamsOfLargeFrames_RunsBoundedByRunPixels()
    {
        // ONNX Runtime's working memory per run grows with the frame and is outside the frame budget: in the item 8 soak
        // up to 3 GB of it were in flight while several streams ran 4K frames at once. With room for one frame's pixels,
        // four streams sending at once are served, and never two runs at a time.
        const long onePixels = 160 * 120;
        await using var server = await GrpcTestServer.StartAsync(o => o.RunPixels = onePixels);
        var runs = server.Server.Services.GetRequiredService<ModelHost>().Runs;
        var clients = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            using var stream = await server.Client.OpenStreamAsync(new SessionConfig { Model = i % 2 == 0 ? "identity" : "toon", Policy = Policy.All }).WaitAsync(T);
            var reader = Task.Run(() => GrpcTestServer.ReadAllAsync(stream));
            for (ulong f = 0; f < 8; f++)
            {
                await stream.SendImageAsync(GrpcTestServer.Pattern(160, 120, (int)f), (long)f, f).WaitAsync(T);
            }

            await stream.CompleteAsync().WaitAsync(T);
            return (await reader.WaitAsync(T)).Count(r => r.KindCase == StreamResponse.KindOneofCase.Frame);
        })).ToArray();

        Assert.All(await Task.WhenAll(clients).WaitAsync(T), frames => Assert.Equal(8, frames));
        Assert.Equal(32, runs.Entered);
        Assert.Equal(onePixels, runs.PeakInUse);
        Assert.Equal(0, runs.InUse);
    }

    [Fact]
    public unsafe void NativeHeapTrim_FreedChunksBelowTheHeapTop_GivenBackToTheSystem()
    {
        // What ONNX Runtime leaves after runs without its arena: chunks freed below live ones. glibc keeps them resident
        // (it gives back only the top of a heap); the server's trimmer must return them. 2048 chunks of 96 KiB (under
        // malloc's mmap threshold, so they come from a heap), every 32nd kept.
        const int count = 2048, size = 96 << 10, keepEvery = 32;
        var chunks = new nint[count];
        for (int i = 0; i < count; i++)
        {
            chunks[i] = (nint)NativeMemory.Alloc(size);
            new Span<byte>((void*)chunks[i], size).Fill(1);
        }

        var trimmer = new NativeHeapTrimmer(Options.Create(new StreamingOptions()));
        try
        {
            for (int i = 0; i < count; i++)
            {
                if (i % keepEvery != 0)
                {
                    NativeMemory.Free((void*)chunks[i]);
                }
            }

            var freed = chunks.Where((_, i) => i % keepEvery != 0).ToArray();
            double before = ResidentPages.Fraction(freed, size);
            trimmer.TrimNow();
            double after = ResidentPages.Fraction(freed, size);
            Assert.True(before > 0.75, $"{before:P0} of the freed pages resident before the trim: the heap did not keep them, nothing to test");
            Assert.True(after < 0.25, $"{after:P0} of the freed pages still resident after the trim (before: {before:P0})");
            Assert.Equal(1, trimmer.Trims);
        }
        finally
        {
            for (int i = 0; i < count; i += keepEvery)
            {
                NativeMemory.Free((void*)chunks[i]);
            }
        }
    }

    [Fact]
    public async Task Server_NativeHeapTrimInterval_TrimsWhileServing()
    {
        await using var server = await GrpcTestServer.StartAsync(o => o.NativeHeapTrimInterval = TimeSpan.FromMilliseconds(50));
        var trimmer = server.Server.Services.GetRequiredService<NativeHeapTrimmer>();
        var r = await server.Client.StylizeImageAsync(GrpcTestServer.Pattern(64, 48, 1), new SessionConfig { Model = "identity" }).WaitAsync(T);
        Assert.Equal((64u, 48u), (r.Image.Width, r.Image.Height));
        long seen = trimmer.Trims;
        await GrpcTestServer.EventuallyAsync(() => trimmer.Trims >= seen + 2, "the server to trim its native heap");
    }

    /// <summary>The process's peak resident set (VmHWM), in bytes.</summary>
    private static long PeakResidentBytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}

/// <summary>Which pages of native memory are resident (<c>mincore</c>).</summary>
internal static unsafe partial class ResidentPages
{
    /// <summary>The fraction of the whole pages inside the given chunks that are resident; a page no longer mapped counts as not.</summary>
    public static double Fraction(IEnumerable<nint> chunks, int size)
    {
        long page = Environment.SystemPageSize, total = 0, resident = 0;
        var vec = new byte[(size / page) + 1];
        foreach (long start in chunks)
        {
            // The first page holds the allocator's own bookkeeping; count the pages wholly inside the chunk after it.
            long from = ((start / page) + 1) * page, to = (start + size) / page * page;
            if (to <= from)
            {
                continue;
            }

            int pages = (int)((to - from) / page);
            total += pages;
            fixed (byte* v = vec)
            {
                if (MinCore((void*)from, (nuint)(to - from), v) != 0)
                {
                    continue;
                }
            }

            for (int i = 0; i < pages; i++)
            {
                resident += vec[i] & 1;
            }
        }

        return total == 0 ? 0 : resident / (double)total;
    }

    [LibraryImport("libc.so.6", EntryPoint = "mincore", SetLastError = true)]
    private static partial int MinCore(void* address, nuint length, byte* vector);
}
