using Turbo.Runtime;

namespace Turbo.Quantizer.Output;

/// <summary>
/// The output folder of a quantization run: the quantized checkpoint, its config, the report, and the calibration
/// statistics in <c>calibration/</c>. A folder holding only a previous run's statistics (and temporary files it
/// left) is resumed; anything else in it is refused, so nothing is ever overwritten.
/// </summary>
public sealed class QuantizationOutput
{
    public const string CalibrationFolder = "calibration";
    public const string ReportFile = "quantization-report.json";

    QuantizationOutput(string folder) => Folder = folder;

    public string Folder { get; }
    public string CalibrationPath => Path.Combine(Folder, CalibrationFolder);
    public string ReportPath => Path.Combine(Folder, ReportFile);

    public static QuantizationOutput Prepare(string folder)
    {
        if (File.Exists(folder)) throw new TurboException($"{folder}: is a file; quantize writes a checkpoint folder");
        if (Directory.Exists(folder))
        {
            var other = Directory.EnumerateFileSystemEntries(folder)
                .Where(e => Path.GetFileName(e) != CalibrationFolder && !e.EndsWith(".tmp", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal).FirstOrDefault();
            if (other is not null)
                throw new TurboException($"{folder}: folder is not empty ({Path.GetFileName(other)}); quantize writes a fresh folder and resumes only from its {CalibrationFolder}/ statistics");
            foreach (string temp in Directory.EnumerateFiles(folder, "*.tmp")) File.Delete(temp);
        }
        Directory.CreateDirectory(folder);
        return new QuantizationOutput(folder);
    }

    /// <summary>Writes a small text file so that readers see either nothing or the whole text.</summary>
    public void WriteText(string name, string text)
    {
        string path = Path.Combine(Folder, name);
        File.WriteAllText(path + ".tmp", text);
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
