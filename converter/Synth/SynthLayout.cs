using Turbo.Converter.Families.Wan;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;

namespace Turbo.Converter.Synth;

/// <summary>One tensor of a synthetic checkpoint: its name in the chosen naming, and how to fill it.</summary>
public sealed record SynthTensor(string Name, SafetensorsDType DType, long[] Shape, double Mean, double Std)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public long ByteCount => ElementCount * DType.ByteSize();
}

/// <summary>
/// The exact tensor layout of a real Wan2.1 checkpoint of this config and naming, with the value distribution of
/// the golden test weights: N(0, 0.05²), norm weights 1 + N(0, 0.05²), modulation tables N(0, 0.5²).
/// </summary>
public static class SynthLayout
{
    public const double WeightStd = 0.05, ModulationStd = 0.5;

    public static IReadOnlyList<SynthTensor> For(WanConfig config, WanNaming naming, SafetensorsDType dtype) =>
        WanLayout.For(config)
            .Select(e => new SynthTensor(
                WanNames.ToForeign(e.Name, naming), dtype, e.Shape,
                Mean: WanLayout.IsNormWeight(e.Name) ? 1.0 : 0.0,
                Std: WanLayout.IsModulation(e.Name) ? ModulationStd : WeightStd))
            .ToArray();
}
