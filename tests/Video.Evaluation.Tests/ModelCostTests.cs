using Video.Inference;
using Video.Inference.Onnx;

namespace Video.Evaluation.Tests;

/// <summary>The FLOP counter on tiny graphs whose FLOPs are worked out by hand, and on bad graphs.</summary>
public class ModelCostTests
{
    private static float[] Zeros(int n) => new float[n];

    /// <summary>
    /// input 1×3×8×8 → Conv 3→4 3×3 pad 1 (1×4×8×8) → Conv 4→4 3×3 stride 2 pad 1 group 2 (1×4×4×4) → Relu → AveragePool 2×2
    /// (1×4×2×2) → Resize ×2 (1×4×4×4) → MatMul by 4×5 (1×4×4×5); and a separate Gemm 2×6 by (5×6)ᵀ.
    /// </summary>
    private static global::Onnx.GraphProto TinyGraph(bool dynamicInput)
    {
        var g = new OnnxGraphBuilder("tiny");
        g.Input("input", dynamicInput ? new long?[] { 1, 3, null, null } : new long?[] { 1, 3, 8, 8 });
        g.Input("g_in", 2, 6);
        var w1 = g.Initializer("w1", Zeros(4 * 3 * 9), 4, 3, 3, 3);
        var b1 = g.Initializer("b1", Zeros(4), 4);
        var c1 = g.Node("Conv", ["input", w1, b1], null, ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }));
        var w2 = g.Initializer("w2", Zeros(4 * 2 * 9), 4, 2, 3, 3);
        var c2 = g.Node("Conv", [c1, w2], null, ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }), ("strides", new long[] { 2, 2 }), ("group", 2));
        var r = g.Node("Relu", [c2]);
        var p = g.Node("AveragePool", [r], null, ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
        var scales = g.Initializer("scales", [1f, 1f, 2f, 2f], 4);
        var up = g.Node("Resize", [p, "", scales], null, ("mode", "nearest"));
        var m = g.Initializer("m", Zeros(20), 4, 5);
        g.Node("MatMul", [up, m], "out");
        var gb = g.Initializer("gb", Zeros(30), 5, 6);
        g.Node("Gemm", ["g_in", gb], "g_out", ("transB", 1));
        g.Output("out", 1, 4, 4, 5);
        g.Output("g_out", 2, 5);
        return global::Onnx.ModelProto.Parser.ParseFrom(g.ToBytes()).Graph;
    }

    [Fact]
    public void Count_TinyGraph_MatchesHandCount()
    {
        var cost = ModelCost.Count(TinyGraph(dynamicInput: false), new Dictionary<string, long[]>());

        // Conv 1: 2·4·3·3·3·8·8 = 13 824; conv 2 (group 2, 2 input channels per group, 4×4 out): 2·4·2·3·3·4·4 = 2 304.
        Assert.Equal(13_824 + 2_304, cost.ConvFlops);

        // MatMul: batch 1·4, 4×4 by 4×5: 2·4·4·4·5 = 640; Gemm 2×6 by 6×5: 2·2·6·5 = 120.
        Assert.Equal(640 + 120, cost.MatMulFlops);
        Assert.Equal(16_128 + 760, cost.Flops);
        Assert.Equal(4, cost.CountedNodes);
        Assert.Equal(7, cost.Nodes);

        // Relu 64 + AveragePool 16 + Resize 64 output elements.
        Assert.Equal(64 + 16 + 64, cost.OtherElements);
    }

    [Fact]
    public void Count_DynamicInputGivenSize_ScalesWithArea()
    {
        var graph = TinyGraph(dynamicInput: true);
        var small = ModelCost.Count(graph, new Dictionary<string, long[]> { ["input"] = [1, 3, 8, 8] });
        var large = ModelCost.Count(graph, new Dictionary<string, long[]> { ["input"] = [1, 3, 16, 32] });
        Assert.Equal(16_128, small.ConvFlops);
        Assert.Equal(16_128 * 8, large.ConvFlops);
    }

    /// <summary>
    /// Luma the way the exported fast models compute it: x (1×3×H×W) flattened to 1×3×(H·W) by a Reshape whose target is
    /// fixed, multiplied by 1×3 weights, and reshaped back to 1×1×H×W with a target built from Shape → Slice → Concat.
    /// </summary>
    [Fact]
    public void Count_ShapeComputedReshape_FollowsTheValues()
    {
        var g = new OnnxGraphBuilder("luma");
        g.Input("x", 1, 3, null, null);
        var w = g.Initializer("w", [0.299f, 0.587f, 0.114f], 1, 3);
        var flat = g.InitializerInt64("flat", [1, 3, -1], 3);
        var oneOne = g.InitializerInt64("one_one", [1, 1], 2);
        var start = g.InitializerInt64("start", [2], 1);
        var end = g.InitializerInt64("end", [4], 1);
        var hw = g.Node("Slice", [g.Node("Shape", ["x"]), start, end]);
        var y = g.Node("MatMul", [w, g.Node("Reshape", ["x", flat])]);
        var luma = g.Node("Reshape", [y, g.Node("Concat", [oneOne, hw], null, ("axis", 0L))]);
        var crop = g.Node("Slice", [luma, g.InitializerInt64("c0", [1, 2], 2), g.InitializerInt64("c1", [-1, -2], 2), g.InitializerInt64("ca", [2, 3], 2)]);
        g.Node("Relu", [crop], "out");
        g.Output("out", 1, 1, null, null);
        var graph = global::Onnx.ModelProto.Parser.ParseFrom(g.ToBytes()).Graph;

        var cost = ModelCost.Count(graph, new Dictionary<string, long[]> { ["x"] = [1, 3, 6, 10] });

        // MatMul 1×3 by 1×3×60: 2·1·3·60 = 360. The Relu sees the luma (1×1×6×10) cropped by 1 row and 2 columns a side: 4×6.
        Assert.Equal(360, cost.MatMulFlops);
        Assert.Equal(0, cost.ConvFlops);
        Assert.Equal(1, cost.CountedNodes);

        // Elements counted: the crop (24) and the Relu (24); shape arithmetic and reshapes count nothing.
        Assert.Equal(24 + 24, cost.OtherElements);
    }

    [Fact]
    public void Count_DynamicInputWithoutSize_Throws()
    {
        var e = Assert.Throws<ModelException>(() => ModelCost.Count(TinyGraph(dynamicInput: true), new Dictionary<string, long[]>()));
        Assert.Contains("'input' has a dynamic shape", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Count_UnsupportedOperator_NamesIt()
    {
        var g = new OnnxGraphBuilder("odd");
        g.Input("x", 1, 3, 4, 4);
        g.Node("NonMaxSuppression", ["x"], "y");
        g.Output("y", 1);
        var graph = global::Onnx.ModelProto.Parser.ParseFrom(g.ToBytes()).Graph;
        var e = Assert.Throws<ModelException>(() => ModelCost.Count(graph, new Dictionary<string, long[]>()));
        Assert.Contains("NonMaxSuppression", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Count_ShippedModels_CountAtFrameSize()
    {
        var repo = new DirectoryInfo(AppContext.BaseDirectory);
        while (repo is not null && !File.Exists(Path.Combine(repo.FullName, "Video.sln")))
        {
            repo = repo.Parent;
        }

        Assert.NotNull(repo);
        var models = Directory.GetFiles(Path.Combine(repo.FullName, "models"), "*.onnx").Where(f => !f.EndsWith(".style.onnx", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(models);
        foreach (var path in models)
        {
            var cost = ModelCost.Count(path, new Dictionary<string, long[]> { ["input"] = [1, 3, 360, 640] });

            // Every shipped model is a conv net of well under the ~15 GFLOP of the classic Johnson design at this size.
            Assert.InRange(cost.Flops, 1e6, 15e9);
        }
    }
}
