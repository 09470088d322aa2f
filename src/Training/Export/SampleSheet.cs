using OpenCvSharp;
using Video.Training.Data;

namespace Video.Training.Export;

/// <summary>Composes sample sheets: a header row of column titles, then one row of equally sized cells per content photo.</summary>
internal static class SampleSheet
{
    public const int CellWidth = 384;
    public const int CellHeight = 288;

    /// <summary>A content photo centre-cropped to 4:3 and resized to the cell size (both multiples of 8).</summary>
    public static Mat ContentCell(string path)
    {
        using var m = ImageTensors.TryRead(path) ?? throw new TrainingDataException($"{path} is not a readable image");
        double target = (double)CellWidth / CellHeight;
        int w = m.Width, h = m.Height;
        Rect roi = (double)w / h > target
            ? new Rect((w - (int)(h * target)) / 2, 0, (int)(h * target), h)
            : new Rect(0, (h - (int)(w / target)) / 2, w, (int)(w / target));
        using var crop = new Mat(m, roi);
        return ImageTensors.Resize(crop, CellWidth, CellHeight);
    }

    /// <summary>An image fitted inside the cell on a grey background (style images keep their composition).</summary>
    public static Mat FitCell(string path)
    {
        using var m = ImageTensors.TryRead(path) ?? throw new TrainingDataException($"{path} is not a readable image");
        double s = Math.Min((double)CellWidth / m.Width, (double)CellHeight / m.Height);
        int w = Math.Max(1, (int)(m.Width * s)), h = Math.Max(1, (int)(m.Height * s));
        using var r = ImageTensors.Resize(m, w, h);
        var cell = new Mat(CellHeight, CellWidth, MatType.CV_8UC3, new Scalar(64, 64, 64));
        using (var dst = new Mat(cell, new Rect((CellWidth - w) / 2, (CellHeight - h) / 2, w, h)))
        {
            r.CopyTo(dst);
        }

        return cell;
    }

    /// <summary>Writes the sheet; every row must have as many cells as there are titles.</summary>
    public static void Save(string path, IReadOnlyList<string> titles, IReadOnlyList<IReadOnlyList<Mat>> rows)
    {
        int cols = titles.Count;
        const int header = 28;
        using var sheet = new Mat(header + (rows.Count * CellHeight), cols * CellWidth, MatType.CV_8UC3, new Scalar(255, 255, 255));
        for (int c = 0; c < cols; c++)
        {
            Cv2.PutText(sheet, titles[c], new Point((c * CellWidth) + 8, 20), HersheyFonts.HersheySimplex, 0.55, new Scalar(0, 0, 0), 1, LineTypes.AntiAlias);
        }

        for (int r = 0; r < rows.Count; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                using var dst = new Mat(sheet, new Rect(c * CellWidth, header + (r * CellHeight), CellWidth, CellHeight));
                rows[r][c].CopyTo(dst);
            }
        }

        // Model sheets are PNG (lossless, beside the model); comparison sheets in docs/ may be JPEG to keep the repository small.
        bool jpeg = path.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase);
        var tmp = path + (jpeg ? ".tmp.jpg" : ".tmp.png");
        if (!Cv2.ImWrite(tmp, sheet, jpeg ? new ImageEncodingParam(ImwriteFlags.JpegQuality, 90) : new ImageEncodingParam(ImwriteFlags.PngCompression, 9)))
        {
            throw new TrainingDataException($"cannot write {path}");
        }

        File.Move(tmp, path, overwrite: true);
    }
}
