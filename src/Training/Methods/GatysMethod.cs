using System.Diagnostics;
using TorchSharp;
using Video.Training.Data;
using Video.Training.Internal;
using Video.Training.Losses;
using static TorchSharp.torch;

namespace Video.Training.Methods;

/// <summary>Options of the optimisation-based reference method (Gatys et al. 2015).</summary>
internal sealed record GatysOptions(
    string Content,
    string Style,
    string Output,
    int Size = 384,
    int StyleSize = 384,
    int Steps = 300,
    double MaxMinutes = 10,
    double ContentWeight = 1,
    double StyleWeight = 5,
    double TvWeight = 1,
    double LearningRate = 0.02,
    int Seed = 1,
    bool Lbfgs = false);

/// <summary>Optimises the pixels of one image to match a content image's features and a style image's Gram matrices.</summary>
internal static class GatysMethod
{
    public static int Run(GatysOptions o, ILossNetwork net)
    {
        torch.manual_seed(o.Seed);
        using var content = ImageTensors.Load(o.Content, o.Size).unsqueeze(0);
        using var style = ImageTensors.Load(o.Style, o.StyleSize).unsqueeze(0);
        Tensor[] grams;
        using (torch.no_grad())
        {
            grams = net.Features(style).Select(f => StyleLosses.Gram(f).DetachFromDisposeScope()).ToArray();
        }

        var clock = Stopwatch.StartNew();
        var progress = new ProgressReporter(o.Steps, o.MaxMinutes, 0, clock);
        var curve = new LossCurve();
        int step = 0;
        using var painted = Paint(net, content, grams, o, (s, values) =>
        {
            step = s;
            curve.Add(s, values);
            progress.Report(s, values, force: s == o.Steps);
            return clock.Elapsed.TotalMinutes < o.MaxMinutes;
        });
        progress.Finish();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(o.Output))!);
        ImageTensors.Save(painted, o.Output);

        string stem = Path.ChangeExtension(o.Output, null);
        curve.SaveCsv(stem + ".losses.csv");
        curve.SavePng(stem + ".losses.png", $"gatys: {Path.GetFileName(o.Content)} × {Path.GetFileName(o.Style)}");
        Console.WriteLine($"gatys: {step} steps in {clock.Elapsed.TotalMinutes:0.0} min → {o.Output}");
        foreach (var g in grams)
        {
            g.Dispose();
        }

        return 0;
    }

    /// <summary>
    /// Optimises the image (as logits, so it stays in (0,1) without clamping), starting from <paramref name="content"/>,
    /// towards its content features and the style's Gram matrices <paramref name="grams"/>; returns the result.
    /// <paramref name="afterStep"/> gets each step's number and loss terms and says whether to go on.
    /// </summary>
    /// <remarks>Uses <see cref="GatysOptions.Steps"/>, the three weights, the learning rate and <see cref="GatysOptions.Lbfgs"/> of <paramref name="o"/>.</remarks>
    public static Tensor Paint(ILossNetwork net, Tensor content, Tensor[] grams, GatysOptions o, Func<int, Dictionary<string, double>, bool>? afterStep = null)
    {
        Tensor contentTarget;
        using (torch.no_grad())
        {
            contentTarget = net.Features(content)[net.ContentLayer].DetachFromDisposeScope();
        }

        var logits = torch.nn.Parameter(torch.logit(content.clamp(0.02, 0.98)).detach());
        Dictionary<string, double> values = [];
        Tensor Loss()
        {
            var x = torch.sigmoid(logits);
            var feats = net.Features(x);
            var lc = StyleLosses.ContentLoss(feats[net.ContentLayer], contentTarget);
            var ls = StyleLosses.GramLoss(feats, grams);
            var ltv = StyleLosses.TotalVariation(x);
            var loss = (o.ContentWeight * lc) + (o.StyleWeight * ls) + (o.TvWeight * ltv);
            values = new() { ["loss"] = loss.item<float>(), ["content"] = lc.item<float>(), ["style"] = ls.item<float>(), ["tv"] = ltv.item<float>() };
            return loss;
        }

        // L-BFGS (as Gatys et al.) converges in far fewer evaluations; Adam on logits is the cheaper, steadier default.
        optim.Optimizer opt = o.Lbfgs
            ? torch.optim.LBFGS([logits], lr: 1, max_iter: 1, history_size: 50)
            : torch.optim.Adam([logits], lr: o.LearningRate * 4);
        for (int step = 0; step < o.Steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            if (o.Lbfgs)
            {
                ((TorchSharp.Modules.LBFGS)opt).step(() =>
                {
                    opt.zero_grad();
                    var loss = Loss();
                    loss.backward();
                    return loss;
                });
            }
            else
            {
                opt.zero_grad();
                var loss = Loss();
                loss.backward();
                opt.step();
            }

            if (afterStep is not null && !afterStep(step + 1, values))
            {
                break;
            }
        }

        contentTarget.Dispose();
        using (torch.no_grad())
        {
            return torch.sigmoid(logits).detach();
        }
    }
}
