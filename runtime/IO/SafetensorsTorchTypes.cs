using static TorchSharp.torch;

namespace Turbo.Runtime.IO;

/// <summary>How safetensors element types map onto TorchSharp 0.107 scalar types.</summary>
public static class SafetensorsTorchTypes
{
    /// <summary>
    /// The scalar type a tensor of this dtype is read as, or null where TorchSharp has none (U16, U32, U64).
    /// TorchSharp 0.107 has no float8 types, so F8_E4M3 and F8_E5M2 are read as Byte holding the raw bit patterns.
    /// </summary>
    public static ScalarType? ToScalarType(this SafetensorsDType d) => d switch
    {
        SafetensorsDType.BOOL => ScalarType.Bool,
        SafetensorsDType.U8 or SafetensorsDType.F8_E4M3 or SafetensorsDType.F8_E5M2 => ScalarType.Byte,
        SafetensorsDType.I8 => ScalarType.Int8,
        SafetensorsDType.I16 => ScalarType.Int16,
        SafetensorsDType.I32 => ScalarType.Int32,
        SafetensorsDType.I64 => ScalarType.Int64,
        SafetensorsDType.F16 => ScalarType.Float16,
        SafetensorsDType.BF16 => ScalarType.BFloat16,
        SafetensorsDType.F32 => ScalarType.Float32,
        SafetensorsDType.F64 => ScalarType.Float64,
        _ => null,
    };

    /// <summary>The safetensors dtype a tensor of this scalar type is saved as (Byte → U8).</summary>
    public static SafetensorsDType ToSafetensors(this ScalarType s) => s switch
    {
        ScalarType.Bool => SafetensorsDType.BOOL,
        ScalarType.Byte => SafetensorsDType.U8,
        ScalarType.Int8 => SafetensorsDType.I8,
        ScalarType.Int16 => SafetensorsDType.I16,
        ScalarType.Int32 => SafetensorsDType.I32,
        ScalarType.Int64 => SafetensorsDType.I64,
        ScalarType.Float16 => SafetensorsDType.F16,
        ScalarType.BFloat16 => SafetensorsDType.BF16,
        ScalarType.Float32 => SafetensorsDType.F32,
        ScalarType.Float64 => SafetensorsDType.F64,
        _ => throw new TurboException($"tensors of type {s} cannot be stored in safetensors by this toolkit"),
    };
}
