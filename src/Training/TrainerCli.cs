using System.CommandLine;
using Video.Capture;
using Video.Training.Data;
using Video.Training.Internal;
using Video.Training.Losses;
using Video.Training.Methods;
using Video.Training.Models;

namespace Video.Training;

/// <summary>The <c>video-train</c> command line: <c>fast</c>, <c>adain</c>, <c>gatys</c>, <c>package</c>, <c>bench</c>.</summary>
internal static class TrainerCli
{
    public static int Run(string[] args)
    {
        var root = new RootCommand("video-train: trains and exports the stylization models shipped in models/ (see docs/training.md)");
        root.Subcommands.Add(GatysCommand());
        root.Subcommands.Add(FastCommand(args));
        root.Subcommands.Add(AdaInCommand(args));
        root.Subcommands.Add(CartoonCommand(args));
        root.Subcommands.Add(CartoonEvalCommand());
        root.Subcommands.Add(BenchCommand());
        root.Subcommands.Add(PackageCommand());
        root.Subcommands.Add(CompareCommand());
        root.Subcommands.Add(EagerBenchMethod.Command());
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (TrainingDataException e)
        {
            Console.Error.WriteLine($"video-train: {e.Message}");
            return 2;
        }
    }

    /// <summary>The shared data folder (<see cref="SharedDataLocator"/>), else where it is expected: <c>../shared/data</c> beside the repository.</summary>
    public static string SharedDataDir()
    {
        if (SharedDataLocator.Find() is { } found)
        {
            return found;
        }

        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Video.sln")))
        {
            dir = dir.Parent;
        }

        return Path.GetFullPath(Path.Combine(dir?.FullName ?? Directory.GetCurrentDirectory(), "..", "shared", "data"));
    }

    /// <summary>The loss-network options every method that takes a perceptual loss shares.</summary>
    private sealed class LossNetworkOptions(int defaultBlocks)
    {
        public Option<string> Kind { get; } = new("--loss-net")
        {
            Description = "perceptual network of the losses: resnet18 (the ImageNet ResNet-18 restored with the trainer, default) or random (the fixed random multi-scale net)",
            DefaultValueFactory = _ => "resnet18",
        };

        public Option<string> Smoothing { get; } = new("--smoothing")
        {
            Description = "resnet18 activations as they are (none) or softmax-smoothed over channels (swag; Wang et al. 2021)",
            DefaultValueFactory = _ => "none",
        };

        public Option<double> Temperature { get; } = new("--temperature") { Description = "softmax temperature of --smoothing swag", DefaultValueFactory = _ => 1 };

        public Option<int> Blocks { get; } = new("--loss-blocks") { Description = $"resnet18 residual blocks used as style layers (4-8; default {defaultBlocks})", DefaultValueFactory = _ => defaultBlocks };

        public Option<int> ContentBlock { get; } = new("--content-block")
        {
            Description = $"resnet18 residual block of the content loss, 1-based (2 = layer1.1 at 1/4 of the image keeps edges and faces; {ResNet18LossNetwork.DefaultContentBlock} = layer2.1 at 1/8)",
            DefaultValueFactory = _ => ResNet18LossNetwork.DefaultContentBlock,
        };

        public Option<string?> Vgg19 { get; } = Vgg19Option();

        public Option<long> Seed { get; } = LossSeedOption();

        public void AddTo(Command cmd)
        {
            foreach (var o in new Option[] { Kind, Smoothing, Temperature, Blocks, ContentBlock, Vgg19, Seed })
            {
                cmd.Options.Add(o);
            }
        }

