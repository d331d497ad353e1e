using Turbo.Converter.Checkpoints;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Converter.Conversion;

/// <summary>
/// The DiT weights of a model state, tensor by tensor under canonical names: a teacher's folder through its family
/// adapter, or a canonical checkpoint a stage wrote as it is.
/// </summary>
public sealed class TransformerReader : IDisposable
{
    readonly IDisposable _source;

    public IReadOnlyList<TensorInfo> Tensors { get; }
    public Func<string, Tensor> Read { get; }
    public IReadOnlyList<string> Files { get; }

    TransformerReader(IDisposable source, IReadOnlyList<TensorInfo> tensors, Func<string, Tensor> read, IReadOnlyList<string> files)
    {
        _source = source;
        Tensors = tensors;
        Read = read;
        Files = files;
    }

    public static TransformerReader Open(TransformerWeights weights)
    {
        if (weights.Canonical)
        {
            var file = SafetensorsFile.Open(weights.Path);
            return new TransformerReader(file, file.Tensors, file.Read, [weights.Path]);
        }
        var checkpoint = AdaptedCheckpoints.OpenWan(weights.Path, null);
        return new TransformerReader(checkpoint, checkpoint.Tensors.Select(t => t.Source with { Name = t.Name }).ToList(), checkpoint.Read, checkpoint.Files);
    }

    public void Dispose() => _source.Dispose();
}
