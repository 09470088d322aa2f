using Video.Inference;
using Video.Inference.Onnx;
using Video.Tests.Shared;

namespace Video.Inference.Tests;

/// <summary>Writes fixture models with hand-set weights and their manifests into a temporary directory.</summary>
internal static class ModelFixtures
{
    public static ModelManifest Affine(TempDir dir, float gain = 0.5f, float bias = 0.25f, string name = "affine")
    {
        ProceduralModels.WriteAffine(dir.File(name + ".onnx"), gain, bias);
        var m = new ModelManifest
        {
            Name = name,
            Family = ModelFamily.External,
            Model = name + ".onnx",
            Input = new TensorSpec { Name = "input" },
            Output = new TensorSpec { Name = "output" },
        };
        m.Save(dir.File(name + ".json"));
        return ModelManifest.Load(dir.File(name + ".json"));
    }

    public static string WriteManifest(TempDir dir, string name, string json)
    {
        string path = dir.File(name + ".json");
        File.WriteAllText(path, json);
        return path;
    }
}
