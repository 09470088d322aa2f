using OpenCvSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Video.Training.Data;

/// <summary>
/// The images of one data folder, split deterministically into a training set and a held-out set
/// (every <c>holdoutEvery</c>-th file by ordinal name order), decoded once and kept in memory at a
/// working size. Unreadable files are skipped and counted.
/// </summary>
/// <remarks>Not thread safe. Owns its decoded images; dispose it to free them.</remarks>
internal sealed class ImageFolder : IDisposable
{
    private static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"];
    private readonly List<Mat> _train = [];

    private ImageFolder(string directory)
    {
        Directory = directory;
    }

    public string Directory { get; }

    public IReadOnlyList<string> TrainFiles { get; private set; } = [];

    public IReadOnlyList<string> HeldOutFiles { get; private set; } = [];

    public int Unreadable { get; private set; }

    public int Count => _train.Count;

    /// <summary>Whether a file name has one of the image extensions the trainer reads.</summary>
    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>Lists image files; throws <see cref="TrainingDataException"/> if the folder is missing or has none.</summary>
    public static IReadOnlyList<string> ListImages(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new TrainingDataException($"data folder not found: {directory}");
        }

        var files = System.IO.Directory.EnumerateFiles(directory)
            .Where(IsImage)
            .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            throw new TrainingDataException($"data folder has no images (*.jpg, *.png, …): {directory}");
        }

        return files;
    }

    /// <summary>Splits a sorted file list: every <paramref name="holdoutEvery"/>-th file (starting at index 0) is held out.</summary>
    public static (List<string> Train, List<string> HeldOut) Split(IReadOnlyList<string> files, int holdoutEvery)
    {
        var train = new List<string>();
        var held = new List<string>();
        for (int i = 0; i < files.Count; i++)
        {
            (holdoutEvery > 0 && i % holdoutEvery == 0 ? held : train).Add(files[i]);
        }

        return (train, held);
    }

    /// <summary>Loads the training part of <paramref name="directory"/>, each image resized to a shorter side of <paramref name="shortSide"/>.</summary>
    public static ImageFolder Load(string directory, int shortSide, int holdoutEvery, int? limit = null)
    {
        var (train, held) = Split(ListImages(directory), holdoutEvery);
        if (limit is int n)
        {
            train = train.Take(n).ToList();
        }

        var folder = new ImageFolder(directory) { HeldOutFiles = held };
        var used = new List<string>();
        foreach (var f in train)
        {
            using var m = ImageTensors.TryRead(f);
            if (m is null)
            {
                folder.Unreadable++;
                continue;
            }

            folder._train.Add(ImageTensors.ResizeShortSide(m, shortSide));
            used.Add(f);
        }

        folder.TrainFiles = used;
        if (folder._train.Count == 0)
        {
            throw new TrainingDataException($"no readable training images in {directory} ({folder.Unreadable} unreadable)");
        }

        return folder;
    }

    /// <summary>A batch of random crops (B×3×size×size, [0,1]) with random horizontal flips.</summary>
    public Tensor SampleBatch(Random rng, int batch, int size)
    {
        var crops = new Tensor[batch];
        for (int b = 0; b < batch; b++)
        {
            var m = _train[rng.Next(_train.Count)];
            int x = rng.Next(Math.Max(1, m.Width - size + 1));
            int y = rng.Next(Math.Max(1, m.Height - size + 1));
            using var roi = new Mat(m, new Rect(x, y, Math.Min(size, m.Width), Math.Min(size, m.Height)));
            using var sized = roi.Width == size && roi.Height == size ? roi.Clone() : ImageTensors.Resize(roi, size, size);
            var t = ImageTensors.FromBgr(sized);
            crops[b] = rng.Next(2) == 0 ? t : t.flip(2);
        }

        return torch.stack(crops);
    }

    public void Dispose()
    {
        foreach (var m in _train)
        {
            m.Dispose();
        }

        _train.Clear();
    }
}
