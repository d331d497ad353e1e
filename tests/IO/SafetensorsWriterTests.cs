using Turbo.Runtime;
using Turbo.Runtime.IO;
using static TorchSharp.torch;
using Turbo.Tests.Support;

namespace Turbo.Tests.IO;

public class SafetensorsWriterTests
{
    static readonly (string, SafetensorsDType, long[])[] Layout =
        [("a", SafetensorsDType.F32, [2, 3]), ("b", SafetensorsDType.F16, [4]), ("c", SafetensorsDType.U8, [])];

    [Test]
    public void AbandonedWriteLeavesNoFile()
    {
        using var folder = new TempFolder();
        string path = folder.PathTo("out.safetensors");
        using (var writer = new SafetensorsWriter(path, Layout))
        {
            using var a = zeros(2, 3);
            writer.Write("a", a);
            Assert.That(File.Exists(path + ".tmp"), Is.True, "header and data stream to the temporary file");
        }
        Assert.That(Directory.GetFileSystemEntries(folder.Path), Is.Empty);
    }

    [Test]
    public void FailedWriteKeepsThePreviousFileAndLeavesNoTemporary()
    {
        using var folder = new TempFolder();
        string path = folder.PathTo("out.safetensors");
        File.WriteAllText(path, "previous");
        Assert.Throws<TurboException>(() =>
        {
            using var writer = new SafetensorsWriter(path, Layout);
            writer.Write("a", new byte[24]);
            writer.Write("b", new byte[3]); // wrong size: the caller's using-block abandons the file
        });
        Assert.That(File.ReadAllText(path), Is.EqualTo("previous"));
        Assert.That(Directory.GetFiles(folder.Path), Has.Length.EqualTo(1));
    }

    [Test]
    public void CommitReplacesAtomicallyAndOnlyThen()
    {
        using var folder = new TempFolder();
        string path = folder.PathTo("out.safetensors");
        File.WriteAllText(path, "previous");
        using (var writer = new SafetensorsWriter(path, Layout))
        {
            writer.Write("a", new byte[24]);
            writer.Write("b", new byte[8]);
            writer.Write("c", [7]);
            Assert.That(File.ReadAllText(path), Is.EqualTo("previous"));
            writer.Commit();
        }
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Tensors.Select(t => (t.Name, t.Begin, t.End)), Is.EqualTo(new[] { ("a", 0L, 24L), ("b", 24L, 32L), ("c", 32L, 33L) }),
            "tensors keep the layout's order with contiguous offsets");
        Assert.That(file.Read("c").item<byte>(), Is.EqualTo((byte)7));
    }

    [Test]
    public void EachWriteIsChecked()
    {
        using var folder = new TempFolder();
        string path = folder.PathTo("out.safetensors");
        using var writer = new SafetensorsWriter(path, Layout);
        using var f16 = zeros(4, dtype: ScalarType.Float16);
        using var f32Wrong = zeros(4);
        using var a = zeros(3, 2);
        AssertError(() => writer.Write("b", f16), "tensor 'b': written out of order: the layout's next tensor is 'a'");
        AssertError(() => writer.Write("a", new byte[23]), "tensor 'a': got 23 bytes but shape [2, 3] × F32 needs 24");
        AssertError(() => writer.Write("a", a), "tensor 'a': tensor has shape [3, 2] but the layout says [2, 3]");
        writer.Write("a", new byte[24]);
        AssertError(() => writer.Write("b", f32Wrong), "tensor 'b': tensor is Float32 but the layout says F16");
        AssertError(() => writer.Commit(), "tensor 'b': not written (2 of 3 tensors missing at commit)");
    }

    [Test]
    public void LayoutIsChecked()
    {
        using var folder = new TempFolder();
        string path = folder.PathTo("out.safetensors");
        AssertError(() => new SafetensorsWriter(path, [("a", SafetensorsDType.F32, [1]), ("a", SafetensorsDType.F32, [1])]),
            "tensor 'a': name is reserved or appears twice");
        AssertError(() => new SafetensorsWriter(path, [("__metadata__", SafetensorsDType.F32, [1])]), "name is reserved");
        AssertError(() => new SafetensorsWriter(path, [("n", SafetensorsDType.F32, [2, -1])]), "tensor 'n': shape [2, -1] has a negative dimension");
        AssertError(() => new SafetensorsWriter(path, [("n", SafetensorsDType.F64, [1L << 40, 1L << 40])]), "overflows 64 bits");
        AssertError(() => new SafetensorsWriter(Path.Combine(folder.Path, "absent", "out.safetensors"), Layout), "cannot create");
        Assert.That(Directory.GetFileSystemEntries(folder.Path), Is.Empty);
    }

    static void AssertError(TestDelegate action, string expected)
    {
        var e = Assert.Throws<TurboException>(action)!;
        Assert.That(e.Message, Does.Contain("out.safetensors: ").And.Contain(expected));
    }
}
