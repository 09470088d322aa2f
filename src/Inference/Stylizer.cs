using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Video.Capture;
using Video.Inference.Internal;

namespace Video.Inference;

/// <summary>Options for loading a model.</summary>
public sealed record StylizerOptions
{
    public Device Device { get; init; } = Device.Auto;

    /// <summary>ONNX Runtime intra-op threads; 0 lets the runtime choose.</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Receives the one-line warnings (e.g. GPU fallback).</summary>
    public Action<string>? Warn { get; init; }
}

/// <summary>
/// One loaded model: an ONNX Runtime session checked against its manifest. Plans (<see cref="CreatePlan"/>)
/// hold the per-size tensors; the stylizer itself holds only the session.
/// </summary>
/// <remarks>
/// <see cref="Run"/> is safe to call from one thread at a time per plan; the session is shared and thread
/// safe. Dispose plans before the stylizer.
/// </remarks>
public sealed class Stylizer : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly Dictionary<string, OrtValue> _extraInputs = new(StringComparer.Ordinal);
    private readonly string[] _outputNames;

    private Stylizer(ModelManifest manifest, InferenceSession session, string device)
    {
        Manifest = manifest;
        _session = session;
        DeviceName = device;
        _outputNames = [manifest.Output.Name];
    }

    public ModelManifest Manifest { get; }

    /// <summary>The execution provider in use: "tensorrt", "cuda" or "cpu".</summary>
    public string DeviceName { get; }

    /// <summary>Loads <paramref name="manifest"/>'s model and checks its inputs and outputs against the manifest.</summary>
    public static Stylizer Load(ModelManifest manifest, StylizerOptions? options = null)
    {
        options ??= new StylizerOptions();
        if (!File.Exists(manifest.ModelPath))
        {
            throw new ModelException($"model '{manifest.Name}': file not found: {manifest.ModelPath}");
        }

        ExecutionProviders.EnsureEnvironment();
        var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = options.IntraOpThreads,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };
        InferenceSession session;
        string device;
        try
        {
            device = ExecutionProviders.Configure(so, options.Device, options.Warn);
            session = new InferenceSession(manifest.ModelPath, so);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelException($"model '{manifest.Name}': cannot load {Path.GetFileName(manifest.ModelPath)}: {e.Message.ReplaceLineEndings(" ")}");
        }
        finally
        {
            so.Dispose();
        }

        try
        {
            CheckAgainstManifest(manifest, session);
        }
        catch
        {
            session.Dispose();
            throw;
        }

        return new Stylizer(manifest, session, device);
    }

    /// <summary>
    /// The tensor size to run a <paramref name="frameWidth"/>×<paramref name="frameHeight"/> frame at:
    /// the manifest's fixed size, or <paramref name="requested"/> (default: the frame size) rounded to the
    /// model's multiple.
    /// </summary>
    public (int Width, int Height) InferenceSize(int frameWidth, int frameHeight, (int Width, int Height)? requested = null)
    {
        var rule = Manifest.Size;
        if (rule.Mode == SizeMode.Fixed)
        {
            var fixedSize = (rule.Width!.Value, rule.Height!.Value);
            if (requested is { } r && r != fixedSize)
            {
                throw new ModelException($"model '{Manifest.Name}' only runs at {fixedSize.Item1}x{fixedSize.Item2}; --size {r.Width}x{r.Height} is not possible");
            }

            return fixedSize;
        }

        var (w, h) = requested ?? (frameWidth, frameHeight);
        int m = rule.MultipleOf;
        return (Math.Max(m, (int)Math.Round(w / (double)m) * m), Math.Max(m, (int)Math.Round(h / (double)m) * m));
    }

    /// <summary>Sets a constant extra input (e.g. AdaIN style statistics, α) fed with every frame.</summary>
    public void SetExtraInput(string name, float[] data, long[] shape)
    {
        if (!_session.InputMetadata.ContainsKey(name))
        {
            throw new ModelException($"model '{Manifest.Name}' has no input '{name}'");
        }

        if (_extraInputs.Remove(name, out var old))
        {
            old.Dispose();
        }

        _extraInputs[name] = OrtValue.CreateTensorValueFromMemory(data, shape);
    }

    /// <summary>
    /// Allocates <paramref name="slots"/> tensor slots for frames of the given size run at the given tensor
    /// size, and runs the model once to learn its output shape.
    /// </summary>
    public StylizerPlan CreatePlan(int frameWidth, int frameHeight, int tensorWidth, int tensorHeight, int slots = 3)
    {
        var encoder = new ImageTensorCodec(Manifest.Input, frameWidth, frameHeight, tensorWidth, tensorHeight);
        var inputNames = new List<string> { Manifest.Input.Name };
        inputNames.AddRange(_extraInputs.Keys);
        var extras = _extraInputs.Values.ToList();

        long[] outputShape;
        var probe = new float[encoder.Shape.Aggregate(1L, (a, d) => a * d)];
        using (var probeValue = OrtValue.CreateTensorValueFromMemory(probe, encoder.Shape))
        {
            try
            {
                using var outputs = _session.Run(_runOptions, inputNames, [probeValue, .. extras], _outputNames);
                outputShape = outputs[0].GetTensorTypeAndShape().Shape;
            }
            catch (OnnxRuntimeException e)
            {
                throw new ModelException($"model '{Manifest.Name}' cannot run at {tensorWidth}x{tensorHeight}: {e.Message.ReplaceLineEndings(" ")}");
            }
        }

        var (outW, outH) = ImageSize(outputShape, Manifest.Output.Layout)
            ?? throw new ModelException($"model '{Manifest.Name}': output '{Manifest.Output.Name}' has shape [{string.Join(',', outputShape)}], not a 3-channel image");
        var decoder = new ImageTensorCodec(Manifest.Output, frameWidth, frameHeight, outW, outH);
        return new StylizerPlan(this, encoder, decoder, () => new TensorSlot(_session, inputNames, Manifest.Output.Name, encoder.Shape, outputShape, extras), slots);
    }

    public void Dispose()
    {
        foreach (var v in _extraInputs.Values)
        {
            v.Dispose();
        }

        _runOptions.Dispose();
        _session.Dispose();
    }

    internal void Run(TensorSlot slot)
    {
        try
        {
            _session.RunWithBinding(_runOptions, slot.Binding);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelException($"model '{Manifest.Name}': inference failed: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    private static (int W, int H)? ImageSize(long[] shape, TensorLayout layout)
    {
        if (shape.Length != 4 || shape[0] != 1)
        {
            return null;
        }

        return layout == TensorLayout.NCHW
            ? shape[1] == 3 ? ((int)shape[3], (int)shape[2]) : null
            : shape[3] == 3 ? ((int)shape[2], (int)shape[1]) : null;
    }

    private static void CheckAgainstManifest(ModelManifest m, InferenceSession session)
    {
        string file = Path.GetFileName(m.ModelPath);
        string Fail(string what) => throw new ModelException($"model '{m.Name}' ({file}) does not match its manifest: {what}");

        if (!session.InputMetadata.TryGetValue(m.Input.Name, out var input))
        {
            Fail($"input '{m.Input.Name}' not found (the model has {string.Join(", ", session.InputMetadata.Keys.Select(k => $"'{k}'"))})");
        }

        if (!session.OutputMetadata.ContainsKey(m.Output.Name))
        {
            Fail($"output '{m.Output.Name}' not found (the model has {string.Join(", ", session.OutputMetadata.Keys.Select(k => $"'{k}'"))})");
        }

        if (input!.ElementDataType != TensorElementType.Float)
        {
            Fail($"input '{m.Input.Name}' is {input.ElementDataType}, expected float");
        }

        int[] dims = input.Dimensions;
        if (dims.Length != 4)
        {
            Fail($"input '{m.Input.Name}' has rank {dims.Length}, expected 4 ({m.Input.Layout})");
        }

        int channels = m.Input.Layout == TensorLayout.NCHW ? dims[1] : dims[3];
        if (channels is not (3 or -1))
        {
            Fail($"input '{m.Input.Name}' has {channels} channels in {m.Input.Layout} layout, expected 3");
        }

        if (m.Size.Mode == SizeMode.Fixed)
        {
            int h = m.Input.Layout == TensorLayout.NCHW ? dims[2] : dims[1];
            int w = m.Input.Layout == TensorLayout.NCHW ? dims[3] : dims[2];
            if ((w != -1 && w != m.Size.Width) || (h != -1 && h != m.Size.Height))
            {
                Fail($"input '{m.Input.Name}' is {w}x{h}, manifest says {m.Size.Width}x{m.Size.Height}");
            }
        }

        var known = new HashSet<string>(StringComparer.Ordinal) { m.Input.Name };
        if (m.Adain is { } adain)
        {
            known.UnionWith(adain.Statistics);
            known.Add(adain.AlphaInput);
        }

        foreach (var name in session.InputMetadata.Keys.Where(k => !known.Contains(k)))
        {
            Fail($"the model has input '{name}' that the manifest does not describe");
        }
    }
}

/// <summary>
/// Everything needed to stylize frames of one size: the pre- and post-processing tables and a small set of
/// preallocated <see cref="TensorSlot"/>s. Once created, stylizing a frame allocates nothing.
/// </summary>
/// <remarks>
/// <see cref="Preprocess"/>, <see cref="Infer"/> and <see cref="Postprocess"/> may run on different threads
/// for different slots. Slots are rented and returned through <see cref="RentSlotAsync"/> and
/// <see cref="ReturnSlot"/>.
/// </remarks>
public sealed class StylizerPlan : IDisposable
{
    private readonly Stylizer _stylizer;
    private readonly ImageTensorCodec _encoder;
    private readonly ImageTensorCodec _decoder;
    private readonly TensorSlot[] _slots;
    private readonly System.Threading.Channels.Channel<TensorSlot> _free;

    internal StylizerPlan(Stylizer stylizer, ImageTensorCodec encoder, ImageTensorCodec decoder, Func<TensorSlot> newSlot, int slots)
    {
        _stylizer = stylizer;
        _encoder = encoder;
        _decoder = decoder;
        _slots = Enumerable.Range(0, slots).Select(_ => newSlot()).ToArray();
        _free = System.Threading.Channels.Channel.CreateBounded<TensorSlot>(slots);
        foreach (var s in _slots)
        {
            _free.Writer.TryWrite(s);
        }
    }

    /// <summary>Tensor size the model runs at.</summary>
    public (int Width, int Height) TensorSize => (_encoder.TensorWidth, _encoder.TensorHeight);

    /// <summary>Slots not currently rented.</summary>
    public int FreeSlots => _free.Reader.Count;

    public int SlotCount => _slots.Length;

    public ValueTask<TensorSlot> RentSlotAsync(CancellationToken cancellationToken) => _free.Reader.ReadAsync(cancellationToken);

    /// <summary>Rents a slot if one is free now.</summary>
    public bool TryRentSlot(out TensorSlot slot) => _free.Reader.TryRead(out slot!);

    public void ReturnSlot(TensorSlot slot) => _free.Writer.TryWrite(slot);

    /// <summary>Frame pixels → input tensor.</summary>
    public void Preprocess(Frame frame, TensorSlot slot) => _encoder.Encode(frame, slot.Input);

    /// <summary>Runs the model on the slot's input into its output.</summary>
    public void Infer(TensorSlot slot) => _stylizer.Run(slot);

    /// <summary>Output tensor → frame pixels (in place; the frame keeps its size).</summary>
    public void Postprocess(TensorSlot slot, Frame frame) => _decoder.Decode(slot.Output, frame);

    /// <summary>Stylizes one frame in place, synchronously (for single images and tests).</summary>
    public void StylizeInPlace(Frame frame)
    {
        var slot = RentSlotAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        try
        {
            Preprocess(frame, slot);
            Infer(slot);
            Postprocess(slot, frame);
        }
        finally
        {
            ReturnSlot(slot);
        }
    }

    public void Dispose()
    {
        foreach (var s in _slots)
        {
            s.Dispose();
        }
    }
}
