using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;

namespace Turbo.Runtime.IO;

/// <summary>
/// Reads and strictly validates a safetensors header, following the reference implementation
/// (huggingface/safetensors): an 8-byte little-endian length N, N bytes of UTF-8 JSON, then a data buffer that
/// the tensors cover exactly. Never trusts the input: every size is checked before use, and the only exception
/// that leaves is <see cref="SafetensorsFormatException"/>.
/// </summary>
static class SafetensorsHeader
{
    public const long MaxHeaderBytes = 100_000_000;
    public const string MetadataKey = "__metadata__";

    const string RuleLayout = "tensors cover the data buffer exactly: sorted by offset, the first starts at 0, each starts where "
        + "the previous ends, and 8 + header length + last end == file size";

    static readonly Dictionary<string, SafetensorsDType> DTypesByName =
        Enum.GetValues<SafetensorsDType>().ToDictionary(d => d.ToString(), StringComparer.Ordinal);

    public sealed record Contents(IReadOnlyDictionary<string, string> Metadata, IReadOnlyList<TensorInfo> Tensors);

    public static void CheckFileLength(string file, long fileLength)
    {
        if (fileLength < 8)
            throw new SafetensorsFormatException(file, null, $"file has {fileLength} bytes", "a file holds at least the 8-byte header length");
    }

    /// <summary>The header length N from the first 8 bytes, checked against the file size and the 100 MB cap.</summary>
    public static int ReadLength(string file, ReadOnlySpan<byte> start, long fileLength)
    {
        CheckFileLength(file, fileLength);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(start);
        if (n > MaxHeaderBytes)
            throw new SafetensorsFormatException(file, null, $"header length {n} is over the limit", $"header length ≤ {MaxHeaderBytes:N0} bytes");
        if ((long)n > fileLength - 8)
            throw new SafetensorsFormatException(file, null, $"header length {n} runs past the end of the {fileLength}-byte file",
                "8 + header length ≤ file size");
        return (int)n;
    }

    /// <summary>Parses the JSON header and checks every entry and the layout against a data buffer of <paramref name="bufferLength"/> bytes.</summary>
    public static Contents Parse(string file, ReadOnlySpan<byte> header, long bufferLength)
    {
        if (header.IsEmpty || header[0] != (byte)'{')
            throw new SafetensorsFormatException(file, null, "header does not start with '{'", "the header is a JSON object starting with '{'");
        if (!Utf8.IsValid(header))
            throw new SafetensorsFormatException(file, null, "header is not valid UTF-8", "the header is UTF-8 JSON");
        var (metadata, tensors) = ParseJson(file, header);
        CheckLayout(file, tensors, bufferLength);
        return new Contents(metadata, tensors);
    }

