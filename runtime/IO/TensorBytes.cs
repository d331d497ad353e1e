using TorchSharp;
using static TorchSharp.torch;

namespace Turbo.Runtime.IO;

/// <summary>
/// Moves raw bytes into and out of CPU tensors. TorchSharp exposes a tensor's memory as a Span (at most 2 GiB),
/// so larger tensors are handled in chunks of a flat view; each byte is still copied exactly once.
/// </summary>
static class TensorBytes
{
    const long ChunkBytes = 1L << 30;

    /// <summary>A new CPU tensor of the given shape and type holding a copy of <paramref name="byteCount"/> bytes at <paramref name="source"/>.</summary>
    public static unsafe Tensor Create(byte* source, long byteCount, long[] shape, ScalarType dtype)
    {
        var tensor = empty(shape, dtype);
        if (byteCount == 0) return tensor;
        using var scope = NewDisposeScope();
        ForEachChunk(tensor.reshape(-1), (start, chunk) => new ReadOnlySpan<byte>(source + start, chunk.Length).CopyTo(chunk));
        return tensor;
    }

    /// <summary>Hands the tensor's bytes (row-major, as stored in safetensors) to <paramref name="write"/> chunk by chunk.</summary>
    public static void Write(Tensor tensor, Action<ReadOnlySpan<byte>> write)
    {
        using var scope = NewDisposeScope();
        var cpu = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
        if (cpu.numel() == 0) return;
        ForEachChunk(cpu.contiguous().reshape(-1), (_, chunk) => write(chunk));
    }

    /// <summary>Calls <paramref name="action"/> with (byte offset, span) for consecutive slices of a flat contiguous tensor.</summary>
    static void ForEachChunk(Tensor flat, Action<long, Span<byte>> action)
    {
        long elementSize = flat.element_size(), count = flat.numel(), perChunk = ChunkBytes / elementSize;
        for (long start = 0; start < count; start += perChunk)
        {
            using var part = flat.narrow(0, start, Math.Min(perChunk, count - start));
            action(start * elementSize, part.bytes);
        }
    }
}
