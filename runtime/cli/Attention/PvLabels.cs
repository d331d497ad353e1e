using Turbo.Runtime.Attention;

namespace Turbo.Cli.Attention;

/// <summary>How `turbo check-attention` names a P·V format in its case and method names.</summary>
static class PvLabels
{
    public static string Of(PvPrecision pv) => pv switch
    {
        PvPrecision.Fp8E4M3 => "E4M3",
        PvPrecision.Bf16 => "BF16",
        _ => "FP16",
    };
}