        public ILossNetwork Create(ParseResult r)
        {
            if (!string.IsNullOrEmpty(r.GetValue(Vgg19)))
            {
                return CreateLossNetwork(r.GetValue(Vgg19), r.GetValue(Seed));
            }

            var smoothing = r.GetValue(Smoothing) switch
            {
                "none" => ActivationSmoothing.None,
                "swag" => ActivationSmoothing.Softmax,
                var other => throw new TrainingDataException($"--smoothing must be none or swag; got '{other}'"),
            };
            return r.GetValue(Kind) switch
            {
                "resnet18" => ResNet18LossNetwork.Load(blocks: r.GetValue(Blocks), smoothing: smoothing, temperature: r.GetValue(Temperature), contentBlock: r.GetValue(ContentBlock)),
                "random" => new RandomLossNetwork(r.GetValue(Seed)),
                var other => throw new TrainingDataException($"--loss-net must be resnet18 or random; got '{other}'"),
            };
        }
    }

    internal static ILossNetwork CreateLossNetwork(string? vgg19Path, long seed)
    {
        if (string.IsNullOrEmpty(vgg19Path))
        {
            return new RandomLossNetwork(seed);
        }

        if (!File.Exists(vgg19Path))
        {
            throw new TrainingDataException($"VGG-19 weights not found: {vgg19Path}");
        }

        return Vgg19LossNetwork.Load(vgg19Path);
    }

    private static Option<string?> Vgg19Option() => new("--vgg19")
    {
        Description = "use a user-supplied torchvision VGG-19 state dict (.pt/.pth/.safetensors) as loss network (wins over --loss-net)",
    };

    private static Option<long> LossSeedOption() => new("--loss-seed")
    {
        Description = "seed of the random loss network",
        DefaultValueFactory = _ => RandomLossNetwork.DefaultSeed,
    };

