using static TorchSharp.torch;

namespace Video.Training.Losses;

/// <summary>A fixed feature extractor for perceptual losses: returns the feature maps of several layers.</summary>
/// <remarks>Parameters are frozen. Input is B×3×H×W RGB in [0,1]; the network normalises it itself.</remarks>
internal interface ILossNetwork : IDisposable
{
    /// <summary>Short description written into manifests (architecture, seed or weights file).</summary>
    string Description { get; }

    /// <summary>Index (into <see cref="Features"/>) of the layer used for the content loss.</summary>
    int ContentLayer { get; }

    /// <summary>Feature maps of every style layer, shallow to deep.</summary>
    Tensor[] Features(Tensor image);
}
