using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;

namespace Turbo.Runtime.IO;

/// <summary>
/// Streams a .safetensors file: the header for the whole layout is written first, then each tensor's bytes in
/// layout order, so no more than one tensor need be in memory. Everything goes to <c>path + ".tmp"</c> and is
/// renamed to <c>path</c> by <see cref="Commit"/>; disposing without committing deletes the temporary file, so
/// a failed or abandoned write never leaves a file at <c>path</c>.
/// Tensors are stored in the order given; put larger element types first to keep every tensor naturally aligned.
/// </summary>
public sealed class SafetensorsWriter : IDisposable
{
    readonly string _path, _tempPath;
    readonly TensorInfo[] _layout;
    FileStream? _stream;
    int _next; // index of the next tensor to write

    public SafetensorsWriter(string path, IEnumerable<(string Name, SafetensorsDType DType, long[] Shape)> layout,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        _path = path;
        _tempPath = path + ".tmp";
        _layout = Plan(path, layout);
        byte[] header = Header(path, _layout, metadata);
        try { _stream = new FileStream(_tempPath, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TurboException($"{path}: cannot create ({e.Message.TrimEnd('.')})");
        }
        try
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            _stream.Write(length);
            _stream.Write(header);
        }
        catch { Dispose(); throw; }
    }

    /// <summary>Writes every tensor of <paramref name="tensors"/> to <paramref name="path"/> (larger element types first, then by name).</summary>
    public static void Save(string path, IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var layout = tensors.Select(kv => (Name: kv.Key, DType: kv.Value.dtype.ToSafetensors(), Shape: kv.Value.shape))
            .OrderByDescending(e => e.DType.ByteSize()).ThenBy(e => e.Name, StringComparer.Ordinal).ToList();
        using var writer = new SafetensorsWriter(path, layout, metadata);
        foreach (var (name, _, _) in layout) writer.Write(name, tensors[name]);
        writer.Commit();
    }

    /// <summary>Writes the next tensor of the layout from raw little-endian bytes.</summary>
    public void Write(string name, ReadOnlySpan<byte> bytes)
    {
        var info = Expect(name);
        if (bytes.Length != info.ByteCount)
            throw Error(name, $"got {bytes.Length} bytes but shape {info.ShapeText} × {info.DType} needs {info.ByteCount}");
        try { _stream!.Write(bytes); }
        catch { Dispose(); throw; } // half-written: the bytes no longer match the header
        _next++;
    }

    /// <summary>Writes the next tensor of the layout; its dtype and shape must match the layout (any device, any strides).</summary>
    public void Write(string name, torch.Tensor tensor)
    {
        var info = Expect(name);
        var dtype = info.DType.ToScalarType() ?? throw Error(name, $"{info.DType} has no TorchSharp type; write its bytes instead");
        if (tensor.dtype != dtype) throw Error(name, $"tensor is {tensor.dtype} but the layout says {info.DType} (stored as {dtype})");
        if (!tensor.shape.SequenceEqual(info.Shape))
            throw Error(name, $"tensor has shape [{string.Join(", ", tensor.shape)}] but the layout says {info.ShapeText}");
        try { TensorBytes.Write(tensor, chunk => _stream!.Write(chunk)); }
        catch { Dispose(); throw; }
        _next++;
    }

    /// <summary>Flushes to disk and renames the temporary file to the final path.</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_stream is null, this);
        if (_next < _layout.Length)
            throw Error(_layout[_next].Name, $"not written ({_layout.Length - _next} of {_layout.Length} tensors missing at commit)");
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        _stream = null;
        File.Move(_tempPath, _path, overwrite: true);
    }

    public void Dispose()
    {
        if (_stream is null) return;
        _stream.Dispose();
        _stream = null;
        File.Delete(_tempPath);
    }

    TensorInfo Expect(string name)
    {
        ObjectDisposedException.ThrowIf(_stream is null, this);
        if (_next == _layout.Length) throw Error(name, "written after the last tensor of the layout");
        if (_layout[_next].Name != name) throw Error(name, $"written out of order: the layout's next tensor is '{_layout[_next].Name}'");
        return _layout[_next];
    }

    TurboException Error(string name, string problem) => new($"{_path}: tensor '{name}': {problem}");

    /// <summary>Checks the layout and gives each tensor contiguous offsets in the order given.</summary>
    static TensorInfo[] Plan(string path, IEnumerable<(string Name, SafetensorsDType DType, long[] Shape)> layout)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var planned = new List<TensorInfo>();
        long offset = 0;
        foreach (var (name, dtype, shape) in layout)
        {
            string shapeText = "[" + string.Join(", ", shape) + "]";
            if (name == SafetensorsHeader.MetadataKey || !names.Add(name))
                throw new TurboException($"{path}: tensor '{name}': name is reserved or appears twice in the layout");
            if (shape.Any(d => d < 0)) throw new TurboException($"{path}: tensor '{name}': shape {shapeText} has a negative dimension");
            long bytes = SafetensorsHeader.ByteCount(shape, dtype)
                ?? throw new TurboException($"{path}: tensor '{name}': shape {shapeText} × {dtype} overflows 64 bits");
            planned.Add(new TensorInfo(name, dtype, (long[])shape.Clone(), offset, offset + bytes));
            offset = checked(offset + bytes);
        }
        return planned.ToArray();
    }

    /// <summary>The JSON header, padded with spaces to a multiple of 8 bytes so that the data buffer starts 8-aligned.</summary>
    static byte[] Header(string path, TensorInfo[] layout, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            foreach (var t in layout)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.ToString());
                json.WriteStartArray("shape");
                foreach (long d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(t.Begin);
                json.WriteNumberValue(t.End);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        if (padded > SafetensorsHeader.MaxHeaderBytes)
            throw new TurboException($"{path}: the header would take {padded} bytes, over the {SafetensorsHeader.MaxHeaderBytes:N0}-byte limit of the format");
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
