using static TorchSharp.torch;

namespace Video.Training.Losses;

/// <summary>One optimizer step on a weighted sum of named loss terms, as every method takes it.</summary>
internal static class LossTerms
{
    /// <summary>
    /// Backpropagates Σ weight · term (summed in the given order), steps <paramref name="opt"/> and returns each term's
    /// unweighted value and the total as <c>"loss"</c> (first), for the loss curve and the progress line.
    /// </summary>
    /// <remarks>The caller zeroes the gradients before the forward pass.</remarks>
    public static Dictionary<string, double> BackwardAndStep(optim.Optimizer opt, params ReadOnlySpan<(string Name, double Weight, Tensor Value)> terms)
    {
        Tensor loss = terms[0].Weight * terms[0].Value;
        for (int i = 1; i < terms.Length; i++)
        {
            loss = loss + (terms[i].Weight * terms[i].Value);
        }

        loss.backward();
        opt.step();
        var values = new Dictionary<string, double> { ["loss"] = loss.item<float>() };
        foreach (var (name, _, value) in terms)
        {
            values[name] = value.item<float>();
        }

        return values;
    }
}
