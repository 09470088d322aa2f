using System.Diagnostics;
using System.Threading.Tasks.Sources;
using Microsoft.ML.OnnxRuntime;
using Video.Capture;

namespace Video.Inference.Batching;

/// <summary>
/// Gathers preprocessed frames of one model, tensor size and style from several submitters and runs them as
/// one ONNX Runtime call of batch N (at most <see cref="BatchedModel.MaxBatch"/>).
/// </summary>
/// <remarks>
/// One dedicated thread per batcher takes the first waiting frame, then waits for more until the batch is
/// full, every attached submitter has a frame waiting, or <see cref="BatchedModel.MaxDelay"/> has passed since
/// the first one arrived; it runs the batch and completes each item. A batch, once taken, always runs to the
/// end for all its items, so a submitter that goes away cannot break the others. The batch tensors (input and
/// output, sized for the largest batch) and one IO binding per batch size are allocated once, so a warm
/// batcher allocates no tensor memory. Thread safe.
/// </remarks>
public sealed class InferenceBatcher : IDisposable
{
    private readonly BatchedModel _model;
    private readonly ExtraInputBuffers _extras;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly long[] _itemInputShape;
    private readonly long[] _itemOutputShape;
    private readonly PixelBuffer<float> _input;
    private readonly PixelBuffer<float> _output;
    private readonly Binding?[] _bindings;
    private readonly Queue<BatchItem> _pending;
    private readonly BatchItem[] _batch;
    private readonly object _gate = new();
    private readonly Thread? _thread;
    private readonly long _delayTicks;
    private int _members;
    private bool _stopping;
    private bool _disposed;
    private long _batches;
    private long _items;

    internal InferenceBatcher(BatchedModel model, int tensorWidth, int tensorHeight, StyleStatistics? style, float alpha, bool thread = true)
    {
        _model = model;
        var stylizer = model.Stylizer;
        var manifest = stylizer.Manifest;
        Key = new BatchedModel.GroupKey(tensorWidth, tensorHeight, style, alpha);
        _extras = new ExtraInputBuffers(stylizer.ExtraInputs, manifest.Adain?.AlphaInput);
        try
        {
            if (style is not null && manifest.Adain is { } adain)
            {
                foreach (var name in adain.Statistics)
                {
                    _extras.Set(name, style.Get(name));
                }

                _extras.Set(adain.AlphaInput, [alpha]);
            }

            _inputNames = [manifest.Input.Name, .. _extras.Names];
            _itemInputShape = manifest.Input.Layout == TensorLayout.NCHW ? [1, 3, tensorHeight, tensorWidth] : [1, tensorHeight, tensorWidth, 3];
            ItemInputLength = 3 * tensorWidth * tensorHeight;

            // One run at batch 1 tells the output shape (as StylizerPlan does).
            var probe = new float[ItemInputLength];
            using (var probeValue = OrtValue.CreateTensorValueFromMemory(probe, _itemInputShape))
            {
                try
                {
                    using var outputs = model.Session.Run(_runOptions, _inputNames, [probeValue, .. _extras.Values], [manifest.Output.Name]);
                    _itemOutputShape = outputs[0].GetTensorTypeAndShape().Shape;
                }
                catch (OnnxRuntimeException e)
                {
                    throw new ModelException($"model '{manifest.Name}' cannot run at {tensorWidth}x{tensorHeight}: {e.Message.ReplaceLineEndings(" ")}");
                }
            }

            ItemOutputLength = (int)_itemOutputShape.Aggregate(1L, (a, d) => a * d);
            int max = model.MaxBatch;
            _input = model.Allocator.Allocate<float>(max * ItemInputLength);
            try
            {
                _output = model.Allocator.Allocate<float>(max * ItemOutputLength);
            }
            catch
            {
                _input.Dispose();
                throw;
            }
            _bindings = new Binding?[max];
            _pending = new Queue<BatchItem>(max * 4);
            _batch = new BatchItem[max];
            _delayTicks = (long)(model.MaxDelay.TotalSeconds * Stopwatch.Frequency);
        }
        catch
        {
            _extras.Dispose();
            _runOptions.Dispose();
            throw;
        }

        if (thread)
        {
            _thread = new Thread(Loop) { IsBackground = true, Name = $"batch {manifest.Name} {tensorWidth}x{tensorHeight}" };
            _thread.Start();
        }
    }