    private static Command GatysCommand()
    {
        var content = new Option<string>("--content") { Description = "content image", Required = true };
        var style = new Option<string>("--style") { Description = "style image", Required = true };
        var output = new Option<string>("--out") { Description = "output PNG", Required = true };
        var size = new Option<int>("--size") { Description = "long side of the result", DefaultValueFactory = _ => 384 };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 300 };
        var minutes = new Option<double>("--max-minutes") { DefaultValueFactory = _ => 10 };
        var cw = new Option<double>("--content-weight") { DefaultValueFactory = _ => 1 };
        var sw = new Option<double>("--style-weight") { DefaultValueFactory = _ => 5 };
        var tw = new Option<double>("--tv-weight") { DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var styleSize = new Option<int?>("--style-size") { Description = "long side of the style image (default: --size)" };
        var lbfgs = new Option<bool>("--lbfgs") { Description = "optimise with L-BFGS (one step = one L-BFGS iteration) instead of Adam" };
        var loss = new LossNetworkOptions(defaultBlocks: 8);
        var cmd = new Command("gatys", "optimisation-based transfer of one style image onto one content image (Gatys et al. 2015); the quality reference")
        {
            content, style, output, size, styleSize, steps, minutes, cw, sw, tw, seed, lbfgs,
        };
        loss.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var o = new GatysOptions(
                Content: r.GetValue(content)!, Style: r.GetValue(style)!, Output: r.GetValue(output)!,
                Size: r.GetValue(size), StyleSize: r.GetValue(styleSize) ?? r.GetValue(size), Steps: r.GetValue(steps), MaxMinutes: r.GetValue(minutes),
                ContentWeight: r.GetValue(cw), StyleWeight: r.GetValue(sw), TvWeight: r.GetValue(tw), Seed: r.GetValue(seed), Lbfgs: r.GetValue(lbfgs));
            RequireFile(o.Content, "content image");
            RequireFile(o.Style, "style image");
            using var net = loss.Create(r);
            return GatysMethod.Run(o, net);
        });
        return cmd;
    }

    private static Command FastCommand(string[] allArgs)
    {
        var defaults = new FastOptions { Name = "", ContentDir = "", RunDir = "", Style = "" };
        var run = new RunOptionsBinder(defaults, defaultName: null);
        var style = new Option<string>("--style") { Description = "style image", Required = true };
        var styleSize = new Option<int>("--style-size") { Description = "long side of the style image for its Gram targets", DefaultValueFactory = _ => defaults.StyleLongSide };
        var reflect = new Option<bool>("--reflect-pad") { Description = "reflection padding in the generator (no border bands; ~10% slower); can be switched on when resuming" };
        var padOnce = new Option<bool>("--pad-once") { Description = "reflection-pad the input once and zero-pad inside the convs (~20% faster than --reflect-pad, no border bands); can be switched on when resuming" };
        var lossMargin = new Option<int>("--loss-margin") { Description = "the generator sees crops this much larger on every side and the losses only their inner --crop pixels (no image border in the loss: no bands or frames)" };
        var dilated = new Option<bool>("--dilated") { Description = "dilated residual convs (1, 2, 2, 4): about twice the receptive field for the same cost" };
        var separable = new Option<int>("--separable-up") { Description = "make the last N (1 or 2) upsampling stages depthwise-separable (implies --pad-once); other parameters than the plain design, so distil a trained run into it with --teacher" };
        var isotropic = new Option<bool>("--isotropic-loss") { Description = "show the loss network each step's images turned by a random multiple of 90 degrees (no preferred orientation, no streaks); can be switched on when resuming" };
        var temporal = new Option<double>("--temporal-weight")
        {
            Description = "weight of the temporal loss (0 = off): half of each batch are moved copies of the other half, and the output must move with them (docs/training.md); can be switched on when resuming",
        };
        var mono = new Option<bool>("--monochrome") { Description = "start from the photo's luma instead of its colours (black-and-white styles such as ink drawings); can be switched on when resuming" };
        var teacher = new Option<string?>("--teacher") { Description = "distil a trained fast run (its run directory) into this design, e.g. with --pad-once: start from its weights, L1 to its output on whole crops; the perceptual losses are off" };
        var texture = new Option<double>("--texture-weight") { Description = "with --teacher: weight of a local texture term (mean and mean square of the loss network's early maps over 4x4 windows) against the teacher's output, beside the L1; keeps strokes where the student cannot place them exactly" };
        var border = new Option<double>("--border-weight") { Description = "with --teacher: the L1 counts pixels within 24 px of a crop's edge 1 + this many times (lines painted along the border are few pixels of a crop)" };
        // Crops, not whole images: the deeper blocks would ask every crop to be the whole painting (docs/loss-network.md).
        var loss = new LossNetworkOptions(defaultBlocks: 4);
        var cmd = new Command("fast", "train a real-time per-style network (Johnson et al. 2016 losses, cheap half-resolution generator)");
        run.AddTo(cmd, style, styleSize, reflect, padOnce, separable, dilated, lossMargin, isotropic, temporal, mono, teacher, texture, border);
        loss.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var o = run.Bind(r, defaults, allArgs) with
            {
                Style = r.GetValue(style)!,
                StyleLongSide = r.GetValue(styleSize),
                ReflectPad = r.GetValue(reflect),
                PadOnce = r.GetValue(padOnce),
                SeparableStages = r.GetValue(separable) is >= 0 and <= StylizerSpec.UpsamplingStages and var n ? n : throw new TrainingDataException($"--separable-up must be 0..{StylizerSpec.UpsamplingStages}; got {r.GetValue(separable)}"),
                IsotropicLoss = r.GetValue(isotropic),
                Dilated = r.GetValue(dilated),
                Monochrome = r.GetValue(mono),
                LossMargin = r.GetValue(lossMargin) >= 0 ? r.GetValue(lossMargin) : throw new TrainingDataException($"--loss-margin must be >= 0; got {r.GetValue(lossMargin)}"),
                TemporalWeight = r.GetValue(temporal),
                Teacher = r.GetValue(teacher),
                TextureWeight = r.GetValue(texture),
                BorderWeight = r.GetValue(border),
            };
            RequireWeights(("--texture-weight", o.TextureWeight), ("--border-weight", o.BorderWeight));
            RequireFile(o.Style, "style image");
            using var net = loss.Create(r);
            return FastMethod.Run(o, net);
        });
        return cmd;
    }

    private static Command CartoonCommand(string[] allArgs)
    {
        var d = new CartoonOptions { Name = "", ContentDir = "", RunDir = "" };
        var run = new RunOptionsBinder(d, defaultName: null);
        var cartoon = new Option<string?>("--cartoon") { Description = $"folder of cartoon images, read recursively (default: Debian's {CartoonImages.OpenClipartPackage} in {CartoonImages.OpenClipartDir}, installed with apt-get when missing)" };
        var target = new Option<string?>("--target") { Description = "unpaired translation: any image folder as the target domain (wins over --cartoon); use with --nce-weight and/or --rgb-weight" };
        var domainSize = new Option<int>("--domain-size") { Description = "short side the cartoon/target images are scaled to", DefaultValueFactory = _ => d.DomainShortSide };
        var domainLimit = new Option<int>("--domain-limit") { Description = "at most this many cartoon/target images", DefaultValueFactory = _ => d.DomainLimit };
        var structure = new Option<double>("--structure-weight") { Description = "White-box structure loss: output vs its superpixel mean-colour version (ResNet-18 content distance)", DefaultValueFactory = _ => d.StructureWeight };
        var superpixel = new Option<double>("--superpixel-scale") { Description = "Felzenszwalb scale of the superpixels (larger: larger segments)", DefaultValueFactory = _ => d.SuperpixelScale };
        var surface = new Option<double>("--surface-weight") { Description = "White-box surface loss: LSGAN on guided-filtered outputs vs cartoons", DefaultValueFactory = _ => d.SurfaceWeight };
        var texture = new Option<double>("--texture-weight") { Description = "White-box texture loss: LSGAN on random-grey outputs vs cartoons", DefaultValueFactory = _ => d.TextureWeight };
        var rgb = new Option<double>("--rgb-weight") { Description = "LSGAN on the plain RGB output vs the domain images (CUT's adversarial term)", DefaultValueFactory = _ => d.RgbWeight };
        var nce = new Option<double>("--nce-weight") { Description = "CUT's PatchNCE loss between the generator's encoder features of photo and output (0 = off)", DefaultValueFactory = _ => d.NceWeight };
        var ncePatches = new Option<int>("--nce-patches") { Description = "locations sampled per encoder layer for PatchNCE", DefaultValueFactory = _ => d.NcePatches };
        var noPromote = new Option<bool>("--no-edge-promote") { Description = "do not show edge-blurred cartoons to the discriminators as fake (CartoonGAN's edge promotion is on by default)" };
        var distill = new Option<double>("--distill-weight") { Description = "warm start: L1 to the toon filter's output, falling linearly to 0 over --distill-steps (0 = off)", DefaultValueFactory = _ => d.DistillWeight };
        var distillSteps = new Option<int>("--distill-steps") { DefaultValueFactory = _ => d.DistillSteps };
        var distillPerceptual = new Option<double>("--distill-perceptual") { Description = "share of the warm start on ResNet-18 features: L1 + this x content distance to the toon output", DefaultValueFactory = _ => d.DistillPerceptual };
        var toon = new Option<string?>("--toon") { Description = "ONNX model distilled at the start (default: models/toon.onnx)" };
        var dLr = new Option<double>("--d-lr") { Description = "learning rate of the discriminators", DefaultValueFactory = _ => d.DiscriminatorLearningRate };
        var lossMargin = new Option<int>("--loss-margin") { Description = "the generator sees crops this much larger on every side and the losses only their inner --crop pixels", DefaultValueFactory = _ => d.LossMargin };
        var loss = new LossNetworkOptions(defaultBlocks: 4);
        var cmd = new Command("cartoon", "train a real-time cartoon model (White-box cartoonization + CartoonGAN edge promotion; CUT PatchNCE for unpaired translation to any --target folder)");
        run.AddTo(cmd, cartoon, target, domainSize, domainLimit, structure, superpixel, surface, texture, rgb, nce, ncePatches, noPromote, distill, distillSteps, distillPerceptual, toon, dLr, lossMargin);
        loss.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var o = run.Bind(r, d, allArgs) with
            {
                CartoonDir = r.GetValue(cartoon),
                TargetDir = r.GetValue(target),
                DomainShortSide = r.GetValue(domainSize),
                DomainLimit = r.GetValue(domainLimit),
                StructureWeight = r.GetValue(structure),
                SuperpixelScale = r.GetValue(superpixel),
                SurfaceWeight = r.GetValue(surface),
                TextureWeight = r.GetValue(texture),
                RgbWeight = r.GetValue(rgb),
                NceWeight = r.GetValue(nce),
                NcePatches = r.GetValue(ncePatches),
                EdgePromote = !r.GetValue(noPromote),
                DistillWeight = r.GetValue(distill),
                DistillSteps = r.GetValue(distillSteps),
                DistillPerceptual = r.GetValue(distillPerceptual),
                ToonModel = r.GetValue(toon),
                DiscriminatorLearningRate = r.GetValue(dLr),
                LossMargin = r.GetValue(lossMargin),
            };
            RequireWeights(("--structure-weight", o.StructureWeight), ("--surface-weight", o.SurfaceWeight), ("--texture-weight", o.TextureWeight), ("--rgb-weight", o.RgbWeight), ("--nce-weight", o.NceWeight), ("--distill-weight", o.DistillWeight), ("--distill-perceptual", o.DistillPerceptual));

            if (o.LossMargin < 0 || o.NcePatches < 1 || o.DomainLimit < 1)
            {
                throw new TrainingDataException("--loss-margin must be >= 0, --nce-patches and --domain-limit >= 1");
            }

            using var net = loss.Create(r);
            return CartoonMethod.Run(o, net);
        });
        return cmd;
    }

    private static Command CartoonEvalCommand()
    {
        var name = new Option<string>("--name") { Description = "file stem of NAME.sheet.jpg and NAME.flatness.md", DefaultValueFactory = _ => "cartoon" };
        var model = new Option<string[]>("--model") { Description = "TITLE=FILE.onnx, in column order (repeat); single-input models", Required = true };
        var contentDir = new Option<string?>("--content") { Description = "folder of content photos; every 8th by name is held out (default: <shared data>/content)" };
        var outDir = new Option<string>("--out") { Description = "output folder", DefaultValueFactory = _ => "docs/cartoon" };
        var photos = new Option<int>("--table-photos") { Description = "held-out photos the flatness table averages over (0: all)", DefaultValueFactory = _ => 0 };
        var cmd = new Command("cartoon-eval", "sheet of held-out photos | each model, and the flatness table: gradient energy of the output over the photo's, share of outline (Canny) pixels") { name, model, contentDir, outDir, photos };
        cmd.SetAction(r => CartoonEvalMethod.Run(new CartoonEvalOptions
        {
            Name = r.GetValue(name)!,
            Models = ParseModels(r.GetValue(model)!),
            ContentDir = r.GetValue(contentDir) ?? Path.Combine(SharedDataDir(), "content"),
            OutDir = r.GetValue(outDir)!,
            TablePhotos = r.GetValue(photos),
        }));
        return cmd;
    }

    /// <summary>TITLE=FILE.onnx (or FILE.onnx, titled by its stem) for each option value; every file must exist.</summary>
    private static List<(string Title, string Path)> ParseModels(IEnumerable<string> values) => values.Select(m =>
    {
        int eq = m.IndexOf('=', StringComparison.Ordinal);
        var (title, path) = eq > 0 ? (m[..eq], m[(eq + 1)..]) : (Path.GetFileNameWithoutExtension(m), m);
        RequireFile(path, "model");
        return (title, path);
    }).ToList();

    private static Command AdaInCommand(string[] allArgs)
    {
        var defaults = new AdaInOptions { Name = "adain", ContentDir = "", RunDir = "", StyleDir = "" };
        var run = new RunOptionsBinder(defaults, defaultName: defaults.Name);
        var styleDir = new Option<string?>("--styles") { Description = "folder of style images (default: <shared data>/style)" };
        var blocks = new Option<int>("--loss-blocks") { Description = $"ResNet-18 residual blocks used as style layers ({AdaInStylizer.EncoderBlocks}-8; the encoder is the first {AdaInStylizer.EncoderBlocks})", DefaultValueFactory = _ => AdaInStylizer.EncoderBlocks };
        var cmd = new Command("adain", "train an arbitrary-style AdaIN decoder (Huang & Belongie 2017) on the pretrained ResNet-18 encoder");
        run.AddTo(cmd, styleDir, blocks);
        cmd.SetAction(r =>
        {
            var o = run.Bind(r, defaults, allArgs) with { StyleDir = r.GetValue(styleDir) ?? Path.Combine(SharedDataDir(), "style") };
            if (r.GetValue(blocks) is < AdaInStylizer.EncoderBlocks or > 8)
            {
                throw new TrainingDataException($"--loss-blocks must be {AdaInStylizer.EncoderBlocks} to 8 for adain; got {r.GetValue(blocks)}");
            }

            using var net = ResNet18LossNetwork.Load(blocks: r.GetValue(blocks));
            return AdaInMethod.Run(o, net);
        });
        return cmd;
    }

    /// <summary>
    /// The options every resumable training run takes (<see cref="RunOptions"/>), declared once. Their defaults are read
    /// from the method's own options record, so each default is written in one place.
    /// </summary>
    private sealed class RunOptionsBinder
    {
        private readonly Option<string> _name;
        private readonly Option<string?> _content = new("--content") { Description = "folder of content photos (default: <shared data>/content)" };
        private readonly Option<string?> _runDir = new("--run-dir") { Description = "where checkpoints, losses and state go (default: /work/runs/NAME or $VIDEO_RUNS/NAME)" };
        private readonly Option<string?> _out = new("--out") { Description = "package the result into this folder (e.g. models) when training stops" };
        private readonly Option<int> _steps;
        private readonly Option<double> _minutes;
        private readonly Option<int> _batch;
        private readonly Option<int> _crop;
        private readonly Option<double> _contentWeight;
        private readonly Option<double> _styleWeight;
        private readonly Option<double> _tvWeight;
        private readonly Option<double> _changeWeight;
        private readonly Option<double> _lr;
        private readonly Option<int> _every;
        private readonly Option<int?> _limit = new("--content-limit") { Description = "use only the first N training photos (tests)" };
        private readonly Option<int> _seed;
        private readonly Option<bool> _resume = new("--resume") { Description = "continue the run in --run-dir from its last checkpoint" };

        public RunOptionsBinder(RunOptions d, string? defaultName)
        {
            _name = defaultName is null
                ? new("--name") { Description = "model name (file stem in models/)", Required = true }
                : new("--name") { Description = "model name (file stem in models/)", DefaultValueFactory = _ => defaultName };
            _steps = new("--steps") { DefaultValueFactory = _ => d.Steps };
            _minutes = new("--max-minutes") { Description = "wall-clock budget including resumed time", DefaultValueFactory = _ => d.MaxMinutes };
            _batch = new("--batch") { DefaultValueFactory = _ => d.Batch };
            _crop = new("--crop") { DefaultValueFactory = _ => d.Crop };
            _contentWeight = new("--content-weight") { DefaultValueFactory = _ => d.ContentWeight };
            _styleWeight = new("--style-weight") { DefaultValueFactory = _ => d.StyleWeight };
            _tvWeight = new("--tv-weight") { DefaultValueFactory = _ => d.TvWeight };
            _changeWeight = new("--change-weight")
            {
                Description = "weight of the mean squared logit change the network makes to the photo (keeps the sigmoid out of saturation, no black or white blotches, and the photo under the paint); can be switched on or changed when resuming",
                DefaultValueFactory = _ => d.ChangeWeight,
            };
            _lr = new("--lr") { DefaultValueFactory = _ => d.LearningRate };
            _every = new("--checkpoint-every") { DefaultValueFactory = _ => d.CheckpointEvery };
            _seed = new("--seed") { DefaultValueFactory = _ => d.Seed };
        }

        /// <summary>Adds the shared options to <paramref name="cmd"/>, the method's own <paramref name="specific"/> ones after them.</summary>
        public void AddTo(Command cmd, params Option[] specific)
        {
            foreach (var o in new Option[] { _name, _content, _runDir, _out, _steps, _minutes, _batch, _crop, _contentWeight, _styleWeight, _tvWeight, _changeWeight, _lr, _every, _limit, _seed, _resume }.Concat(specific))
            {
                cmd.Options.Add(o);
            }
        }

        /// <summary><paramref name="template"/> with every shared option as parsed; checks the weights.</summary>
        public T Bind<T>(ParseResult r, T template, string[] allArgs)
            where T : RunOptions
        {
            string name = r.GetValue(_name)!;
            var o = template with
            {
                Name = name,
                ContentDir = r.GetValue(_content) ?? Path.Combine(SharedDataDir(), "content"),
                RunDir = r.GetValue(_runDir) ?? DefaultRunDir(name),
                OutDir = r.GetValue(_out),
                Steps = r.GetValue(_steps),
                MaxMinutes = r.GetValue(_minutes),
                Batch = r.GetValue(_batch),
                Crop = r.GetValue(_crop),
                ContentWeight = r.GetValue(_contentWeight),
                StyleWeight = r.GetValue(_styleWeight),
                TvWeight = r.GetValue(_tvWeight),
                ChangeWeight = r.GetValue(_changeWeight),
                LearningRate = r.GetValue(_lr),
                CheckpointEvery = r.GetValue(_every),
                ContentLimit = r.GetValue(_limit),
                Seed = r.GetValue(_seed),
                Resume = r.GetValue(_resume),
                Command = RunState.CommandLine(allArgs),
            };
            foreach (var (option, value) in new[] { ("--content-weight", o.ContentWeight), ("--style-weight", o.StyleWeight), ("--tv-weight", o.TvWeight), ("--change-weight", o.ChangeWeight) })
            {
                if (!(value >= 0) || !double.IsFinite(value))
                {
                    throw new TrainingDataException($"{option} must be a finite weight >= 0; got {value}");
                }
            }

            return o;
        }
    }

    private static Command BenchCommand()
    {
        var width = new Option<int>("--width") { DefaultValueFactory = _ => 640 };
        var height = new Option<int>("--height") { DefaultValueFactory = _ => 360 };
        var runs = new Option<int>("--runs") { DefaultValueFactory = _ => 30 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 2 };
        var model = new Option<string[]>("--model") { Description = "time these ONNX files (single-input models or the AdaIN model; repeat the option) instead of the built-in designs" };
        var cmd = new Command("bench", "inference-only speed of the fast, AdaIN and classic Johnson designs in ONNX Runtime (CPU)") { width, height, runs, threads, model };
        cmd.SetAction(r => BenchMethod.Run(r.GetValue(width), r.GetValue(height), r.GetValue(runs), r.GetValue(model) ?? [], r.GetValue(threads)));
        return cmd;
    }

    private static Command PackageCommand()
    {
        var runDir = new Option<string>("--run-dir") { Description = "run directory of a fast or adain training run", Required = true };
        var outDir = new Option<string>("--out") { Description = "output folder (e.g. models)", DefaultValueFactory = _ => "models" };
        var upsample = new Option<string>("--upsample") { Description = "cartoon runs: how the half-resolution output is brought to full size: bilinear (default), guided (fast guided filter on the frame's luma) or detail (bilinear + the photo's luma detail, as the fast models)", DefaultValueFactory = _ => "bilinear" };
        var cmd = new Command("package", "export a run's current checkpoint to ONNX with its manifest and sample sheet") { runDir, outDir, upsample };
        cmd.SetAction(r =>
        {
            string dir = r.GetValue(runDir)!;
            var state = RunState.TryLoad(dir) ?? throw new TrainingDataException($"no state.json in {dir}");
            string content = state.Options.TryGetValue("contentDir", out var c) ? c.GetString()! : Path.Combine(SharedDataDir(), "content");
            if (state.Method == "adain")
            {
                AdaInMethod.Package(dir, r.GetValue(outDir)!);
            }
            else if (state.Method == "cartoon")
            {
                var mode = Enum.TryParse<GeneratorUpsample>(r.GetValue(upsample), ignoreCase: true, out var u) ? u : throw new TrainingDataException($"--upsample must be bilinear, guided or detail; got '{r.GetValue(upsample)}'");
                Packaging.PackageCartoon(dir, r.GetValue(outDir)!, content, mode);
            }
            else
            {
                string style = state.Options["style"].GetString()!;
                Packaging.PackageFast(dir, r.GetValue(outDir)!, content, style);
            }

            return 0;
        });
        return cmd;
    }

    private static Command CompareCommand()
    {
        var name = new Option<string>("--name") { Description = "name of the comparison (file stem of NAME.compare.png and NAME.distances.md)", Required = true };
        var style = new Option<string[]>("--style") { Description = "style image (repeat for AdaIN: cycled over the rows)", Required = true };
        var model = new Option<string[]>("--model") { Description = "TITLE=FILE.onnx, in column order (repeat); AdaIN models need FILE.style.onnx beside them", Required = true };
        var contentDir = new Option<string?>("--content") { Description = "folder of content photos; every 8th by name is held out (default: <shared data>/content)" };
        var outDir = new Option<string>("--out") { Description = "output folder", DefaultValueFactory = _ => "docs/quality" };
        var steps = new Option<int>("--gatys-steps") { DefaultValueFactory = _ => 200 };
        var sw = new Option<double>("--gatys-style-weight") { DefaultValueFactory = _ => 50 };
        var photos = new Option<int>("--table-photos") { Description = "held-out photos the distance table averages over", DefaultValueFactory = _ => 12 };
        var cmd = new Command("compare", "sheet of held-out photos | each model | Gatys on the pretrained ResNet-18, and a table of style and content distances") { name, style, model, contentDir, outDir, steps, sw, photos };
        cmd.SetAction(r =>
        {
            var models = ParseModels(r.GetValue(model)!);
            foreach (var s in r.GetValue(style)!)
            {
                RequireFile(s, "style image");
            }

            return CompareMethod.Run(new CompareOptions
            {
                Name = r.GetValue(name)!,
                Styles = r.GetValue(style)!,
                Models = models,
                ContentDir = r.GetValue(contentDir) ?? Path.Combine(SharedDataDir(), "content"),
                OutDir = r.GetValue(outDir)!,
                GatysSteps = r.GetValue(steps),
                GatysStyleWeight = r.GetValue(sw),
                TablePhotos = r.GetValue(photos),
            });
        });
        return cmd;
    }

    internal static string DefaultRunDir(string name)
    {
        var root = Environment.GetEnvironmentVariable("VIDEO_RUNS");
        return Path.Combine(string.IsNullOrEmpty(root) ? "/work/runs" : root, name);
    }

    /// <summary>Throws the one-line error for the first loss weight that is negative, NaN or infinite.</summary>
    internal static void RequireWeights(params (string Option, double Value)[] weights)
    {
        foreach (var (option, value) in weights)
        {
            if (!(value >= 0) || !double.IsFinite(value))
            {
                throw new TrainingDataException($"{option} must be a finite weight >= 0; got {value}");
            }
        }
    }

    internal static void RequireFile(string path, string what)
    {
        if (!File.Exists(path))
        {
            throw new TrainingDataException($"{what} not found: {path}");
        }
    }
}
