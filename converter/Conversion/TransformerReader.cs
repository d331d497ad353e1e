using Turbo.Converter.Checkpoints;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Converter.Conversion;

/// <summary>
/// The DiT weights of a model state, tensor by tensor under canonical names: a teacher's folder through its family
/// adapter, or a canonical checkpoint a stage wrote as it is, and the tensors of its extra file after them.
/// </summary>
public sealed class TransformerReader : IDisposable
{
    readonly IDisposable[] _sources;

    public IReadOnlyList<TensorInfo> Tensors { get; }
    public Func<string, Tensor> Read { get; }
    public IReadOnlyList<string> Files { get; }

    TransformerReader(IDisposable[] sources, IReadOnlyList<TensorInfo> tensors, Func<string, Tensor> read, IReadOnlyList<string> files)
    {
        _sources = sources;
        Tensors = tensors;
        Read = read;
        Files = files;
    }

    public static TransformerReader Open(TransformerWeights weights)
    {
        var main = OpenMain(weights);
        if (weights.Extra is null) return main;
        SafetensorsFile? extra = null;
        try
        {
            extra = SafetensorsFile.Open(weights.Extra);
            var names = main.Tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
            if (extra.Tensors.FirstOrDefault(t => names.Contains(t.Name)) is { } twice)
                throw new TurboException($"{weights.Extra}: tensor '{twice.Name}' is in the model's weights already ({weights.Path})");
            var extraFile = extra;
            return new TransformerReader([main, extraFile], [.. main.Tensors, .. extraFile.Tensors],
                name => extraFile.Contains(name) ? extraFile.Read(name) : main.Read(name), [.. main.Files, weights.Extra]);
        }
        catch
        {
            extra?.Dispose();
            main.Dispose();
            throw;
        }
    }

    static TransformerReader OpenMain(TransformerWeights weights)
    {
        if (weights.Canonical)
        {
            var file = SafetensorsFile.Open(weights.Path);
            return new TransformerReader([file], file.Tensors, file.Read, [weights.Path]);
        }
        var checkpoint = AdaptedCheckpoints.OpenWan(weights.Path, null);
        return new TransformerReader([checkpoint], checkpoint.Tensors.Select(t => t.Source with { Name = t.Name }).ToList(), checkpoint.Read, checkpoint.Files);
    }

    public void Dispose()
    {
        foreach (var source in _sources) source.Dispose();
    }
}
