using System.Globalization;
using TorchSharp;
using Video.Inference;
using Video.Training.Data;
using Video.Training.Export;
using Video.Training.Internal;
using Video.Training.Losses;
using Video.Training.Models;
using static TorchSharp.torch;

namespace Video.Training.Methods;

/// <summary>
/// Options of cartoon training (<see cref="CartoonMethod"/>). <see cref="RunOptions.StyleWeight"/> is unused; each
/// representation has its own weight. Every weight may be changed when resuming (all discriminators always exist).
/// </summary>
internal sealed record CartoonOptions : RunOptions
{
    public CartoonOptions()
    {
        Steps = 3000;
        Crop = 160;
        ContentWeight = 2;
        TvWeight = 10;
        LearningRate = 5e-4;
        MaxMinutes = 60;
    }

    /// <summary>Folder of cartoon images (recursive; null: Debian's openclipart-png, installed when missing).</summary>
    public string? CartoonDir { get; init; }

    /// <summary>Target domain of unpaired translation (any image folder; wins over <see cref="CartoonDir"/> as the discriminators' real images).</summary>
    public string? TargetDir { get; init; }

    /// <summary>The folder whose images the discriminators see as real.</summary>
    public string DomainDir => TargetDir ?? CartoonDir ?? CartoonImages.OpenClipartDir;

    public int ContentShortSide { get; init; } = 200;

    /// <summary>Short side the domain images are scaled to (clip art is cut to its drawing first).</summary>
    public int DomainShortSide { get; init; } = 200;

    /// <summary>At most this many domain images are kept (a spread of the folder).</summary>
    public int DomainLimit { get; init; } = 1200;

    /// <summary>Structure representation: content-style loss between the output and its superpixel mean-colour version.</summary>
    public double StructureWeight { get; init; } = 2;

    /// <summary>Felzenszwalb scale of the superpixels (larger: larger segments).</summary>
    public double SuperpixelScale { get; init; } = 200;

    /// <summary>Surface representation: LSGAN on guided-filtered outputs against guided-filtered domain images.</summary>
    public double SurfaceWeight { get; init; } = 1;

    /// <summary>Texture representation: LSGAN on random-grey outputs against random-grey domain images.</summary>
    public double TextureWeight { get; init; } = 1;

    /// <summary>LSGAN on the plain RGB output (CUT's adversarial term; 0 = off).</summary>
    public double RgbWeight { get; init; }

    /// <summary>CUT's PatchNCE loss between the generator's encoder features of input and output (0 = off).</summary>
    public double NceWeight { get; init; }

    public int NcePatches { get; init; } = 128;

    /// <summary>CartoonGAN's edge promotion: edge-blurred domain images are shown to the discriminators as fake.</summary>
    public bool EdgePromote { get; init; } = true;

    /// <summary>Warm start: L1 distance to <see cref="ToonModel"/>'s output, weight falling linearly to 0 over <see cref="DistillSteps"/> steps (0 = off).</summary>
    public double DistillWeight { get; init; } = 10;

    public int DistillSteps { get; init; } = 300;

    /// <summary>
    /// Share of the warm start taken on ResNet-18 features instead of pixels: the distillation term is
    /// <c>L1 + this × content distance to the toon output</c>. Pixel L1 alone drew the toon's thin outlines as blurry dark
    /// bands for hundreds of steps; the features place them.
    /// </summary>
    public double DistillPerceptual { get; init; } = 1;

    /// <summary>The ONNX model distilled at the start (null: models/toon.onnx of the repository).</summary>
    public string? ToonModel { get; init; }

    public double DiscriminatorLearningRate { get; init; } = 2e-4;

    /// <summary>The generator sees crops this much larger on every side; every loss sees only the inner <see cref="RunOptions.Crop"/> pixels.</summary>
    public int LossMargin { get; init; } = 16;

    /// <summary>The generator design (<see cref="StylizerSpec.Cartoon"/>).</summary>
    public static StylizerSpec Spec => StylizerSpec.Cartoon;
}

/// <summary>
/// Trains a real-time cartoon generator (<see cref="StylizerSpec.Cartoon"/>) from photos and an unpaired folder of cartoon
/// (or any target-domain) images: White-box cartoonization's surface, structure and texture representations (Wang &amp; Yu
/// 2020), CartoonGAN's edge-promoting adversarial loss (Chen et al. 2018), a ResNet-18 content loss, TV, an optional warm start
/// distilled from the hand-set <c>toon</c> filter, and CUT's PatchNCE loss (Park et al. 2020) for unpaired translation.
/// </summary>
internal static class CartoonMethod
{
    public const string CriticsFile = "critics.bin";
    public const string CriticsOptimizerFile = "critics_optimizer.bin";
    public const string HeadsFile = "nce_heads.bin";

