using System.Runtime.InteropServices;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Converter.Synth;

/// <summary>Creates one synthetic tensor on the CPU, its values drawn by <see cref="GaussianFill"/>.</summary>
public static class SynthTensorFactory
{
    /// <summary>Largest slice filled at once: TorchSharp hands out a tensor's memory as a Span of at most 2 GiB.</summary>
    const long SliceElements = 256L * GaussianFill.ChunkElements * 16;

    /// <param name="stream">Distinguishes tensors: the same (seed, stream) always gives the same values.</param>
    public static Tensor Create(SynthTensor t, ulong seed, ulong stream)
    {
        var dtype = t.DType switch
        {
            SafetensorsDType.F32 => ScalarType.Float32,
            SafetensorsDType.BF16 => ScalarType.BFloat16,
            _ => throw new ArgumentException($"synthetic tensors are F32 or BF16, not {t.DType}", nameof(t)),
        };
        var tensor = empty(t.Shape, dtype);
        using var flat = tensor.view(-1);
        for (long start = 0; start < t.ElementCount; start += SliceElements)
        {
            using var slice = flat.narrow(0, start, Math.Min(SliceElements, t.ElementCount - start));
            if (dtype == ScalarType.Float32)
                GaussianFill.Float32(MemoryMarshal.Cast<byte, float>(slice.bytes), start, t.Mean, t.Std, seed, stream);
            else
                GaussianFill.BFloat16(MemoryMarshal.Cast<byte, ushort>(slice.bytes), start, t.Mean, t.Std, seed, stream);
        }
        return tensor;
    }
}