    /// <summary>Floats in one item's input tensor.</summary>
    public int ItemInputLength { get; }

    /// <summary>Floats in one item's output tensor.</summary>
    public int ItemOutputLength { get; }

    public int TensorWidth => Key.Width;

    public int TensorHeight => Key.Height;

    /// <summary>Batches run so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Items run so far (<see cref="ItemsRun"/> / <see cref="Batches"/> is the mean batch size).</summary>
    public long ItemsRun => Interlocked.Read(ref _items);

    internal BatchedModel.GroupKey Key { get; }

    /// <summary>
    /// Queues <paramref name="item"/> (its input already preprocessed) for the next batch; completes with the
    /// size of the batch it ran in, once its output is written. The item must not be submitted again before then.
    /// </summary>
    public ValueTask<int> RunAsync(BatchItem item)
    {
        if (item.Input.Length != ItemInputLength || item.Output.Length != ItemOutputLength)
        {
            throw new ModelException($"model '{_model.Stylizer.Manifest.Name}': a batch item has {item.Input.Length}/{item.Output.Length} floats, the batcher takes {ItemInputLength}/{ItemOutputLength}");
        }

        item.Prepare();
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            _pending.Enqueue(item);
            Monitor.Pulse(_gate);
        }

        return item.Task;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stopping = true;
            Monitor.PulseAll(_gate);
        }

        if (_thread is not null && _thread != Thread.CurrentThread)
        {
            _thread.Join();
        }

        lock (_gate)
        {
            while (_pending.TryDequeue(out var left))
            {
                left.Fail(new ObjectDisposedException(nameof(InferenceBatcher), "the batcher closed before this frame ran"));
            }
        }

        foreach (var b in _bindings)
        {
            b?.Dispose();
        }

        // The bindings wrapped these buffers, so they go back only now.
        _input.Dispose();
        _output.Dispose();
        _extras.Dispose();
        _runOptions.Dispose();
    }

    internal void AddMember() => _members++;

    internal int RemoveMember() => --_members;

    /// <summary>Runs <paramref name="inputs"/> as one batch on the calling thread (the load-time probe).</summary>
    internal void RunDirect(float[][] inputs, float[] output)
    {
        int n = inputs.Length;
        for (int i = 0; i < n; i++)
        {
            inputs[i].CopyTo(_input.Span.Slice(i * ItemInputLength, ItemInputLength));
        }

        Run(n);
        _output.Span[..(n * ItemOutputLength)].CopyTo(output);
    }

    private void Loop()
    {
        while (true)
        {
            int n = 0;
            lock (_gate)
            {
                while (_pending.Count == 0 && !_stopping)
                {
                    Monitor.Wait(_gate);
                }

                if (_stopping)
                {
                    return;
                }

                // Wait for the others while it can help: never longer than the delay after the first frame, and
                // not at all once every attached submitter has a frame here.
                long deadline = _pending.Peek().Arrived + _delayTicks;
                while (_pending.Count < _model.MaxBatch && _pending.Count < Volatile.Read(ref _members) && !_stopping)
                {
                    long remaining = deadline - Stopwatch.GetTimestamp();
                    if (remaining <= 0)
                    {
                        break;
                    }

                    Monitor.Wait(_gate, TimeSpan.FromSeconds(remaining / (double)Stopwatch.Frequency));
                }

                while (n < _model.MaxBatch && _pending.TryDequeue(out var item))
                {
                    _batch[n++] = item;
                }
            }

            Exception? failure = null;
            try
            {
                for (int i = 0; i < n; i++)
                {
                    _batch[i].Input.Span.CopyTo(_input.Span.Slice(i * ItemInputLength, ItemInputLength));
                }

                Run(n);
                for (int i = 0; i < n; i++)
                {
                    _output.Span.Slice(i * ItemOutputLength, ItemOutputLength).CopyTo(_batch[i].Output.Span);
                }

                Interlocked.Increment(ref _batches);
                Interlocked.Add(ref _items, n);
            }
            catch (Exception e)
            {
                failure = e;
            }

            for (int i = 0; i < n; i++)
            {
                var item = _batch[i];
                _batch[i] = null!;
                if (failure is null)
                {
                    item.Complete(n);
                }
                else
                {
                    item.Fail(failure);
                }
            }
        }
    }

    private void Run(int n)
    {
        var binding = _bindings[n - 1] ??= new Binding(this, n);
        try
        {
            _model.Session.RunWithBinding(_runOptions, binding.IoBinding);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelException($"model '{_model.Stylizer.Manifest.Name}': batched inference ({n} frames) failed: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>Tensors over the first n items of the batch buffers, bound once.</summary>
    private sealed class Binding : IDisposable
    {
        private readonly OrtValue _in;
        private readonly OrtValue _out;

        public Binding(InferenceBatcher b, int n)
        {
            long[] inShape = [n, .. b._itemInputShape[1..]];
            long[] outShape = [n, .. b._itemOutputShape[1..]];
            _in = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, b._input.Memory[..(n * b.ItemInputLength)], inShape);
            _out = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, b._output.Memory[..(n * b.ItemOutputLength)], outShape);
            IoBinding = b._model.Session.CreateIoBinding();
            IoBinding.BindInput(b._inputNames[0], _in);
            for (int i = 0; i < b._extras.Values.Count; i++)
            {
                IoBinding.BindInput(b._inputNames[i + 1], b._extras.Values[i]);
            }

            IoBinding.BindOutput(b._model.Stylizer.Manifest.Output.Name, _out);
        }

        public OrtIoBinding IoBinding { get; }

        public void Dispose()
        {
            IoBinding.Dispose();
            _in.Dispose();
            _out.Dispose();
        }
    }
}

