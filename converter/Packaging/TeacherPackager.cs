using System.Reflection;
using Turbo.Converter.Families.Wan;
using Turbo.Runtime.IO;
using Turbo.Runtime.Packaging;

namespace Turbo.Converter.Packaging;

/// <summary>
/// Packages a Wan checkpoint as it is (the teacher, no acceleration stage): its weights under canonical names, streamed
/// tensor by tensor into the package, with the teacher's own sampler, dense attention and no quantization in the
/// manifest. The stages of `turbo-convert run` write their packages the same way with their records added.
/// </summary>
public static class TeacherPackager
{
    public static PackageManifest Write(WanCheckpoint checkpoint, string destination, Action<double>? advanceBytes = null)
    {
        using var writer = new PackageWriter(destination);
        var manifest = new PackageManifest
        {
            Family = checkpoint.Family,
            Config = checkpoint.Config,
            Sampler = SamplerSettings.WanTeacher,
            Provenance = new Provenance(
                checkpoint.Files.ToDictionary(f => Path.GetFileName(f), f => PackageFolder.Sha256(f)),
                ToolkitVersion, DateTimeOffset.UtcNow),
        };
        var layout = checkpoint.Tensors.Select(t => (t.Name, t.Source.DType, t.Source.Shape)).ToList();
        using (var weights = new SafetensorsWriter(writer.PathFor(manifest.Weights), layout,
                   new Dictionary<string, string> { ["format"] = "pt" }))
        {
            foreach (var tensor in checkpoint.Tensors)
            {
                using var values = checkpoint.Read(tensor.Name);
                weights.Write(tensor.Name, values);
                advanceBytes?.Invoke(tensor.Source.ByteCount);
            }
            weights.Commit();
        }
        writer.Commit(manifest);
        return PackageFolder.Open(destination);
    }

    static string ToolkitVersion =>
        typeof(TeacherPackager).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
