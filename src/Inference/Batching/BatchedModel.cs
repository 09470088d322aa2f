using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Video.Capture;

namespace Video.Inference.Batching;

/// <summary>
/// A model loaded a second time with a dynamic batch dimension, so that frames of several streams can run in
/// one ONNX Runtime call (<see cref="InferenceBatcher"/>).
/// </summary>
/// <remarks>
/// The models this project writes declare their batch dimension as a fixed 1 (<c>1×3×H×W</c>). When the
/// graph declares 1, the copy loaded here declares the batch dimension of the image input and output as a
/// named dynamic dimension instead, and a probe then checks that the graph really treats the items of a batch
/// independently: two different inputs run as one batch of 2 must give what each gives alone. A graph that
/// fails the probe (a reshape to a fixed batch of 1, a reduction over the batch axis, …) or cannot load this
/// way gets no <see cref="BatchedModel"/>: <see cref="TryLoad"/> returns null with the reason, and the caller
/// runs that model frame by frame. Thread safe: batchers share the session, each with its own tensors.
/// </remarks>
public sealed class BatchedModel : IDisposable
{
    /// <summary>Largest difference between batched and single runs the probe accepts (values are in the model's range).</summary>
    public const float ProbeTolerance = 1e-3f;

    private readonly InferenceSession _session;
    private readonly Dictionary<GroupKey, InferenceBatcher> _groups = new();
    private readonly object _gate = new();
    private bool _disposed;

    private BatchedModel(Stylizer stylizer, InferenceSession session, int maxBatch, TimeSpan maxDelay, bool relaxed, FrameAllocator allocator)
    {
        Allocator = allocator;
        Stylizer = stylizer;
        _session = session;
        MaxBatch = maxBatch;
        MaxDelay = maxDelay;
        Relaxed = relaxed;
    }

    public Stylizer Stylizer { get; }

    /// <summary>Where the batchers' batch tensors come from.</summary>
    internal FrameAllocator Allocator { get; }

    public int MaxBatch { get; }

    public TimeSpan MaxDelay { get; }

    /// <summary>True when the graph declared a fixed batch of 1 and this copy made it dynamic (after the probe passed).</summary>
    public bool Relaxed { get; }

    internal InferenceSession Session => _session;

    /// <summary>Batchers currently open (one per tensor size and style); for tests and metrics.</summary>
    public int OpenBatchers
    {
        get
        {
            lock (_gate)
            {
                return _groups.Count;
            }
        }
    }

    /// <summary>
    /// Loads <paramref name="stylizer"/>'s model for batches of up to <paramref name="maxBatch"/> frames, or
    /// returns null (with <paramref name="reason"/>) when its graph cannot run batches correctly.
    /// </summary>
    public static BatchedModel? TryLoad(Stylizer stylizer, StylizerOptions options, int maxBatch, TimeSpan maxDelay, out string reason, FrameAllocator? allocator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 2);
        var manifest = stylizer.Manifest;
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(manifest.ModelPath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidProtocolBufferException)
        {
            reason = $"cannot read {Path.GetFileName(manifest.ModelPath)}: {e.Message}";
            return null;
        }

        var input = model.Graph.Input.FirstOrDefault(i => i.Name == manifest.Input.Name);
        var output = model.Graph.Output.FirstOrDefault(o => o.Name == manifest.Output.Name);
        if (input?.Type?.TensorType?.Shape is not { Dim.Count: 4 } inShape || output?.Type?.TensorType?.Shape is not { Dim.Count: 4 } outShape)
        {
            reason = "the image input or output has no rank-4 shape in the graph";
            return null;
        }

        bool relaxed = false;
        foreach (var dim in new[] { inShape.Dim[0], outShape.Dim[0] })
        {
            if (dim.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue)
            {
                if (dim.DimValue != 1)
                {
                    reason = $"the batch dimension is fixed at {dim.DimValue}";
                    return null;
                }

                dim.DimParam = "batch";
                relaxed = true;
            }
        }

        if (relaxed)
        {
            // Intermediate shapes recorded with the fixed batch would contradict the dynamic one; the runtime infers them again.
            model.Graph.ValueInfo.Clear();
        }

