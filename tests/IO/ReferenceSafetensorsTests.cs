using Turbo.Runtime;
using Turbo.Runtime.IO;
using static TorchSharp.torch;
using Turbo.Tests.Support;

namespace Turbo.Tests.IO;

/// <summary>A file written by the reference Python implementation, one tensor per dtype (see Data/README.md).</summary>
public class ReferenceSafetensorsTests
{
    static byte[] Pattern(string name, SafetensorsDType dtype, long count) =>
        Enumerable.Range(0, (int)count).Select(i => (byte)(dtype == SafetensorsDType.BOOL ? i & 1 : (31 * i + 7 * name.Length) & 0xFF)).ToArray();

    [Test]
    public void EveryDTypeWrittenByTheReferenceReadsBitExact()
    {
        using var file = SafetensorsFile.Open(Repository.FilePath("tests", "IO", "Data", "reference_all_dtypes.safetensors"));
        Assert.That(file.Metadata, Is.EquivalentTo(new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"q\"" }));
        foreach (var dtype in Enum.GetValues<SafetensorsDType>())
        {
            string name = dtype.ToString().ToLowerInvariant();
            var info = file.Info(name);
            byte[] expected = Pattern(name, dtype, 15 * dtype.ByteSize());
            Assert.That((info.DType, info.Shape), Is.EqualTo((dtype, new long[] { 3, 5 })), name);
            Assert.That(file.Bytes(name).ToArray(), Is.EqualTo(expected), name);
            if (dtype.ToScalarType() is { } scalarType)
            {
                using var t = file.Read(name);
                Assert.That((t.dtype, t.shape), Is.EqualTo((scalarType, info.Shape)), name);
                Assert.That(t.bytes.ToArray(), Is.EqualTo(expected), name);
            }
            else Assert.Throws<TurboException>(() => file.Read(name).Dispose());
        }
        using var scalar = file.Read("scalar");
        Assert.That((scalar.dim(), scalar.bytes.ToArray()), Is.EqualTo((0L, Pattern("scalar", SafetensorsDType.F32, 4))));
        using var empty = file.Read("empty");
        Assert.That((empty.shape, empty.dtype), Is.EqualTo((new long[] { 0, 4 }, ScalarType.BFloat16)));
    }
}
