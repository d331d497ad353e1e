using System.Globalization;
using Turbo.Converter.Inspection;

namespace Turbo.Converter.Families.Wan;

/// <summary>What `turbo-convert run` does to a Wan2.1 checkpoint, stage by stage, with this checkpoint's numbers.</summary>
public static class WanConversionPlan
{
    public static IReadOnlyList<string> Describe(WanCheckpoint checkpoint)
    {
        var c = checkpoint.Config;
        var memory = MemoryEstimate.Of(checkpoint);
        int linears = checkpoint.Tensors.Count(t => checkpoint.IsBlockLinearWeight(t.Name));
        string dtypes = string.Join("+", checkpoint.Tensors.Select(t => t.Source.DType.ToString()).Distinct().Order());
        string load = checkpoint.NamingKind switch
        {
            WanNaming.Original => "names are already canonical",
            WanNaming.ComfyUI => $"strip '{WanNames.ComfyPrefix}' from {checkpoint.Tensors.Count} names",
            WanNaming.Diffusers => $"rename {checkpoint.Tensors.Count} diffusers names to the original Wan names (norm2/norm3 swapped)",
            _ => throw new ArgumentOutOfRangeException(nameof(checkpoint)),
        };
        return
        [
            $"load: {load}; " + (dtypes == "BF16"
                ? $"weights already BF16, the compute dtype ({ByteSize.Format(memory.Bf16Bytes)})"
                : $"weights {dtypes} -> BF16 compute copy ({ByteSize.Format(memory.Bf16Bytes)})"),
            "distill (rCM): teacher = 50-step UniPC with CFG -> 1-4-step student with the guidance baked in",
            $"sparsify (SLA): {c.NumLayers} self-attention layers -> sparse-linear attention, fine-tuned against the dense teacher",
            $"quantize (W8A8): {linears} block Linear weights ({N(memory.BlockLinearParameters)} params) -> INT8, per-output-channel scales; embeddings, head, norms, modulation stay BF16",
            $"package: turbo.json manifest + safetensors weights, about {ByteSize.Format(memory.Int8Bytes)}",
        ];
    }

    static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
