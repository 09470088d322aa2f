using Video.Inference;

namespace Video.Training.Export;

/// <summary>The <c>models/NAME.json</c> manifest of a trained model, in the host's one format (<see cref="ModelManifest"/>).</summary>
internal static class TrainedManifest
{
    /// <summary>The manifest of a trained model: RGB [0,1] NCHW tensors <c>input</c>/<c>output</c>, any size that is a multiple of <paramref name="multipleOf"/>.</summary>
    public static ModelManifest Create(string name, ModelFamily family, string description, int multipleOf, ModelProvenance provenance, AdainSpec? adain = null) => new()
    {
        Name = name,
        Family = family,
        Description = description,
        Model = name + ".onnx",
        Input = new TensorSpec { Name = "input" },
        Output = new TensorSpec { Name = "output" },
        Size = new SizeRule { Mode = SizeMode.Dynamic, MultipleOf = multipleOf },
        SampleSheet = name + ".sheet.png",
        Adain = adain,
        Provenance = provenance,
    };
}
