using System.Buffers.Binary;
using System.Text;

namespace Turbo.Runtime.Video;

/// <summary>
/// Writes frames as an animated GIF89a that loops forever. Each frame gets its own (local) palette by median cut,
/// so a colour that appears in one frame only does not take a slot from the others; see <see cref="MedianCutPalette"/>.
/// </summary>
public static class GifWriter
{
    /// <summary>
    /// GIF delays count hundredths of a second, and viewers replace delays under 2 by 10 (a legacy of slow
    /// machines), so frame rates above 50 play at 50 rather than at 10.
    /// </summary>
    public const double MaxFps = 50;

    /// <summary>
    /// Writes <paramref name="frames"/> (all one size, at least one) to <paramref name="path"/> through a temporary
    /// file. Frames are encoded as they come; a bad frame aborts the write and leaves nothing at the path.
    /// The delay per frame is round(100 / fps) hundredths of a second (e.g. 16 fps → 0.06 s, playing at 16.7 fps).
    /// </summary>
    public static void Write(string path, IEnumerable<RgbFrame> frames, double fps)
    {
        int delay = DelayHundredths(fps);
        AtomicOutput.Write(path, stream => Encode(stream, frames, delay, path));
    }

    /// <summary>The GIF of <paramref name="frames"/> as bytes (e.g. to embed in a page); see <see cref="Write"/>.</summary>
    public static byte[] Encode(IEnumerable<RgbFrame> frames, double fps, string what)
    {
        int delay = DelayHundredths(fps);
        using var stream = new MemoryStream();
        Encode(stream, frames, delay, what);
        return stream.ToArray();
    }

    static void Encode(Stream stream, IEnumerable<RgbFrame> frames, int delay, string what)
    {
        RgbFrame? first = null;
        int index = 0;
        foreach (var frame in frames)
        {
            if (first is null)
            {
                first = frame;
                WriteHeader(stream, frame.Width, frame.Height, what);
            }
            RgbFrame.RequireSameSize(first, frame, index, what);
            WriteFrame(stream, frame, delay);
            index++;
        }
        if (first is null) throw new TurboException($"{what}: no frames");
        stream.WriteByte(0x3B); // trailer
    }

    /// <summary>The delay field for <paramref name="fps"/>: round(100 / fps), at least 2 (see <see cref="MaxFps"/>).</summary>
    public static int DelayHundredths(double fps)
    {
        if (!double.IsFinite(fps) || fps <= 0) throw new TurboException($"fps must be a positive number, got {fps}");
        return (int)Math.Clamp(Math.Round(100 / fps), 100 / MaxFps, ushort.MaxValue);
    }

    static void WriteHeader(Stream stream, int width, int height, string path)
    {
        if (width > ushort.MaxValue || height > ushort.MaxValue)
            throw new TurboException($"{path}: GIF frames are at most {ushort.MaxValue} pixels a side, got {width}×{height}");
        stream.Write("GIF89a"u8);
        // Logical screen descriptor: no global colour table (each frame has its own), 8-bit colour resolution.
        WriteUInt16(stream, width);
        WriteUInt16(stream, height);
        stream.Write([0x70, 0, 0]);
        // NETSCAPE2.0 application extension: loop count 0 = forever.
        stream.Write([0x21, 0xFF, 11]);
        stream.Write(Encoding.ASCII.GetBytes("NETSCAPE2.0"));
        stream.Write([3, 1, 0, 0, 0]);
    }

    static void WriteFrame(Stream stream, RgbFrame frame, int delay)
    {
        var palette = new MedianCutPalette(frame);
        int tableBits = 1;
        while (1 << tableBits < palette.Colours.Length) tableBits++;

        // Graphic control extension: disposal 1 (leave in place; every frame covers the screen anyway), no transparency.
        stream.Write([0x21, 0xF9, 4, 1 << 2]);
        WriteUInt16(stream, delay);
        stream.Write([0, 0]);

        // Image descriptor at (0, 0), full size, not interlaced, with a local colour table of 2^tableBits entries.
        stream.WriteByte(0x2C);
        WriteUInt16(stream, 0);
        WriteUInt16(stream, 0);
        WriteUInt16(stream, frame.Width);
        WriteUInt16(stream, frame.Height);
        stream.WriteByte((byte)(0x80 | (tableBits - 1)));
        var table = new byte[3 << tableBits]; // unused entries stay black
        for (int i = 0; i < palette.Colours.Length; i++)
            for (int channel = 0; channel < 3; channel++)
                table[3 * i + channel] = (byte)MedianCutPalette.Channel(palette.Colours[i], channel);
        stream.Write(table);

        // GIF's smallest LZW code size is 2, even for a two-colour table.
        GifLzw.Write(stream, palette.Indices, Math.Max(2, tableBits));
    }

    static void WriteUInt16(Stream stream, int value)
    {
        Span<byte> bytes = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)value);
        stream.Write(bytes);
    }
}