    public static int Run(CartoonOptions o, ILossNetwork net)
    {
        var previous = TrainingSession.Previous(o);
        torch.manual_seed(o.Seed);
        if (o.TargetDir is null && o.CartoonDir is null)
        {
            CartoonImages.EnsureOpenClipart();
        }

        using var content = ImageFolder.Load(o.ContentDir, o.ContentShortSide, o.HoldoutEvery, o.ContentLimit);
        using var domain = CartoonImages.Load(o.DomainDir, o.DomainShortSide, o.DomainLimit, o.Seed);
        string toonPath = o.DistillWeight > 0 ? ResolveToon(o.ToonModel) : "";
        using var toon = o.DistillWeight > 0 ? new OrtModel(toonPath) : null;
        Console.WriteLine($"cartoon '{o.Name}': {content.Count} training photos from {content.Directory} ({content.HeldOutFiles.Count} held out); {domain.Count} domain images from {domain.Directory} ({domain.Scanned} scanned, {domain.Skipped} skipped)");

        var spec = CartoonOptions.Spec;
        var model = new FastStylizer(spec);
        var heads = new PatchNceHeads(PatchNceHeads.ChannelsOf(spec));
        var critics = new CartoonCritics();
        var opt = torch.optim.Adam(model.parameters().Concat(heads.parameters()), lr: o.LearningRate, beta1: 0.5, beta2: 0.99);
        var dOpt = torch.optim.Adam(critics.parameters(), lr: o.DiscriminatorLearningRate, beta1: 0.5, beta2: 0.99);
        var session = TrainingSession.Start(o, previous, () => new RunState
        {
            Method = "cartoon",
            Name = o.Name,
            Command = o.Command,
            GitCommit = ModelProvenance.CurrentGitCommit(),
            StartedAt = DateTime.UtcNow.ToString("O"),
            LossNetwork = net.Description,
        }, model, opt, FastMethod.WeightsFile,
            new TrainingSession.Companion(heads, HeadsFile),
            new TrainingSession.Companion(critics, CriticsFile, dOpt, CriticsOptimizerFile));
        var state = session.State;
        state.Unreadable = content.Unreadable;
        state.HeldOutContent = content.HeldOutFiles.Select(Path.GetFileName).ToList()!;
        state.StyleFiles = [Path.GetFullPath(o.DomainDir)];
        state.Data = DataDescription(o, content, domain, toonPath);
        session.RecordOptions(o);
        SaveDomainSample(domain, Path.Combine(o.RunDir, "domain.sample.png"), o.Crop, o.Seed);

        model.train();
        heads.train();
        critics.train();
        int m = o.LossMargin;
        session.Run($"cartoon '{o.Name}'", $"cartoon '{o.Name}' ({Path.GetFileName(o.DomainDir.TrimEnd('/'))})", rng =>
        {
            var x = content.SampleBatch(rng, o.Batch, o.Crop + (2 * m));
            var (real, blurred) = domain.SampleBatch(rng, o.Batch, o.Crop);
            var grey = CartoonLosses.RandomGreyWeights(rng);

            var z = model.LogitChange(x);
            var y = model.Apply(z, x);
            var (xi, yi) = (Inner(x, m), Inner(y, m));

            // Discriminators first, on the detached output (LSGAN; edge-promoted cartoons count as fake).
            var critic = Critics(o, critics, grey);
            var dValues = new Dictionary<string, double>();
            if (critic.Count > 0)
            {
                dOpt.zero_grad();
                Tensor? dLoss = null;
                foreach (var (name, _, d, view) in critic)
                {
                    var fake = d.forward(view(yi.detach()));
                    var lossD = o.EdgePromote
                        ? CartoonLosses.DiscriminatorLoss(d.forward(view(real)), fake, d.forward(view(blurred)))
                        : CartoonLosses.DiscriminatorLoss(d.forward(view(real)), fake);
                    dValues["d_" + name] = lossD.item<float>();
                    dLoss = dLoss is null ? lossD : dLoss + lossD;
                }

                dLoss!.backward();
                dOpt.step();
            }

            opt.zero_grad();
            var terms = new List<(string, double, Tensor)>();
            double distill = toon is null ? 0 : o.DistillWeight * Math.Max(0, 1 - ((double)session.Step / Math.Max(1, o.DistillSteps)));
            Tensor? toonTarget = null;
            if (distill > 0)
            {
                using (torch.no_grad())
                {
                    toonTarget = Inner(RunPerImage(toon!, x), m);
                }
            }

            bool distillFeatures = toonTarget is not null && o.DistillPerceptual > 0;
            if (o.ContentWeight > 0 || o.StructureWeight > 0 || distillFeatures)
            {
                var fy = net.Features(yi);
                Tensor FeaturesOf(Tensor image)
                {
                    using (torch.no_grad())
                    {
                        return net.Features(image)[net.ContentLayer];
                    }
                }

                if (o.ContentWeight > 0)
                {
                    terms.Add(("content", o.ContentWeight, StyleLosses.ContentLoss(fy[net.ContentLayer], FeaturesOf(xi))));
                }

                if (o.StructureWeight > 0)
                {
                    terms.Add(("structure", o.StructureWeight, StyleLosses.ContentLoss(fy[net.ContentLayer], FeaturesOf(CartoonLosses.SuperpixelMeanColour(yi, o.SuperpixelScale)))));
                }

                if (distillFeatures)
                {
                    terms.Add(("distill", distill, (yi - toonTarget!).abs().mean() + (o.DistillPerceptual * StyleLosses.ContentLoss(fy[net.ContentLayer], FeaturesOf(toonTarget!)))));
                }
            }

            if (toonTarget is not null && !distillFeatures)
            {
                terms.Add(("distill", distill, (yi - toonTarget).abs().mean()));
            }

            foreach (var (name, weight, d, view) in critic)
            {
                terms.Add((name, weight, CartoonLosses.GeneratorLoss(d.forward(view(yi)))));
            }

            if (o.NceWeight > 0)
            {
                terms.Add(("nce", o.NceWeight, CartoonLosses.PatchNce(model.EncoderFeatures(y), model.EncoderFeatures(x), heads, o.NcePatches, rng)));
            }

            terms.Add(("tv", o.TvWeight, StyleLosses.TotalVariation(yi)));
            if (o.ChangeWeight > 0)
            {
                terms.Add(("change", o.ChangeWeight, Inner(z, m).square().mean()));
            }

            var values = LossTerms.BackwardAndStep(opt, [.. terms]);
            foreach (var (k, v) in dValues)
            {
                values[k] = v;
            }

            return values;
        });

        if (o.OutDir is not null)
        {
            Packaging.PackageCartoon(o.RunDir, o.OutDir, o.ContentDir);
        }

        return 0;
    }

