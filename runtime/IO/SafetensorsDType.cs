namespace Turbo.Runtime.IO;

/// <summary>Element types of the safetensors format (names exactly as they appear in headers).</summary>
public enum SafetensorsDType
{
    BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64,
}

public static class SafetensorsDTypes
{
    public static int ByteSize(this SafetensorsDType t) => t switch
    {
        SafetensorsDType.BOOL or SafetensorsDType.U8 or SafetensorsDType.I8
            or SafetensorsDType.F8_E5M2 or SafetensorsDType.F8_E4M3 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.F64 or SafetensorsDType.I64 or SafetensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    public static bool IsFloatingPoint(this SafetensorsDType t) => t is SafetensorsDType.F8_E5M2 or SafetensorsDType.F8_E4M3
        or SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F32 or SafetensorsDType.F64;
}
