using System.Buffers.Binary;
using System.IO.Compression;

namespace Turbo.CalibrationData.Cli;

/// <summary>Writes 8-bit RGB PNG files (no filtering, zlib-compressed): enough to look at frames without a dependency.</summary>
public static class PngWriter
{
    /// <summary><paramref name="rgb"/> holds height × width × 3 bytes, row by row.</summary>
    public static void Write(string path, byte[] rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3) throw new ArgumentException($"expected {width * height * 3} bytes, got {rgb.Length}", nameof(rgb));
        using var file = File.Create(path);
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;  // bits per channel
        header[9] = 2;  // colour type: RGB
        Chunk(file, "IHDR", header);
        using var pixels = new MemoryStream();
        using (var zlib = new ZLibStream(pixels, CompressionLevel.Optimal, leaveOpen: true))
            for (int y = 0; y < height; y++)
            {
                zlib.WriteByte(0); // filter: none
                zlib.Write(rgb, y * width * 3, width * 3);
            }
        Chunk(file, "IDAT", pixels.ToArray());
        Chunk(file, "IEND", []);
    }

    static void Chunk(Stream stream, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        stream.Write(word);
        var typed = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type, typed);
        data.CopyTo(typed, 4);
        stream.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typed));
        stream.Write(word);
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>The CRC-32 every PNG chunk ends with (ISO 3309, as in zlib).</summary>
    static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }
}