    /// <summary>A sheet of domain crops as the discriminators see them: clean (real) and edge-promoted (fake), for a look at the data.</summary>
    private static void SaveDomainSample(CartoonImages domain, string path, int crop, int seed)
    {
        using var scope = torch.NewDisposeScope();
        var (clean, blurred) = domain.SampleBatch(new Random(seed), 4, crop);
        OpenCvSharp.Mat Cell(Tensor t)
        {
            using var m = ImageTensors.ToBgr(t);
            return ImageTensors.Resize(m, SampleSheet.CellHeight, SampleSheet.CellHeight);
        }

        var rows = new List<IReadOnlyList<OpenCvSharp.Mat>>();
        for (int i = 0; i < 4; i += 2)
        {
            var cells = new[] { clean[i], blurred[i], clean[i + 1], blurred[i + 1] }.Select(Cell).Select(c =>
            {
                var cell = new OpenCvSharp.Mat(SampleSheet.CellHeight, SampleSheet.CellWidth, OpenCvSharp.MatType.CV_8UC3, new OpenCvSharp.Scalar(64, 64, 64));
                using (var dst = new OpenCvSharp.Mat(cell, new OpenCvSharp.Rect((SampleSheet.CellWidth - SampleSheet.CellHeight) / 2, 0, SampleSheet.CellHeight, SampleSheet.CellHeight)))
                {
                    c.CopyTo(dst);
                }

                c.Dispose();
                return cell;
            }).ToList();
            rows.Add(cells);
        }

        SampleSheet.Save(path, ["domain (real)", "edge-promoted (fake)", "domain (real)", "edge-promoted (fake)"], rows);
        Packaging.DisposeRows(rows);
    }

