using Google.Protobuf;
using Onnx;

namespace Video.Inference.Onnx;

/// <summary>
/// Writes ONNX graphs from C#: inputs, outputs, float initializers and nodes with attributes.
/// The trainer's exporter and the procedural models both build their graphs through this type.
/// </summary>
/// <remarks>Not thread safe; build one graph per instance.</remarks>
public sealed class OnnxGraphBuilder
{
    private readonly GraphProto _graph;
    private readonly int _opset;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _autoName;

    public OnnxGraphBuilder(string graphName, int opset = 17)
    {
        _graph = new GraphProto { Name = graphName };
        _opset = opset;
    }

    /// <summary>Declares a float32 graph input. A <c>null</c> dimension is dynamic and named after its position.</summary>
    public string Input(string name, params long?[] dims)
    {
        _graph.Input.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims));
        Claim(name);
        return name;
    }

    /// <summary>Declares a float32 graph output produced by a node already added.</summary>
    public void Output(string name, params long?[] dims) =>
        _graph.Output.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims));

    /// <summary>Adds a float32 constant tensor.</summary>
    public string Initializer(string name, ReadOnlySpan<float> data, params long[] dims)
    {
        long count = dims.Aggregate(1L, (a, d) => a * d);
        if (count != data.Length)
        {
            throw new ArgumentException($"initializer '{name}' has {data.Length} values but shape [{string.Join(',', dims)}] needs {count}");
        }

        var tensor = new TensorProto { Name = Claim(name), DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds an int64 constant tensor (shapes, axes, pads).</summary>
    public string InitializerInt64(string name, ReadOnlySpan<long> data, params long[] dims)
    {
        var tensor = new TensorProto { Name = Claim(name), DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, string? output = null, params (string Name, object Value)[] attributes) =>
        NodeMulti(opType, inputs, [output ?? Fresh(opType)], attributes)[0];

    /// <summary>Adds a node with several outputs.</summary>
    public IReadOnlyList<string> NodeMulti(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = Fresh(opType + "_node") };
        node.Input.AddRange(inputs);
        foreach (var o in outputs)
        {
            node.Output.Add(o.Length == 0 ? o : Claim(o));
        }

        foreach (var (attrName, value) in attributes)
        {
            node.Attribute.Add(Attribute(attrName, value));
        }

        _graph.Node.Add(node);
        return outputs;
    }

    /// <summary>A fresh, unused value name with the given prefix.</summary>
    public string Fresh(string prefix)
    {
        string name;
        do
        {
            name = $"{prefix}_{_autoName++}";
        }
        while (_names.Contains(name));

        return name;
    }

    /// <summary>Serialises the model with the given producer metadata.</summary>
    public byte[] ToBytes(string producer = "video", IReadOnlyDictionary<string, string>? metadata = null)
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = producer,
            ProducerVersion = "1",
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = _opset });
        if (metadata is not null)
        {
            foreach (var (k, v) in metadata)
            {
                model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
            }
        }

        return model.ToByteArray();
    }

    /// <summary>Writes the model to <paramref name="path"/> through a temporary file, so a failed write leaves nothing behind.</summary>
    public void Save(string path, string producer = "video", IReadOnlyDictionary<string, string>? metadata = null)
    {
        string tmp = path + ".tmp";
        File.WriteAllBytes(tmp, ToBytes(producer, metadata));
        File.Move(tmp, path, overwrite: true);
    }

    private string Claim(string name)
    {
        if (!_names.Add(name))
        {
            throw new ArgumentException($"value name '{name}' is already used in graph '{_graph.Name}'");
        }

        return name;
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, long?[] dims)
    {
        var shape = new TensorShapeProto();
        for (int i = 0; i < dims.Length; i++)
        {
            var dim = new TensorShapeProto.Types.Dimension();
            if (dims[i] is long d)
            {
                dim.DimValue = d;
            }
            else
            {
                dim.DimParam = $"{name}_d{i}";
            }

            shape.Dim.Add(dim);
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private static AttributeProto Attribute(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case int i:
                a.Type = AttributeProto.Types.AttributeType.Int;
                a.I = i;
                break;
            case long l:
                a.Type = AttributeProto.Types.AttributeType.Int;
                a.I = l;
                break;
            case float f:
                a.Type = AttributeProto.Types.AttributeType.Float;
                a.F = f;
                break;
            case double d:
                a.Type = AttributeProto.Types.AttributeType.Float;
                a.F = (float)d;
                break;
            case string s:
                a.Type = AttributeProto.Types.AttributeType.String;
                a.S = ByteString.CopyFromUtf8(s);
                break;
            case int[] ints:
                a.Type = AttributeProto.Types.AttributeType.Ints;
                a.Ints.AddRange(ints.Select(x => (long)x));
                break;
            case long[] longs:
                a.Type = AttributeProto.Types.AttributeType.Ints;
                a.Ints.AddRange(longs);
                break;
            case float[] floats:
                a.Type = AttributeProto.Types.AttributeType.Floats;
                a.Floats.AddRange(floats);
                break;
            default:
                throw new ArgumentException($"attribute '{name}' has unsupported type {value.GetType().Name}");
        }

        return a;
    }
}
