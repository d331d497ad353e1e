using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// Which key blocks the Sage kernel visits for each query block: all of them (the default), those of a block map
/// (bool [B, H, nQ, nK]), or SLA's selection at a top-k ratio, made from the pooled blocks the quantizer gives
/// (<see cref="BlockSelection.Select"/>'s function, without its passes over the tokens).
/// </summary>
public readonly struct KeyBlocks
{
    public Tensor? Map { get; }
    public double? TopK { get; }

    KeyBlocks(Tensor? map, double? topK) => (Map, TopK) = (map, topK);

    public static KeyBlocks FromMap(Tensor? map) => new(map, null);
    public static KeyBlocks Selected(double topK) => new(null, topK);
}
