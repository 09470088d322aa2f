using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using Video.Inference;

namespace Video.Evaluation;

/// <summary>
/// Floating-point work of one run of an ONNX graph at given input sizes, from its structure alone: shapes are propagated
/// node by node for the operators our models use, and the multiply-adds of the compute-bound operators are counted.
/// </summary>
/// <remarks>
/// Counted (2 FLOPs per multiply-add, bias additions not counted): <c>Conv</c> 2·N·C_out·(C_in/groups)·kH·kW·H_out·W_out,
/// <c>ConvTranspose</c> 2·N·C_in·(C_out/groups)·kH·kW·H_in·W_in, <c>MatMul</c> 2·batch·M·K·N, <c>Gemm</c> 2·M·K·N.
/// Elementwise, pooling, normalisation, resize and padding operators get shapes but no FLOPs: they are memory-bound and
/// would make a "fraction of the conv/matmul peak" meaningless. <see cref="OtherElements"/> counts their output elements, as a
/// hint of how much memory traffic they add. Shape arithmetic is followed: the values of int64 constants and of
/// <c>Shape</c>, <c>Slice</c> and <c>Concat</c> on them are kept, so a <c>Reshape</c> whose target is computed from the
/// input's shape gets its output shape. Immutable; thread safe.
/// </remarks>
public sealed record ModelCost(double ConvFlops, double MatMulFlops, double OtherElements, int CountedNodes, int Nodes)
{
    /// <summary>All counted FLOPs (conv + matmul).</summary>
    public double Flops => ConvFlops + MatMulFlops;

    /// <summary>Counts <paramref name="modelPath"/> with the given input shapes (inputs not listed must have static shapes).</summary>
    public static ModelCost Count(string modelPath, IReadOnlyDictionary<string, long[]> inputShapes)
    {
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(modelPath);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (Exception e) when (e is IOException or InvalidProtocolBufferException or UnauthorizedAccessException)
        {
            throw new ModelException($"cannot read ONNX graph {modelPath}: {e.Message}");
        }

        return Count(model.Graph, inputShapes);
    }

    /// <summary>Counts <paramref name="graph"/> with the given input shapes.</summary>
    public static ModelCost Count(GraphProto graph, IReadOnlyDictionary<string, long[]> inputShapes)
    {
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        var constants = new Dictionary<string, TensorProto>(StringComparer.Ordinal);

        // Values of the small int64 tensors that shapes are computed from (Shape → Slice → Concat → Reshape).
        var values = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var init in graph.Initializer)
        {
            shapes[init.Name] = [.. init.Dims];
            constants[init.Name] = init;
            if (init.DataType == (int)TensorProto.Types.DataType.Int64)
            {
                values[init.Name] = Int64Values(init);
            }
        }

        foreach (var input in graph.Input)
        {
            if (shapes.ContainsKey(input.Name))
            {
                continue;
            }

            if (inputShapes.TryGetValue(input.Name, out var given))
            {
                shapes[input.Name] = given;
                continue;
            }

            var dims = input.Type?.TensorType?.Shape?.Dim;
            if (dims is null || dims.Any(d => d.ValueCase != TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue))
            {
                throw new ModelException($"graph input '{input.Name}' has a dynamic shape; give its size");
            }

            shapes[input.Name] = dims.Select(d => d.DimValue).ToArray();
        }