    /// <summary>The discriminators with a weight > 0: name, weight, network and the representation it sees.</summary>
    private static List<(string Name, double Weight, PatchDiscriminator D, Func<Tensor, Tensor> View)> Critics(CartoonOptions o, CartoonCritics c, float[] grey)
    {
        var list = new List<(string, double, PatchDiscriminator, Func<Tensor, Tensor>)>();
        if (o.SurfaceWeight > 0)
        {
            list.Add(("surface", o.SurfaceWeight, c.Surface, t => CartoonLosses.GuidedFilter(t)));
        }

        if (o.TextureWeight > 0)
        {
            list.Add(("texture", o.TextureWeight, c.Texture, t => CartoonLosses.Grey(t, grey)));
        }

        if (o.RgbWeight > 0)
        {
            list.Add(("rgb", o.RgbWeight, c.Rgb, t => t));
        }

        return list;
    }

    /// <summary>The distilled model: the option's file, else models/toon.onnx in the working directory or above the trainer.</summary>
    internal static string ResolveToon(string? path)
    {
        if (path is not null)
        {
            TrainerCli.RequireFile(path, "--toon model");
            return Path.GetFullPath(path);
        }

        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "models", "toon.onnx");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new TrainingDataException("models/toon.onnx not found for the distillation warm start; give --toon FILE or --distill-weight 0");
    }

    private static string DataDescription(CartoonOptions o, ImageFolder content, CartoonImages domain, string toonPath)
    {
        var inv = CultureInfo.InvariantCulture;
        string contentName = Path.GetFileName(Path.GetFullPath(o.ContentDir).TrimEnd('/'));
        string domainKind = o.TargetDir is not null ? "target domain (unpaired)" : "cartoon domain";
        var losses = new List<string>();
        if (o.ContentWeight > 0)
        {
            losses.Add(string.Create(inv, $"content {o.ContentWeight} (ResNet-18, relative)"));
        }

        if (o.StructureWeight > 0)
        {
            losses.Add(string.Create(inv, $"structure {o.StructureWeight} (output vs its Felzenszwalb superpixels, scale {o.SuperpixelScale}, filled with mean colour)"));
        }

        if (o.SurfaceWeight > 0)
        {
            losses.Add(string.Create(inv, $"surface LSGAN {o.SurfaceWeight} (self-guided filter r={CartoonLosses.SurfaceRadius} eps={CartoonLosses.SurfaceEpsilon})"));
        }

        if (o.TextureWeight > 0)
        {
            losses.Add(string.Create(inv, $"texture LSGAN {o.TextureWeight} (random grey)"));
        }

        if (o.RgbWeight > 0)
        {
            losses.Add(string.Create(inv, $"RGB LSGAN {o.RgbWeight}"));
        }

        if (o.NceWeight > 0)
        {
            losses.Add(string.Create(inv, $"PatchNCE {o.NceWeight} (CUT; {o.NcePatches} patches on 5 encoder layers, tau {CartoonLosses.NceTemperature})"));
        }

        losses.Add(string.Create(inv, $"tv {o.TvWeight}"));
        if (o.ChangeWeight > 0)
        {
            losses.Add(string.Create(inv, $"change {o.ChangeWeight}"));
        }

        if (o.DistillWeight > 0)
        {
            losses.Add(string.Create(inv, $"warm start: L1 + {o.DistillPerceptual} x ResNet-18 content distance to {Path.GetFileName(toonPath)}'s output, weight {o.DistillWeight} falling to 0 over {o.DistillSteps} steps"));
        }

        string promote = o.EdgePromote ? "; CartoonGAN edge promotion: edge-blurred domain images shown to the discriminators as fake" : "";
        return string.Create(inv,
            $"{content.TrainFiles.Count} photos of {contentName}/ (every {o.HoldoutEvery}th file by name held out for sample sheets; {content.Unreadable} unreadable skipped), random {o.Crop}px crops (the generator sees {o.Crop + (2 * o.LossMargin)}px) of images scaled to a {o.ContentShortSide}px short side, batch {o.Batch}; " +
            $"{domainKind}: {domain.Count} images of {Path.GetFullPath(o.DomainDir)} ({domain.Scanned} looked at, {domain.Skipped} skipped; transparent clip art composited onto white and cut to its drawing) at a {o.DomainShortSide}px short side{promote}; " +
            $"losses: {string.Join(", ", losses)}");
    }

    /// <summary>Runs a single-input ONNX model on each image of a batch (the hand-set toon graph takes one frame at a time).</summary>
    internal static Tensor RunPerImage(OrtModel model, Tensor batch) =>
        torch.cat(Enumerable.Range(0, (int)batch.shape[0]).Select(i => model.Run("input", batch.narrow(0, i, 1).contiguous())).ToArray(), 0);

    private static Tensor Inner(Tensor x, int margin) => margin == 0 ? x : x[.., .., margin..^margin, margin..^margin];
}
