using Turbo.Converter.Pipelines;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Teacher;

/// <summary>
/// A distilled student as a complete text-to-video folder (diffusers layout): the teacher's tokenizer, text encoder
/// and VAE, the student's transformer, and a model_index.json whose sampling defaults are the student's sampler.
/// </summary>
public static class StudentFolder
{
    static readonly string[] SharedComponents = ["tokenizer", "text_encoder", "vae"];

    public static void Write(string teacherFolder, string studentFolder, SampleSettings sampling, WanConfig config,
        IReadOnlyDictionary<string, Tensor> weights)
    {
        Directory.CreateDirectory(studentFolder);
        foreach (string component in SharedComponents)
            CopyComponent(Path.Combine(teacherFolder, component), Path.Combine(studentFolder, component));
        TeacherFolder.WriteTransformer(studentFolder, config, weights);
        TeacherFolder.WriteIndex(studentFolder, sampling);
    }

    /// <summary>Copies a component folder beside its final name, then renames it into place.</summary>
    static void CopyComponent(string from, string to)
    {
        if (!Directory.Exists(from)) throw new Turbo.Runtime.TurboException($"{from}: missing (expected the teacher's component)");
        string temp = to + ".partial";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        foreach (string file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(temp, Path.GetFileName(file)));
        if (Directory.Exists(to)) Directory.Delete(to, recursive: true);
        Directory.Move(temp, to);
    }
}