    static (Dictionary<string, string>, List<TensorInfo>) ParseJson(string file, ReadOnlySpan<byte> header)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var tensors = new List<TensorInfo>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(header);
        try
        {
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string key = reader.GetString()!;
                if (!keys.Add(key))
                    throw key == MetadataKey
                        ? new SafetensorsFormatException(file, null, $"key '{key}' appears twice in the header", "no duplicate keys")
                        : new SafetensorsFormatException(file, key, "appears twice in the header", "no duplicate keys");
                reader.Read();
                if (key == MetadataKey) ReadMetadata(file, ref reader, metadata);
                else tensors.Add(ReadEntry(file, key, ref reader));
            }
            while (reader.Read()) { } // anything but whitespace after the closing '}' throws
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new SafetensorsFormatException(file, null, $"header is not valid JSON ({e.Message.TrimEnd('.')})", "the header is UTF-8 JSON");
        }
        return (metadata, tensors);
    }

    static void ReadMetadata(string file, ref Utf8JsonReader reader, Dictionary<string, string> metadata)
    {
        const string rule = "__metadata__ maps strings to strings";
        if (reader.TokenType == JsonTokenType.Null) return;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafetensorsFormatException(file, null, $"__metadata__ is a {reader.TokenType}, not an object", rule);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw new SafetensorsFormatException(file, null, $"__metadata__ value of '{key}' is a {reader.TokenType}, not a string", rule);
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw new SafetensorsFormatException(file, null, $"__metadata__ key '{key}' appears twice", "no duplicate keys");
        }
    }

    static TensorInfo ReadEntry(string file, string name, ref Utf8JsonReader reader)
    {
        const string rule = "each tensor entry is {\"dtype\": string, \"shape\": [non-negative integers], \"data_offsets\": [begin, end]}";
        SafetensorsFormatException Bad(string problem, string why = rule) => new(file, name, problem, why);
        if (reader.TokenType != JsonTokenType.StartObject) throw Bad($"entry is a {reader.TokenType}, not an object");
        SafetensorsDType? dtype = null;
        long[]? shape = null, offsets = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string field = reader.GetString()!;
            reader.Read();
            bool seen = field switch { "dtype" => dtype is not null, "shape" => shape is not null, "data_offsets" => offsets is not null, _ => false };
            if (seen) throw Bad($"field '{field}' appears twice", "no duplicate keys");
            switch (field)
            {
                case "dtype":
                    if (reader.TokenType != JsonTokenType.String) throw Bad($"dtype is a {reader.TokenType}, not a string");
                    string text = reader.GetString()!;
                    dtype = DTypesByName.TryGetValue(text, out var d) ? d
                        : throw Bad($"dtype '{text}' is not supported", "dtype is one of " + string.Join(", ", DTypesByName.Keys));
                    break;
                case "shape": shape = ReadIntegers(ref reader) ?? throw Bad("shape is not a list of non-negative integers"); break;
                case "data_offsets":
                    offsets = ReadIntegers(ref reader);
                    if (offsets is not { Length: 2 }) throw Bad("data_offsets is not a list of two non-negative integers");
                    break;
                default: throw Bad($"unknown field '{field}'");
            }
        }
        if (dtype is null || shape is null || offsets is null)
            throw Bad($"field '{(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}' is missing");
        return new TensorInfo(name, dtype.Value, shape, offsets[0], offsets[1]);
    }

    /// <summary>A JSON array of non-negative 64-bit integers, or null if the value is anything else.</summary>
    static long[]? ReadIntegers(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray) return null;
        var values = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0) return null;
            values.Add(v);
        }
        return values.ToArray();
    }

    static void CheckLayout(string file, List<TensorInfo> tensors, long bufferLength)
    {
        foreach (var t in tensors)
        {
            string offsets = $"data_offsets [{t.Begin}, {t.End}]";
            if (t.End < t.Begin)
                throw new SafetensorsFormatException(file, t.Name, $"{offsets} end before they begin", "begin ≤ end");
            long? needed = ByteCount(t.Shape, t.DType);
            if (needed is null)
                throw new SafetensorsFormatException(file, t.Name, $"shape {t.ShapeText} × {t.DType} overflows 64 bits",
                    "byte count = shape × dtype size");
            if (needed != t.ByteCount)
                throw new SafetensorsFormatException(file, t.Name,
                    $"{offsets} cover {t.ByteCount} bytes but shape {t.ShapeText} × {t.DType} needs {needed}", "byte count = shape × dtype size");
        }
        tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expected = 0;
        TensorInfo? previous = null;
        foreach (var t in tensors)
        {
            if (t.Begin > expected)
                throw new SafetensorsFormatException(file, t.Name,
                    $"data_offsets [{t.Begin}, {t.End}] leave bytes [{expected}, {t.Begin}) of the data buffer unused (a hole)", RuleLayout);
            if (t.Begin < expected)
                throw new SafetensorsFormatException(file, t.Name,
                    $"data_offsets [{t.Begin}, {t.End}] overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]", RuleLayout);
            if (t.End > bufferLength)
                throw new SafetensorsFormatException(file, t.Name,
                    $"data_offsets [{t.Begin}, {t.End}] run past the end of the {bufferLength}-byte data buffer", RuleLayout);
            expected = t.End;
            previous = t;
        }
        if (expected != bufferLength)
            throw previous is null
                ? new SafetensorsFormatException(file, null, $"there are no tensors but the data buffer after the header has {bufferLength} bytes", RuleLayout)
                : new SafetensorsFormatException(file, previous.Name,
                    $"is the last tensor and ends at byte {expected}, but the data buffer after the header has {bufferLength} bytes", RuleLayout);
    }

    /// <summary>prod(shape) × dtype size, or null on 64-bit overflow.</summary>
    public static long? ByteCount(long[] shape, SafetensorsDType dtype)
    {
        try
        {
            long count = dtype.ByteSize();
            foreach (long dim in shape) count = checked(count * dim);
            return count;
        }
        catch (OverflowException) { return null; }
    }
}
