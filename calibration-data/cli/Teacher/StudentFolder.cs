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
    static readonly string[] SharedComponents = [PipelineFolder.Tokenizer, PipelineFolder.TextEncoder, PipelineFolder.Vae];

    public static void Write(string teacherFolder, string studentFolder, SampleSettings sampling, WanConfig config,
        IReadOnlyDictionary<string, Tensor> weights)
    {
        Directory.CreateDirectory(studentFolder);
        foreach (string component in SharedComponents)
            CopyComponent(teacherFolder, studentFolder, component);
        TeacherFolder.WriteTransformer(studentFolder, config, weights);
        PipelineFolder.WriteIndex(studentFolder, sampling);
    }

    /// <summary>Copies one of the teacher's component folders into the student's, renamed into place when complete.</summary>
    static void CopyComponent(string teacherFolder, string studentFolder, string component)
    {
        string from = Path.Combine(teacherFolder, component);
        if (!Directory.Exists(from)) throw new Turbo.Runtime.TurboException($"{from}: missing (expected the teacher's component)");
        PipelineFolder.WriteComponent(studentFolder, component, dir =>
        {
            foreach (string file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        });
    }
}
