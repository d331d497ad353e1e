using System.Runtime.InteropServices;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Converter.Synth;

/// <summary>
/// Produces the synthetic tensors of one layout, one at a time, in a single reused CPU buffer as large as the
/// largest tensor: fresh multi-GB allocations would cost a page fault per 4 kB, more than drawing the numbers.
/// A produced tensor is a view of that buffer, valid until the next one is produced.
/// </summary>
public sealed class SynthTensorSource : IDisposable
{
    /// <summary>Largest slice filled at once: TorchSharp hands out a tensor's memory as a Span of at most 2 GiB.</summary>
    const long SliceElements = 1L << 28;

    readonly IReadOnlyList<SynthTensor> _tensors;
    readonly ulong _seed, _firstStream;
    readonly Tensor _buffer;

    /// <param name="firstStream">random stream of the first tensor (tensor i draws from stream firstStream + i): layouts
    /// written with one seed draw different numbers when their streams do not overlap</param>
    public SynthTensorSource(IReadOnlyList<SynthTensor> tensors, ulong seed, ulong firstStream = 0)
    {
        var dtypes = tensors.Select(t => t.DType).Distinct().ToArray();
        if (dtypes.Length != 1 || dtypes[0] is not (SafetensorsDType.F32 or SafetensorsDType.BF16))
            throw new ArgumentException("synthetic tensors share one dtype, F32 or BF16", nameof(tensors));
        _tensors = tensors;
        _seed = seed;
        _firstStream = firstStream;
        using var scope = NewDisposeScope();
        _buffer = empty(tensors.Max(t => t.ElementCount), dtypes[0] == SafetensorsDType.F32 ? ScalarType.Float32 : ScalarType.BFloat16)
            .MoveToOuterDisposeScope();
    }

    /// <summary>Tensor <paramref name="index"/> of the layout; its values depend only on (seed, firstStream + index).</summary>
    public Tensor Produce(int index)
    {
        var t = _tensors[index];
        for (long start = 0; start < t.ElementCount; start += SliceElements)
        {
            using var slice = _buffer.narrow(0, start, Math.Min(SliceElements, t.ElementCount - start));
            if (t.DType == SafetensorsDType.F32)
                GaussianFill.Float32(MemoryMarshal.Cast<byte, float>(slice.bytes), start, t.Mean, t.Std, _seed, _firstStream + (ulong)index);
            else
                GaussianFill.BFloat16(MemoryMarshal.Cast<byte, ushort>(slice.bytes), start, t.Mean, t.Std, _seed, _firstStream + (ulong)index);
        }
        using var used = _buffer.narrow(0, 0, t.ElementCount);
        return used.view(t.Shape);
    }

    public void Dispose() => _buffer.Dispose();
}
