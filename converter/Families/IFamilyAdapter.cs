using Turbo.Runtime.IO;

namespace Turbo.Converter.Families;

/// <summary>
/// A family the converter can convert: besides recognising it, it reads its config, checks every tensor against it
/// and exposes the weights under the family's canonical names.
/// </summary>
public interface IFamilyAdapter : IFamilySignature
{
    /// <summary>
    /// Validates <paramref name="checkpoint"/> (recognised as <paramref name="match"/>) and takes ownership of it.
    /// <paramref name="configPath"/> is an explicit config file; null means "config.json beside the weights, else
    /// infer from shapes". Throws TurboException naming file, tensor and expectation before any tensor is read.
    /// </summary>
    IAdaptedCheckpoint Adapt(Checkpoint checkpoint, FamilyMatch match, string? configPath);
}
