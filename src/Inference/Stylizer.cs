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

    /// <summary>TensorRT and CUDA provider settings (used only where those providers load).</summary>
    public GpuOptions? Gpu { get; init; }

    /// <summary>
    /// True gives ONNX Runtime's intermediate tensors back after every run (no CPU memory arena). The arena keeps
    /// the largest run's working memory for good (about 1.8 GB per model after one 4K frame), which a long-running
    /// server taking any size must not do; a file job runs one size and keeps the arena for speed.
    /// </summary>
    public bool ReleaseRunMemory { get; init; }
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
    private readonly InferenceSession? _styleEncoder;
    private readonly string[] _outputNames;

    private Stylizer(ModelManifest manifest, InferenceSession session, InferenceSession? styleEncoder, string device)
    {
        Manifest = manifest;
        _session = session;
        _styleEncoder = styleEncoder;
        DeviceName = device;
        _outputNames = [manifest.Output.Name];
        ExtraInputs = ExtraInputShapes(manifest, session);
    }

    /// <summary>Non-image inputs (AdaIN statistics, α) with their shapes; every plan owns one buffer per entry.</summary>
    public IReadOnlyDictionary<string, long[]> ExtraInputs { get; }

    /// <summary>True for models that take a style (AdaIN).</summary>
    public bool TakesStyle => _styleEncoder is not null;

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

        var so = ExecutionProviders.CreateSessionOptions(options.IntraOpThreads);
        so.EnableCpuMemArena = !options.ReleaseRunMemory;
        InferenceSession session;
        InferenceSession? styleEncoder = null;
        string device;
        try
        {
            device = ExecutionProviders.Configure(so, options.Device, options.Warn, options.Gpu);
            session = new InferenceSession(manifest.ModelPath, so);
            if (manifest.Adain is { } adain)
            {
                string encoderPath = Path.Combine(Path.GetDirectoryName(manifest.ModelPath)!, adain.StyleEncoder);
                if (!File.Exists(encoderPath))
                {
                    session.Dispose();
                    throw new ModelException($"model '{manifest.Name}': style encoder not found: {encoderPath}");
                }

                styleEncoder = new InferenceSession(encoderPath, so);
            }
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
            CheckAgainstManifest(manifest, session, styleEncoder);
            return new Stylizer(manifest, session, styleEncoder, device);
        }
        catch
        {
            session.Dispose();
            styleEncoder?.Dispose();
            throw;
        }
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
        return (ToMultiple(w, m), ToMultiple(h, m));
    }

    /// <summary>
    /// The tensor size <see cref="EncodeStyle"/> runs the style encoder at for a <paramref name="width"/>×<paramref name="height"/>
    /// image: its long side at most <paramref name="maxSide"/>, both sides multiples of the model's size rule.
    /// </summary>
    public (int Width, int Height) StyleTensorSize(int width, int height, int maxSide = 512)
    {
        double scale = Math.Min(1.0, maxSide / (double)Math.Max(width, height));
        int multiple = Math.Max(1, Manifest.Size.MultipleOf);
        return (ToMultiple(width * scale, multiple), ToMultiple(height * scale, multiple));
    }

    /// <summary><paramref name="side"/> rounded to the nearest multiple of <paramref name="multiple"/>, at least one multiple.</summary>
    private static int ToMultiple(double side, int multiple) => Math.Max(multiple, (int)Math.Round(side / multiple) * multiple);

    /// <summary>
    /// Runs the style encoder on <paramref name="style"/> (resized so its long side is at most
    /// <paramref name="maxSide"/>) and returns the statistics the model takes. Done once per style; the
    /// result is reused for every frame.
    /// </summary>
    public StyleStatistics EncodeStyle(Frame style, int maxSide = 512)
    {
        var adain = Manifest.Adain ?? throw new ModelException($"model '{Manifest.Name}' ({Manifest.Family.ToString().ToLowerInvariant()}) does not take a style");
        var (w, h) = StyleTensorSize(style.Width, style.Height, maxSide);
        var codec = new ImageTensorCodec(Manifest.Input, style.Width, style.Height, w, h);
        var tensor = new float[3 * w * h];
        codec.Encode(style, tensor);
        using var value = OrtValue.CreateTensorValueFromMemory(tensor, codec.Shape);
        try
        {
            using var outputs = _styleEncoder!.Run(_runOptions, [adain.StyleInput], [value], adain.Statistics);
            var stats = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (int i = 0; i < adain.Statistics.Length; i++)
            {
                stats[adain.Statistics[i]] = outputs[i].GetTensorDataAsSpan<float>().ToArray();
            }

            return new StyleStatistics(stats);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelException($"model '{Manifest.Name}': style encoder failed: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>
    /// Allocates <paramref name="slots"/> tensor slots for frames of the given size run at the given tensor
    /// size, and runs the model once to learn its output shape. Extra inputs (style statistics, α) start at
    /// zero statistics and α = 1; set them with <see cref="StylizerPlan.SetStyle"/>. Tensor memory comes from
    /// <paramref name="allocator"/> (<see cref="FrameAllocator.Default"/> when null).
    /// </summary>
    public StylizerPlan CreatePlan(int frameWidth, int frameHeight, int tensorWidth, int tensorHeight, int slots = 3, FrameAllocator? allocator = null)
    {
        allocator ??= FrameAllocator.Default;
        var encoder = new ImageTensorCodec(Manifest.Input, frameWidth, frameHeight, tensorWidth, tensorHeight);
        var extras = new ExtraInputBuffers(ExtraInputs, Manifest.Adain?.AlphaInput);
        var inputNames = new List<string> { Manifest.Input.Name };
        inputNames.AddRange(extras.Names);

        long[] outputShape;
        var probe = new float[encoder.Shape.Aggregate(1L, (a, d) => a * d)];
        using (var probeValue = OrtValue.CreateTensorValueFromMemory(probe, encoder.Shape))
        {
            try
            {
                using var outputs = _session.Run(_runOptions, inputNames, [probeValue, .. extras.Values], _outputNames);
                outputShape = outputs[0].GetTensorTypeAndShape().Shape;
            }
            catch (OnnxRuntimeException e)
            {
                extras.Dispose();
                throw new ModelException($"model '{Manifest.Name}' cannot run at {tensorWidth}x{tensorHeight}: {e.Message.ReplaceLineEndings(" ")}");
            }
        }

        if (ImageSize(outputShape, Manifest.Output.Layout) is not var (outW, outH))
        {
            extras.Dispose();
            throw new ModelException($"model '{Manifest.Name}': output '{Manifest.Output.Name}' has shape [{string.Join(',', outputShape)}], not a 3-channel image");
        }

        var decoder = new ImageTensorCodec(Manifest.Output, frameWidth, frameHeight, outW, outH);
        return new StylizerPlan(this, encoder, decoder, extras, () => new TensorSlot(allocator, _session, inputNames, Manifest.Output.Name, encoder.Shape, outputShape, extras.Values), slots);
    }

    public void Dispose()
    {
        _runOptions.Dispose();
        _session.Dispose();
        _styleEncoder?.Dispose();
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

    private static IReadOnlyDictionary<string, long[]> ExtraInputShapes(ModelManifest m, InferenceSession session)
    {
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var (name, meta) in session.InputMetadata.Where(kv => kv.Key != m.Input.Name).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            // A dynamic batch dimension is 1 here; any other dynamic dimension cannot be preallocated.
            var dims = meta.Dimensions.Select((d, i) => d == -1 && i == 0 ? 1L : d).ToArray();
            if (dims.Any(d => d < 0))
            {
                throw new ModelException($"model '{m.Name}': input '{name}' has a dynamic shape [{string.Join(',', meta.Dimensions)}]; extra inputs need a fixed one");
            }

            shapes[name] = dims;
        }

        return shapes;
    }

    private static void CheckAgainstManifest(ModelManifest m, InferenceSession session, InferenceSession? styleEncoder)
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

        if (m.Adain is { } a && styleEncoder is not null)
        {
            foreach (var stat in a.Statistics.Where(st => !session.InputMetadata.ContainsKey(st) || !styleEncoder.OutputMetadata.ContainsKey(st)))
            {
                Fail($"statistic '{stat}' must be an output of the style encoder and an input of the model");
            }

            if (!styleEncoder.InputMetadata.ContainsKey(a.StyleInput))
            {
                Fail($"style encoder input '{a.StyleInput}' not found (it has {string.Join(", ", styleEncoder.InputMetadata.Keys.Select(k => $"'{k}'"))})");
            }

            if (!session.InputMetadata.ContainsKey(a.AlphaInput))
            {
                Fail($"alpha input '{a.AlphaInput}' not found");
            }
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
    private readonly ExtraInputBuffers _extras;
    private readonly TensorSlot[] _slots;
    private readonly System.Threading.Channels.Channel<TensorSlot> _free;

    internal StylizerPlan(Stylizer stylizer, ImageTensorCodec encoder, ImageTensorCodec decoder, ExtraInputBuffers extras, Func<TensorSlot> newSlot, int slots)
    {
        _stylizer = stylizer;
        _encoder = encoder;
        _decoder = decoder;
        _extras = extras;
        // A slot that cannot be allocated (the frame budget is spent) must not strand the ones made before it.
        _slots = new TensorSlot[slots];
        for (int i = 0; i < slots; i++)
        {
            try
            {
                _slots[i] = newSlot();
            }
            catch
            {
                for (int j = 0; j < i; j++)
                {
                    _slots[j].Dispose();
                }

                extras.Dispose();
                throw;
            }
        }

        _free = System.Threading.Channels.Channel.CreateBounded<TensorSlot>(slots);
        foreach (var s in _slots)
        {
            _free.Writer.TryWrite(s);
        }
    }

    /// <summary>Tensor size the model runs at.</summary>
    public (int Width, int Height) TensorSize => (_encoder.TensorWidth, _encoder.TensorHeight);

    /// <summary>
    /// Keep each frame's own colours and take only the stylized luminance (Gatys et al. 2016,
    /// "Preserving color in neural artistic style transfer", luminance-only transfer).
    /// </summary>
    public bool PreserveColor { get; set; }

    /// <summary>
    /// When the model runs smaller than the frame (an inference size below the frame's), add back the frame's own luma
    /// detail that shrinking removed, so the regrown output stays sharp. Ignored with <see cref="PreserveColor"/>.
    /// </summary>
    public bool RestoreDetail { get; set; }

    /// <summary>
    /// Sets the style statistics and the content/style trade-off α (0 = content, 1 = full style) used for
    /// the following frames. Copies into buffers bound once, so it is cheap and allocation-free.
    /// </summary>
    public void SetStyle(StyleStatistics style, float alpha = 1f)
    {
        if (_stylizer.Manifest.Adain is not { } adain)
        {
            throw new ModelException($"model '{_stylizer.Manifest.Name}' does not take a style");
        }

        if (!float.IsFinite(alpha) || alpha < 0 || alpha > 1)
        {
            throw new VideoException($"alpha {alpha} is outside [0, 1]");
        }

        foreach (var name in adain.Statistics)
        {
            _extras.Set(name, style.Get(name));
        }

        _extras.Set(adain.AlphaInput, [alpha]);
    }

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
    public void Postprocess(TensorSlot slot, Frame frame) => _decoder.Decode(slot.Output, frame, PreserveColor, RestoreDetail);

    /// <summary>
    /// The one frame-level call: stylizes <paramref name="frame"/> in place (preprocess, model, postprocess)
    /// on a slot of this plan, waiting for a free slot without blocking a thread. With a
    /// <paramref name="lane"/>, the model runs in a cross-stream batch instead of on its own. Returns the
    /// number of frames the model ran on together (1 without a lane).
    /// </summary>
    /// <remarks>
    /// The frame is borrowed for the call. Safe to call concurrently on one plan (each call holds its own
    /// slot); a lane's item is reused, so calls through one lane must not overlap. A warm call on a free
    /// slot allocates nothing.
    /// </remarks>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> StylizeAsync(Frame frame, Batching.BatchLane? lane = null, CancellationToken cancellationToken = default)
    {
        // A free slot is read synchronously (no allocation); otherwise the call waits without blocking a thread.
        var slot = await RentSlotAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Preprocess(frame, slot);
            int batchSize = 1;
            if (lane is { } l)
            {
                // The batch always runs to its end, so this await is bounded even when the caller is cancelled.
                batchSize = await l.RunAsync(slot).ConfigureAwait(false);
            }
            else
            {
                Infer(slot);
            }

            Postprocess(slot, frame);
            return batchSize;
        }
        finally
        {
            ReturnSlot(slot);
        }
    }

    /// <summary>Stylizes one frame in place, synchronously (for single images and tests): <see cref="StylizeAsync"/> on the calling thread.</summary>
    public void StylizeInPlace(Frame frame) => StylizeAsync(frame).AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// Frees the slots. A slot that was never returned keeps its tensor memory rented, so a leak-checking
    /// <see cref="FrameAllocator"/> reports it (and native code still holding it cannot write into reused memory).
    /// </summary>
    public void Dispose()
    {
        var free = new HashSet<TensorSlot>(ReferenceEqualityComparer.Instance);
        while (_free.Reader.TryRead(out var slot))
        {
            free.Add(slot);
        }

        foreach (var s in _slots)
        {
            if (free.Contains(s))
            {
                s.Dispose();
            }
            else
            {
                s.DisposeKeepingMemory();
            }
        }

        _extras.Dispose();
    }
}