        double conv = 0, matmul = 0, other = 0;
        int counted = 0;
        foreach (var node in graph.Node)
        {
            long[] In(int i) => i < node.Input.Count && node.Input[i].Length > 0 && shapes.TryGetValue(node.Input[i], out var s)
                ? s
                : throw new ModelException($"{node.OpType} node '{node.Name}': shape of input {i} is unknown");
            long[]? ValueOf(int i) => i < node.Input.Count && values.TryGetValue(node.Input[i], out var v) ? v : null;
            long[] Known(int i, string what) => ValueOf(i) ?? throw new ModelException($"{node.OpType} node '{node.Name}': {what} must be known");
            long[]? value = null;
            long[] output;
            switch (node.OpType)
            {
                case "Shape":
                    value = In(0);
                    output = [value.Length];
                    break;
                case "Slice":
                {
                    var x = In(0);
                    var starts = Known(1, "starts");
                    var ends = Known(2, "ends");
                    var axes = ValueOf(3) ?? Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
                    if (ValueOf(4) is { } steps && steps.Any(st => st != 1))
                    {
                        throw new ModelException($"Slice node '{node.Name}': only step 1 is supported");
                    }

                    var from = new long[x.Length];
                    output = (long[])x.Clone();
                    for (int k = 0; k < axes.Length; k++)
                    {
                        int ax = (int)(axes[k] < 0 ? axes[k] + x.Length : axes[k]);
                        long Clamp(long e) => Math.Clamp(e < 0 ? e + x[ax] : e, 0, x[ax]);
                        from[ax] = Clamp(starts[k]);
                        output[ax] = Math.Max(0, Clamp(ends[k]) - from[ax]);
                    }

                    if (ValueOf(0) is { } xv && x.Length == 1)
                    {
                        value = xv.Skip((int)from[0]).Take((int)output[0]).ToArray();
                    }

                    break;
                }

                case "Reshape":
                {
                    var x = In(0);
                    var target = (long[])Known(1, "the target shape").Clone();
                    for (int k = 0; k < target.Length; k++)
                    {
                        target[k] = target[k] == 0 ? x[k] : target[k];
                    }

                    int free = Array.IndexOf(target, -1L);
                    if (free >= 0)
                    {
                        target[free] = (long)(Product(x) / -Product(target));
                    }

                    output = target;
                    break;
                }

                case "Conv":
                {
                    var x = In(0);
                    var w = In(1);
                    long groups = Int(node, "group", 1);
                    output = Window(node, x, w[0], [w[2], w[3]]);
                    conv += 2.0 * output[0] * w[0] * (x[1] / groups) * w[2] * w[3] * output[2] * output[3];
                    counted++;
                    break;
                }

                case "ConvTranspose":
                {
                    var x = In(0);
                    var w = In(1);
                    long groups = Int(node, "group", 1);
                    var s = Ints(node, "strides") ?? [1, 1];
                    var p = Ints(node, "pads") ?? [0, 0, 0, 0];
                    var op = Ints(node, "output_padding") ?? [0, 0];
                    long cout = w[1] * groups;
                    output = [x[0], cout, ((x[2] - 1) * s[0]) - p[0] - p[2] + w[2] + op[0], ((x[3] - 1) * s[1]) - p[1] - p[3] + w[3] + op[1]];
                    conv += 2.0 * x[0] * x[1] * (cout / groups) * w[2] * w[3] * x[2] * x[3];
                    counted++;
                    break;
                }

                case "MatMul":
                {
                    var a = In(0);
                    var b = In(1);
                    if (a.Length < 2 || b.Length < 2)
                    {
                        throw new ModelException($"MatMul node '{node.Name}': 1-D operands are not supported");
                    }

                    var batch = Broadcast(a[..^2], b[..^2]);
                    output = [.. batch, a[^2], b[^1]];
                    matmul += 2.0 * Product(batch) * a[^2] * a[^1] * b[^1];
                    counted++;
                    break;
                }

                case "Gemm":
                {
                    var a = In(0);
                    var b = In(1);
                    long m = Int(node, "transA", 0) != 0 ? a[1] : a[0];
                    long k = Int(node, "transA", 0) != 0 ? a[0] : a[1];
                    long n = Int(node, "transB", 0) != 0 ? b[0] : b[1];
                    output = [m, n];
                    matmul += 2.0 * m * k * n;
                    counted++;
                    break;
                }

                case "AveragePool" or "MaxPool":
                {
                    var x = In(0);
                    var k = Ints(node, "kernel_shape") ?? throw new ModelException($"{node.OpType} node '{node.Name}' has no kernel_shape");
                    output = Window(node, x, x[1], k);
                    break;
                }

                case "GlobalAveragePool" or "GlobalMaxPool":
                    output = [In(0)[0], In(0)[1], 1, 1];
                    break;
                case "Pad":
                {
                    var x = In(0);
                    var pads = node.Input.Count > 1 ? ValueOf(1) : Ints(node, "pads");
                    if (pads is null || pads.Length != 2 * x.Length)
                    {
                        throw new ModelException($"Pad node '{node.Name}': pads must be known, {2 * x.Length} values");
                    }

                    output = x.Select((d, i) => d + pads[i] + pads[i + x.Length]).ToArray();
                    break;
                }

                case "Resize" or "Upsample":
                {
                    var x = In(0);
                    string? scalesName = node.OpType == "Upsample" ? node.Input.ElementAtOrDefault(1) : node.Input.ElementAtOrDefault(2);
                    string? sizesName = node.OpType == "Resize" ? node.Input.ElementAtOrDefault(3) : null;
                    if (!string.IsNullOrEmpty(sizesName) && constants.TryGetValue(sizesName, out var sizes))
                    {
                        output = Int64Values(sizes);
                    }
                    else if (!string.IsNullOrEmpty(scalesName) && constants.TryGetValue(scalesName, out var scales))
                    {
                        var f = FloatValues(scales);
                        output = x.Select((d, i) => (long)Math.Floor(d * (double)f[i])).ToArray();
                    }
                    else
                    {
                        throw new ModelException($"{node.OpType} node '{node.Name}': scales or sizes must be constants");
                    }

                    break;
                }

                case "ReduceMean" or "ReduceSum" or "ReduceMax" or "ReduceMin" or "ReduceL2":
                {
                    var x = In(0);
                    var axes = Ints(node, "axes")
                        ?? (node.Input.Count > 1 && constants.TryGetValue(node.Input[1], out var a) ? Int64Values(a) : null)
                        ?? Enumerable.Range(0, x.Length).Select(i => (long)i).ToArray();
                    var set = axes.Select(a => a < 0 ? a + x.Length : a).ToHashSet();
                    bool keep = Int(node, "keepdims", 1) != 0;
                    output = keep
                        ? x.Select((d, i) => set.Contains(i) ? 1 : d).ToArray()
                        : x.Where((_, i) => !set.Contains(i)).ToArray();
                    break;
                }

                case "Concat":
                {
                    var parts = Enumerable.Range(0, node.Input.Count).Select(In).ToList();
                    long axis = Int(node, "axis", 0);
                    int ax = (int)(axis < 0 ? axis + parts[0].Length : axis);
                    output = (long[])parts[0].Clone();
                    output[ax] = parts.Sum(p => p[ax]);
                    var partValues = Enumerable.Range(0, node.Input.Count).Select(ValueOf).ToList();
                    if (parts[0].Length == 1 && partValues.All(v => v is not null))
                    {
                        value = partValues.SelectMany(v => v!).ToArray();
                    }

                    break;
                }

                case "Transpose":
                {
                    var x = In(0);
                    var perm = Ints(node, "perm") ?? Enumerable.Range(0, x.Length).Reverse().Select(i => (long)i).ToArray();
                    output = perm.Select(p => x[p]).ToArray();
                    break;
                }

                case "Relu" or "LeakyRelu" or "Sigmoid" or "Tanh" or "Exp" or "Log" or "Sqrt" or "Abs" or "Neg" or "Reciprocal"
                    or "Identity" or "Clip" or "Floor" or "Ceil" or "Round" or "Softmax" or "Cast" or "Erf"
                    or "InstanceNormalization" or "BatchNormalization" or "LayerNormalization"
                    or "QuantizeLinear" or "DequantizeLinear":
                    output = In(0);
                    break;
                case "Add" or "Sub" or "Mul" or "Div" or "Mod" or "Pow" or "Max" or "Min" or "Sum" or "Mean" or "Where":
                {
                    output = Enumerable.Range(0, node.Input.Count).Select(In).Aggregate(Broadcast);

                    // Integer arithmetic on known 1-D shape values (pads computed from a Shape: Mod, Sub, Div).
                    if (node.Input.Count == 2 && output.Length == 1 && ValueOf(0) is { } a && ValueOf(1) is { } b
                        && node.OpType is "Add" or "Sub" or "Mul" or "Div" or "Mod")
                    {
                        long At(long[] v, int i) => v.Length == 1 ? v[0] : v[i];
                        value = Enumerable.Range(0, (int)output[0]).Select(i => node.OpType switch
                        {
                            "Add" => At(a, i) + At(b, i),
                            "Sub" => At(a, i) - At(b, i),
                            "Mul" => At(a, i) * At(b, i),
                            "Div" => At(a, i) / At(b, i),
                            _ => At(a, i) % At(b, i),
                        }).ToArray();
                    }

                    break;
                }

                case "Gather":
                {
                    var x = In(0);
                    var indices = In(1);
                    long axis = Int(node, "axis", 0);
                    int ax = (int)(axis < 0 ? axis + x.Length : axis);
                    output = [.. x[..ax], .. indices, .. x[(ax + 1)..]];
                    break;
                }

                default:
                    throw new ModelException($"cannot count FLOPs: operator {node.OpType} (node '{node.Name}') is not supported by the shape walk");
            }

            if (node.OpType is not ("Conv" or "ConvTranspose" or "MatMul" or "Gemm" or "Identity" or "Shape" or "Reshape") && value is null)
            {
                other += Product(output);
            }

            foreach (var o in node.Output.Where(o => o.Length > 0))
            {
                shapes[o] = output;
                if (value is not null)
                {
                    values[o] = value;
                }
            }
        }