/// <summary>
/// One submitter's frame for an <see cref="InferenceBatcher"/>: the input tensor it preprocessed and the output
/// tensor to fill. Reusable: a submitter keeps one and awaits each run before the next.
/// </summary>
/// <remarks>Its completion allocates nothing; continuations run on the thread pool, never on the batch thread.</remarks>
public sealed class BatchItem : IValueTaskSource<int>
{
    private ManualResetValueTaskSourceCore<int> _core = new() { RunContinuationsAsynchronously = true };

    /// <summary>The preprocessed input (borrowed until the run completes).</summary>
    public Memory<float> Input { get; set; }

    /// <summary>Receives the output (borrowed until the run completes).</summary>
    public Memory<float> Output { get; set; }

    internal long Arrived { get; private set; }

    internal ValueTask<int> Task => new(this, _core.Version);

    public int GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    internal void Prepare()
    {
        _core.Reset();
        Arrived = Stopwatch.GetTimestamp();
    }

    internal void Complete(int batchSize) => _core.SetResult(batchSize);

    internal void Fail(Exception e) => _core.SetException(e);
}

/// <summary>
/// One submitter's way into an <see cref="InferenceBatcher"/>: the batcher and the reusable item its frames
/// travel in. Passed to <see cref="StylizerPlan.StylizeAsync"/> so that batched and unbatched frames take the
/// same call.
/// </summary>
/// <remarks>The item is reused, so runs through one lane must not overlap.</remarks>
public readonly record struct BatchLane(InferenceBatcher Batcher, BatchItem Item)
{
    /// <summary>Runs the slot's input through the next batch into the slot's output; returns the batch size.</summary>
    internal ValueTask<int> RunAsync(TensorSlot slot)
    {
        Item.Input = slot.InputMemory;
        Item.Output = slot.OutputMemory;
        return Batcher.RunAsync(Item);
    }
}
