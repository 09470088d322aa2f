using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace Video.Inference.Onnx;

/// <summary>What <see cref="Int8Quantizer.Quantize"/> did: the convolutions it quantized and the activation ranges it calibrated.</summary>
/// <param name="ConvolutionsQuantized">How many convolutions were made int8.</param>
/// <param name="ConvolutionsKept">How many stayed float (too narrow, grouped, or kept on request).</param>
/// <param name="CalibrationInputs">How many inputs the ranges were measured on.</param>
/// <param name="Ranges">The calibrated range of each quantized activation, by tensor name.</param>
/// <param name="Quantized">Names (outputs) of the convolutions made int8, in graph order.</param>
/// <param name="Candidates">Names of every convolution wide enough to be made int8, in graph order, including those kept float on request.</param>
public sealed record Int8Report(int ConvolutionsQuantized, int ConvolutionsKept, int CalibrationInputs, IReadOnlyDictionary<string, (float Min, float Max)> Ranges, IReadOnlyList<string> Quantized, IReadOnlyList<string> Candidates);

/// <summary>
/// Static int8 quantization of a model's convolutions in ONNX's QDQ form, calibrated on real inputs: uint8 activations
/// (asymmetric, over a range measured on the calibration inputs: minimum to maximum, a percentile, or the range of least
/// rounding and clipping error), int8 weights (symmetric, one scale per output channel) and
/// int32 biases. ONNX Runtime's CPU provider fuses each <c>DequantizeLinear → Conv → (Relu →) QuantizeLinear</c> unit into
/// one <c>QLinearConv</c>, which runs on the CPU's int8 dot-product instructions (VNNI here).
/// </summary>
/// <remarks>
/// Only <c>Conv</c> nodes whose weights are initializers are quantized; everything else (padding, resizing, the colour
/// and luma paths, the sigmoid) stays float. A convolution followed only by a <c>Relu</c> is quantized after the
/// <c>Relu</c> (range from 0), which lets ONNX Runtime drop the <c>Relu</c>. A convolution with fewer than
/// <see cref="MinimumChannels"/> input or output channels (the 3-channel ends) stays float: it is cheap and the colour
/// accuracy lives there. Measured on starry-night at 640×360: quantizing the 16- and 32-channel convolutions too cost
/// 1.4 dB of the worst photo's PSNR for little time; widening the calibrated ranges by 1.3–2× lowered PSNR, and ranges
/// of least error raised it (the error is mostly resolution, not clipping). Convolutions named in <c>keepFloat</c> stay
/// float (<see cref="Int8Variant"/> chooses them by their cost in PSNR).
/// </remarks>
public static class Int8Quantizer
{
    /// <summary>Convolutions with fewer input or output channels than this stay float.</summary>
    public const int MinimumChannels = 32;

    /// <summary>
    /// Quantizes <paramref name="model"/> (ONNX bytes) with activation ranges measured by running it on
    /// <paramref name="calibration"/> (inputs by name, each a full set for one run).
    /// </summary>
    public static byte[] Quantize(byte[] model, IReadOnlyList<IReadOnlyDictionary<string, DenseTensor<float>>> calibration, out Int8Report report, double percentile = 100, IReadOnlySet<string>? keepFloat = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(calibration.Count);
        var proto = ModelProto.Parser.ParseFrom(model);
        var graph = proto.Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name);
        var consumers = graph.Node.SelectMany(n => n.Input.Select(i => (Input: i, Node: n))).ToLookup(x => x.Input, x => x.Node);

        var units = new List<ConvUnit>();
        var candidates = new List<string>();
        int kept = 0;
        foreach (var conv in graph.Node.Where(n => n.OpType == "Conv"))
        {
            if (!initializers.TryGetValue(conv.Input[1], out var w) || w.Dims.Count != 4 || w.Dims[0] < MinimumChannels || w.Dims[1] < MinimumChannels
                || conv.Attribute.Any(a => a.Name == "group" && a.I != 1))
            {
                kept++;
                continue;
            }

            candidates.Add(conv.Output[0]);
            if (keepFloat?.Contains(conv.Output[0]) == true)
            {
                kept++;
                continue;
            }

            var next = consumers[conv.Output[0]].ToList();
            var relu = next.Count == 1 && next[0].OpType == "Relu" ? next[0] : null;
            units.Add(new ConvUnit(conv, w, relu is null ? conv.Output[0] : relu.Output[0], relu));
        }

