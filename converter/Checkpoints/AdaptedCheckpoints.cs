using Turbo.Converter.Families;
using Turbo.Converter.Families.Wan;
using Turbo.Runtime;
using Turbo.Runtime.IO;

namespace Turbo.Converter.Checkpoints;

/// <summary>Opens a user-given checkpoint path as a validated checkpoint of a known family.</summary>
public static class AdaptedCheckpoints
{
    /// <param name="configPath">An explicit config file (--config), or null for "beside the weights, else inferred".</param>
    public static IAdaptedCheckpoint Open(string path, string? configPath)
    {
        string resolved = CheckpointLocator.Resolve(path);
        var checkpoint = Checkpoint.Open(resolved);
        try
        {
            var match = FamilyRegistry.Detect(checkpoint.Tensors, resolved);
            return FamilyRegistry.AdapterFor(match, resolved).Adapt(checkpoint, match, configPath);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Opens a checkpoint that must be a Wan2.1 DiT (what the model commands run).</summary>
    public static WanCheckpoint OpenWan(string path, string? configPath)
    {
        var adapted = Open(path, configPath);
        if (adapted is WanCheckpoint wan) return wan;
        adapted.Dispose();
        throw new TurboException($"{path}: a {adapted.Family} checkpoint; this command runs Wan2.1 DiTs only");
    }
}
