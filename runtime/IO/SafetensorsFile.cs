using System.IO.MemoryMappedFiles;
using TorchSharp;

namespace Turbo.Runtime.IO;

/// <summary>
/// A .safetensors file, memory-mapped: opening reads and validates only the header; each tensor's bytes are
/// touched when it is read, and <see cref="Read"/> copies them once into a new CPU tensor.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    const int MaxRank = 64;
    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly Dictionary<string, TensorInfo> _byName;
    byte* _data; // start of the data buffer; null once disposed

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>The tensors in file order (ascending offset).</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* data, SafetensorsHeader.Contents contents)
    {
        (Path, _map, _view, Metadata, Tensors) = (path, map, view, contents.Metadata, contents.Tensors);
        _data = data;
        _byName = contents.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Maps and validates <paramref name="path"/>; throws <see cref="TurboException"/> (a <see cref="SafetensorsFormatException"/> for format errors).</summary>
    public static SafetensorsFile Open(string path)
    {
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool pointerHeld = false;
        try
        {
            long length = new FileInfo(path).Length;
            SafetensorsHeader.CheckFileLength(path, length); // an empty file cannot be mapped
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            pointerHeld = true;
            start += view.PointerOffset;
            int headerLength = SafetensorsHeader.ReadLength(path, new ReadOnlySpan<byte>(start, 8), length);
            var contents = SafetensorsHeader.Parse(path, new ReadOnlySpan<byte>(start + 8, headerLength), length - 8 - headerLength);
            return new SafetensorsFile(path, map, view, start + 8 + headerLength, contents);
        }
        catch (Exception e)
        {
            if (pointerHeld) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map?.Dispose();
            if (e is TurboException) throw;
            if (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
                throw new TurboException($"{path}: cannot open ({e.Message.TrimEnd('.')})");
            throw;
        }
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public TensorInfo Info(string name) => _byName.TryGetValue(name, out var info) ? info
        : throw new TurboException($"{Path}: no tensor named '{name}' (the file has {_byName.Count})");

    /// <summary>The tensor's raw little-endian bytes, valid until the file is disposed (tensors up to 2 GiB).</summary>
    public ReadOnlySpan<byte> Bytes(string name)
    {
        var info = Info(name);
        if (info.ByteCount > int.MaxValue)
            throw new TurboException($"{Path}: tensor '{name}' has {info.ByteCount} bytes, too many for a span; use Read");
        return new ReadOnlySpan<byte>(Start(info), (int)info.ByteCount);
    }

    /// <summary>
    /// A new CPU tensor with the tensor's shape and dtype (see <see cref="SafetensorsTorchTypes.ToScalarType"/>:
    /// F8 types come back as Byte bit patterns; U16/U32/U64 have no TorchSharp type and throw).
    /// </summary>
    public torch.Tensor Read(string name)
    {
        var info = Info(name);
        var dtype = info.DType.ToScalarType() ?? throw new TurboException(
            $"{Path}: tensor '{name}' is {info.DType}, which TorchSharp cannot hold; use Bytes");
        // Creating a tensor slows down steeply with rank (100,000 dims took 18 s), so a hostile file could stall Read.
        if (info.Shape.Length > MaxRank)
            throw new TurboException($"{Path}: tensor '{name}' has {info.Shape.Length} dimensions; at most {MaxRank} can be read as a tensor");
        // An empty tensor may list huge dimensions; libtorch's row-major strides (products of max(dim, 1)) must still fit.
        if (SafetensorsHeader.ByteCount(info.Shape.Select(d => Math.Max(d, 1)).ToArray(), info.DType) is null)
            throw new TurboException($"{Path}: tensor '{name}': shape {info.ShapeText} is too large for a tensor (its strides overflow 64 bits)");
        return TensorBytes.Create(Start(info), info.ByteCount, info.Shape, dtype);
    }

    byte* Start(TensorInfo info)
    {
        ObjectDisposedException.ThrowIf(_data is null, this);
        return _data + info.Begin;
    }

    public void Dispose()
    {
        if (_data is null) return;
        _data = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