        var ranges = Calibrate(proto, units.SelectMany(u => new[] { u.Conv.Input[0], u.OutputPoint }).Distinct().ToList(), calibration, percentile);
        // Tensors that already pass through Q → DQ, by the dequantized name: a convolution reading one needs no second pair.
        var quantized = new Dictionary<string, (float Scale, byte Zero)>();
        foreach (var unit in units)
        {
            Rewrite(graph, initializers, consumers, unit, ranges, quantized);
        }

        // Opset 13 is the first with per-channel (axis) DequantizeLinear.
        foreach (var opset in proto.OpsetImport.Where(o => o.Domain is "" or "ai.onnx" && o.Version < 13))
        {
            opset.Version = 13;
        }

        report = new Int8Report(units.Count, kept, calibration.Count, ranges, units.Select(u => u.Conv.Output[0]).ToList(), candidates);
        return proto.ToByteArray();
    }

    /// <summary>
    /// Runs the float model with <paramref name="tensors"/> as extra outputs and returns each one's range over every run:
    /// the minimum and maximum, or with <paramref name="percentile"/> below 100 the values that many percent of the
    /// samples lie above and below.
    /// </summary>
    private static Dictionary<string, (float Min, float Max)> Calibrate(ModelProto proto, IReadOnlyList<string> tensors, IReadOnlyList<IReadOnlyDictionary<string, DenseTensor<float>>> calibration, double percentile)
    {
        var probe = proto.Clone();
        var existing = probe.Graph.Output.Select(o => o.Name).ToHashSet();
        foreach (var name in tensors.Where(t => !existing.Contains(t)))
        {
            probe.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        }

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
        using var session = new InferenceSession(probe.ToByteArray(), options);
        var samples = tensors.ToDictionary(t => t, _ => new List<float>());
        foreach (var inputs in calibration)
        {
            using var results = session.Run(inputs.Select(kv => NamedOnnxValue.CreateFromTensor(kv.Key, kv.Value)).ToList(), tensors);
            foreach (var r in results)
            {
                samples[r.Name].AddRange(r.AsEnumerable<float>());
            }
        }

        return samples.ToDictionary(kv => kv.Key, kv => Range(kv.Value, percentile));
    }

    /// <summary>
    /// The range of <paramref name="values"/> that leaves (100 − <paramref name="percentile"/>) % of them out at each end
    /// (all of them at 100). A <paramref name="percentile"/> of 0 chooses the range itself: of the ranges that leave out
    /// 0 to 1 % at each end, the one whose uint8 rounding and clipping give the least squared error on the values.
    /// </summary>
    private static (float Min, float Max) Range(List<float> values, double percentile)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(values);
        span.Sort();
        if (percentile > 0)
        {
            int cut = (int)(span.Length * (100 - Math.Min(percentile, 100)) / 100);
            return (span[cut], span[span.Length - 1 - cut]);
        }

        // Every 64th value (sorted, so an even spread) is enough to compare candidate ranges.
        var sample = new float[(span.Length + 63) / 64];
        for (int i = 0; i < sample.Length; i++)
        {
            sample[i] = span[i * 64];
        }

        (float Min, float Max) best = (span[0], span[^1]);
        double bestError = double.PositiveInfinity;
        foreach (double leaveOut in new[] { 0, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2 })
        {
            int cut = (int)(span.Length * leaveOut);
            var range = (span[cut], span[span.Length - 1 - cut]);
            double error = QuantizationError(sample, range);
            if (error < bestError)
            {
                (best, bestError) = (range, error);
            }
        }

        return best;
    }

    /// <summary>Sum of squared differences between <paramref name="values"/> and their uint8 quantization over <paramref name="range"/>.</summary>
    private static double QuantizationError(float[] values, (float Min, float Max) range)
    {
        var (scale, zero) = UInt8Params(range);
        double sum = 0;
        foreach (float v in values)
        {
            float q = (Math.Clamp(MathF.Round(v / scale) + zero, 0, 255) - zero) * scale;
            sum += (v - q) * (double)(v - q);
        }

        return sum;
    }

    private static void Rewrite(GraphProto graph, Dictionary<string, TensorProto> initializers, ILookup<string, NodeProto> consumers, ConvUnit unit, Dictionary<string, (float Min, float Max)> ranges, Dictionary<string, (float Scale, byte Zero)> quantized)
    {
        var conv = unit.Conv;
        string prefix = $"q8_{conv.Output[0]}";

        // Input activation: Q → DQ in front of the convolution (unless another unit's output already put them there).
        float xScale;
        if (quantized.TryGetValue(conv.Input[0], out var known))
        {
            xScale = known.Scale;
        }
        else
        {
            (xScale, byte xZero) = UInt8Params(ranges[conv.Input[0]]);
            string xq = InsertQdq(graph, conv.Input[0], xScale, xZero, $"{prefix}_x", before: conv);
            quantized[xq] = (xScale, xZero);
            conv.Input[0] = xq;
        }

        // Weights: int8, symmetric, one scale per output channel.
        var w = unit.Weights;
        int cout = (int)w.Dims[0];
        int perChannel = (int)(w.Dims[1] * w.Dims[2] * w.Dims[3]);
        float[] wf = Floats(w);
        float[] wScale = new float[cout];
        var wq = new byte[wf.Length];
        for (int c = 0; c < cout; c++)
        {
            float maxAbs = 0;
            for (int i = 0; i < perChannel; i++)
            {
                maxAbs = Math.Max(maxAbs, Math.Abs(wf[(c * perChannel) + i]));
            }

            wScale[c] = maxAbs > 0 ? maxAbs / 127f : 1f;
            for (int i = 0; i < perChannel; i++)
            {
                int q = (int)MathF.Round(wf[(c * perChannel) + i] / wScale[c]);
                wq[(c * perChannel) + i] = unchecked((byte)(sbyte)Math.Clamp(q, -127, 127));
            }
        }

        graph.Initializer.Remove(w);
        AddInitializer(graph, $"{prefix}_w", TensorProto.Types.DataType.Int8, w.Dims, ByteString.CopyFrom(wq));
        AddFloats(graph, $"{prefix}_w_scale", wScale, cout);
        AddInitializer(graph, $"{prefix}_w_zero", TensorProto.Types.DataType.Int8, [cout], ByteString.CopyFrom(new byte[cout]));
        conv.Input[1] = AddDequantize(graph, $"{prefix}_w", $"{prefix}_w_scale", $"{prefix}_w_zero", axis: 0, before: conv);

        // Bias: int32 at the product of the activation and weight scales.
        if (conv.Input.Count > 2 && initializers.TryGetValue(conv.Input[2], out var b))
        {
            float[] bf = Floats(b);
            var bScale = new float[cout];
            var bq = new int[cout];
            for (int c = 0; c < cout; c++)
            {
                bScale[c] = xScale * wScale[c];
                bq[c] = (int)Math.Clamp(Math.Round(bf[c] / bScale[c]), int.MinValue, int.MaxValue);
            }

            graph.Initializer.Remove(b);
            AddInitializer(graph, $"{prefix}_b", TensorProto.Types.DataType.Int32, [cout], ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bq.AsSpan())));
            AddFloats(graph, $"{prefix}_b_scale", bScale, cout);
            AddInitializer(graph, $"{prefix}_b_zero", TensorProto.Types.DataType.Int32, [cout], ByteString.CopyFrom(new byte[cout * 4]));
            conv.Input[2] = AddDequantize(graph, $"{prefix}_b", $"{prefix}_b_scale", $"{prefix}_b_zero", axis: 0, before: conv);
        }

        // Output (after the Relu when there is one): Q → DQ, and every consumer reads the dequantized tensor.
        var outRange = ranges[unit.OutputPoint];
        if (unit.Relu is not null)
        {
            outRange = (0, outRange.Max);
        }

        var (yScale, yZero) = UInt8Params(outRange);
        var readers = consumers[unit.OutputPoint].ToList();
        var producer = unit.Relu ?? conv;
        int at = graph.Node.IndexOf(producer) + 1;
        string yq = $"{prefix}_y_q";
        string ydq = $"{prefix}_y_dq";
        AddFloats(graph, $"{prefix}_y_scale", [yScale], null);
        AddInitializer(graph, $"{prefix}_y_zero", TensorProto.Types.DataType.Uint8, [], ByteString.CopyFrom([yZero]));
        graph.Node.Insert(at, Node("QuantizeLinear", [unit.OutputPoint, $"{prefix}_y_scale", $"{prefix}_y_zero"], yq));
        graph.Node.Insert(at + 1, Node("DequantizeLinear", [yq, $"{prefix}_y_scale", $"{prefix}_y_zero"], ydq));
        quantized[ydq] = (yScale, yZero);
        foreach (var reader in readers)
        {
            for (int i = 0; i < reader.Input.Count; i++)
            {
                if (reader.Input[i] == unit.OutputPoint)
                {
                    reader.Input[i] = ydq;
                }
            }
        }
    }

    private static string InsertQdq(GraphProto graph, string tensor, float scale, byte zero, string name, NodeProto before)
    {
        AddFloats(graph, $"{name}_scale", [scale], null);
        AddInitializer(graph, $"{name}_zero", TensorProto.Types.DataType.Uint8, [], ByteString.CopyFrom([zero]));
        int at = graph.Node.IndexOf(before);
        graph.Node.Insert(at, Node("QuantizeLinear", [tensor, $"{name}_scale", $"{name}_zero"], $"{name}_q"));
        graph.Node.Insert(at + 1, Node("DequantizeLinear", [$"{name}_q", $"{name}_scale", $"{name}_zero"], $"{name}_dq"));
        return $"{name}_dq";
    }

    private static string AddDequantize(GraphProto graph, string input, string scale, string zero, int axis, NodeProto before)
    {
        var node = Node("DequantizeLinear", [input, scale, zero], $"{input}_dq");
        node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axis });
        graph.Node.Insert(graph.Node.IndexOf(before), node);
        return node.Output[0];
    }

    private static NodeProto Node(string op, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = output + "_node" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    /// <summary>Scale and zero point of an asymmetric uint8 range that contains 0.</summary>
    private static (float Scale, byte Zero) UInt8Params((float Min, float Max) range)
    {
        float min = Math.Min(0, range.Min);
        float max = Math.Max(0, range.Max);
        float scale = max > min ? (max - min) / 255f : 1f;
        return (scale, (byte)Math.Clamp((int)MathF.Round(-min / scale), 0, 255));
    }

    private static float[] Floats(TensorProto t)
    {
        if (t.FloatData.Count > 0)
        {
            return [.. t.FloatData];
        }

        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
    }

    private static void AddFloats(GraphProto graph, string name, float[] values, int? length) =>
        AddInitializer(graph, name, TensorProto.Types.DataType.Float, length is { } n ? [n] : [], ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())));

    private static void AddInitializer(GraphProto graph, string name, TensorProto.Types.DataType type, IEnumerable<long> dims, ByteString raw)
    {
        var t = new TensorProto { Name = name, DataType = (int)type, RawData = raw };
        t.Dims.AddRange(dims);
        graph.Initializer.Add(t);
    }

    private sealed record ConvUnit(NodeProto Conv, TensorProto Weights, string OutputPoint, NodeProto? Relu);
}
