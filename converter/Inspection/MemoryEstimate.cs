using Turbo.Converter.Families;

namespace Turbo.Converter.Inspection;

/// <summary>
/// Weight memory of a checkpoint in the forms the converter produces: all-bf16 (the teacher at compute dtype) and
/// W8A8 (block Linear weights INT8 with one fp32 scale per output channel, everything else bf16).
/// </summary>
public sealed record MemoryEstimate(long Parameters, long BlockLinearParameters, long Bf16Bytes, long Int8Bytes)
{
    public static MemoryEstimate Of(IAdaptedCheckpoint checkpoint)
    {
        long parameters = 0, linear = 0, scales = 0;
        foreach (var t in checkpoint.Tensors)
        {
            long n = t.Source.ElementCount;
            parameters += n;
            if (!checkpoint.IsBlockLinearWeight(t.Name)) continue;
            linear += n;
            scales += t.Source.Shape[0]; // one scale per output channel ([out, in] weights)
        }
        long int8Bytes = linear * 1 + scales * 4 + (parameters - linear) * 2;
        return new MemoryEstimate(parameters, linear, parameters * 2, int8Bytes);
    }
}
