namespace Video.Training.Methods;

/// <summary>Turns a finished run directory into models/NAME.onnx + NAME.json + NAME.sheet.png.</summary>
public static partial class Packaging
{
    public static void PackageFast(string runDir, string outDir, string contentDir, string stylePath) =>
        throw new NotImplementedException($"{runDir} {outDir} {contentDir} {stylePath}");
}