        using var so = ExecutionProviders.CreateSessionOptions(options.IntraOpThreads);
        InferenceSession session;
        try
        {
            ExecutionProviders.Configure(so, options.Device, _ => { }, options.Gpu);
            session = new InferenceSession(model.ToByteArray(), so);
        }
        catch (Exception e) when (e is OnnxRuntimeException or ModelException)
        {
            reason = $"the graph does not load with a dynamic batch: {e.Message.ReplaceLineEndings(" ")}";
            return null;
        }

        var batched = new BatchedModel(stylizer, session, maxBatch, maxDelay, relaxed, allocator ?? FrameAllocator.Default);
        try
        {
            if (batched.Probe() is { } failure)
            {
                batched.Dispose();
                reason = failure;
                return null;
            }
        }
        catch (Exception e) when (e is OnnxRuntimeException or ModelException)
        {
            batched.Dispose();
            reason = $"a batch of 2 does not run: {e.Message.ReplaceLineEndings(" ")}";
            return null;
        }

        reason = relaxed ? "batch dimension declared 1, made dynamic; batch-of-2 probe matches single runs" : "batch dimension is dynamic";
        return batched;
    }

    /// <summary>
    /// The batcher for frames run at <paramref name="tensorWidth"/>×<paramref name="tensorHeight"/> with the
    /// given style (AdaIN; null otherwise) and α. Every caller of <see cref="Attach"/> calls
    /// <see cref="Detach"/> once when it stops submitting; the batcher closes when the last one detaches.
    /// </summary>
    public InferenceBatcher Attach(int tensorWidth, int tensorHeight, StyleStatistics? style, float alpha)
    {
        var key = new GroupKey(tensorWidth, tensorHeight, style, style is null ? 1f : alpha);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_groups.TryGetValue(key, out var group))
            {
                group = new InferenceBatcher(this, tensorWidth, tensorHeight, style, key.Alpha);
                _groups[key] = group;
            }

            group.AddMember();
            return group;
        }
    }

    /// <summary>Ends one <see cref="Attach"/>.</summary>
    public void Detach(InferenceBatcher batcher)
    {
        bool close;
        lock (_gate)
        {
            close = batcher.RemoveMember() == 0;
            if (close)
            {
                _groups.Remove(batcher.Key);
            }
        }

        if (close)
        {
            batcher.Dispose();
        }
    }

    public void Dispose()
    {
        List<InferenceBatcher> open;
        lock (_gate)
        {
            _disposed = true;
            open = [.. _groups.Values];
            _groups.Clear();
        }

        foreach (var g in open)
        {
            g.Dispose();
        }

        _session.Dispose();
    }

    /// <summary>Runs two different inputs as one batch and each alone; null when they agree.</summary>
    private string? Probe()
    {
        var m = Stylizer.Manifest;
        var (w, h) = m.Size.Mode == SizeMode.Fixed ? (m.Size.Width!.Value, m.Size.Height!.Value) : Stylizer.InferenceSize(48, 40);
        using var probe = new InferenceBatcher(this, w, h, style: null, alpha: 1f, thread: false);
        int length = probe.ItemInputLength;
        var a = new float[length];
        var b = new float[length];
        var rng = new Random(7);
        float lo = m.Input.Range[0], span = m.Input.Range[1] - m.Input.Range[0];
        for (int i = 0; i < length; i++)
        {
            a[i] = lo + (span * rng.NextSingle());
            b[i] = lo + (span * (0.25f + (0.5f * rng.NextSingle())));
        }

        var outA = new float[probe.ItemOutputLength];
        var outB = new float[probe.ItemOutputLength];
        var outAB = new float[2 * probe.ItemOutputLength];
        probe.RunDirect([a], outA);
        probe.RunDirect([b], outB);
        probe.RunDirect([a, b], outAB);
        float worst = 0;
        for (int i = 0; i < outA.Length; i++)
        {
            worst = Math.Max(worst, Math.Max(Math.Abs(outAB[i] - outA[i]), Math.Abs(outAB[outA.Length + i] - outB[i])));
        }

        // NaN fails the comparison, so a graph that produces NaN also falls back.
        return worst <= ProbeTolerance
            ? null
            : $"the graph mixes the items of a batch (batch-of-2 probe differs from single runs by {worst:0.####})";
    }

    internal readonly record struct GroupKey(int Width, int Height, StyleStatistics? Style, float Alpha);
}
