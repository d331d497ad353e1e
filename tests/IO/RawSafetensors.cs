using System.Buffers.Binary;
using System.Text;

namespace Turbo.Tests.IO;

/// <summary>Builds .safetensors bytes by hand, so tests can write files that break the format on purpose.</summary>
static class RawSafetensors
{
    public static byte[] Build(string headerJson, int dataBytes) => Build(Encoding.UTF8.GetBytes(headerJson), new byte[dataBytes]);

    public static byte[] Build(byte[] header, byte[] data) => Build((ulong)header.Length, header, data);

    public static byte[] Build(ulong declaredHeaderLength, byte[] header, byte[] data)
    {
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, declaredHeaderLength);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }
}
