using Turbo.Runtime;
using Turbo.Runtime.IO;

namespace Turbo.Converter.Families.Wan;

/// <summary>
/// Checks a checkpoint's header against the layout its config implies: every expected tensor present with the
/// expected shape and a float dtype TorchSharp converts, and nothing else. Runs on header data only, so a bad file
/// gets a one-line error instead of reaching libtorch (whose errors abort the process).
/// </summary>
public static class WanTensorCheck
{
    static readonly SafetensorsDType[] LoadableDTypes = [SafetensorsDType.F32, SafetensorsDType.BF16, SafetensorsDType.F16];

    /// <param name="source">The checkpoint (file or folder), for messages about tensors it lacks.</param>
    /// <param name="fileOf">The file holding a tensor (by its name in the checkpoint), for messages.</param>
    public static IReadOnlyList<(LayoutEntry Expected, TensorInfo Found)> Check(
        IReadOnlyList<LayoutEntry> layout, WanNaming naming, IReadOnlyList<TensorInfo> tensors,
        string source, Func<string, string> fileOf, string configOrigin)
    {
        var byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var problems = new List<string>();
        var pairs = new List<(LayoutEntry, TensorInfo)>(layout.Count);
        var expectedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in layout)
        {
            string name = WanNames.ToForeign(entry.Name, naming);
            expectedNames.Add(name);
            if (!byName.TryGetValue(name, out var found))
            {
                problems.Add($"{source}: tensor '{name}' is missing (expected shape {entry.ShapeText} from {configOrigin})");
                continue;
            }
            if (!found.Shape.SequenceEqual(entry.Shape))
                problems.Add($"{fileOf(name)}: tensor '{name}' has shape {found.ShapeText}, expected {entry.ShapeText} from {configOrigin}");
            else if (!LoadableDTypes.Contains(found.DType))
                problems.Add($"{fileOf(name)}: tensor '{name}' has dtype {found.DType}, expected one of {string.Join(", ", LoadableDTypes)}");
            else
                pairs.Add((entry, found));
        }
        var unexpected = tensors.Where(t => !expectedNames.Contains(t.Name)).ToArray();
        if (unexpected.Length > 0)
            problems.Add($"{fileOf(unexpected[0].Name)}: {unexpected.Length} unexpected tensor(s) for a Wan2.1 T2V DiT with {configOrigin}: "
                         + string.Join(", ", unexpected.Take(5).Select(t => $"'{t.Name}' {t.ShapeText}"))
                         + (unexpected.Length > 5 ? ", ..." : ""));
        if (problems.Count > 0)
            throw new TurboException(problems[0] + (problems.Count > 1 ? $" (and {problems.Count - 1} more problem(s))" : ""));
        return pairs;
    }
}