        return new ModelCost(conv, matmul, other, counted, graph.Node.Count);
    }

    /// <summary>Output shape of a sliding-window operator (Conv, pooling) on an N×C×H×W input.</summary>
    private static long[] Window(NodeProto node, long[] x, long channels, long[] kernel)
    {
        if (x.Length != 4)
        {
            throw new ModelException($"{node.OpType} node '{node.Name}': only 2-D (N×C×H×W) inputs are supported");
        }

        string autoPad = node.Attribute.FirstOrDefault(a => a.Name == "auto_pad")?.S.ToStringUtf8() ?? "NOTSET";
        var s = Ints(node, "strides") ?? [1, 1];
        var d = Ints(node, "dilations") ?? [1, 1];
        bool ceil = Int(node, "ceil_mode", 0) != 0;
        long Side(int i)
        {
            if (autoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                return (x[2 + i] + s[i] - 1) / s[i];
            }

            var p = autoPad == "VALID" ? [0, 0, 0, 0] : Ints(node, "pads") ?? [0, 0, 0, 0];
            long span = x[2 + i] + p[i] + p[i + 2] - (((kernel[i] - 1) * d[i]) + 1);
            return (ceil ? (long)Math.Ceiling(span / (double)s[i]) : span / s[i]) + 1;
        }

        return [x[0], channels, Side(0), Side(1)];
    }

    private static long[] Broadcast(long[] a, long[] b)
    {
        int n = Math.Max(a.Length, b.Length);
        var r = new long[n];
        for (int i = 0; i < n; i++)
        {
            long da = i < n - a.Length ? 1 : a[i - (n - a.Length)];
            long db = i < n - b.Length ? 1 : b[i - (n - b.Length)];
            if (da != db && da != 1 && db != 1)
            {
                throw new ModelException($"shapes [{string.Join(',', a)}] and [{string.Join(',', b)}] do not broadcast");
            }

            r[i] = Math.Max(da, db);
        }

        return r;
    }

    private static double Product(long[] dims) => dims.Aggregate(1.0, (p, d) => p * d);

    private static long Int(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    private static long[]? Ints(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? [.. a.Ints] : null;

    private static long[] Int64Values(TensorProto t) =>
        t.RawData.Length > 0 ? MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray() : [.. t.Int64Data];

    private static float[] FloatValues(TensorProto t) =>
        t.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : [.. t.FloatData];
}
