using System.Text.Json;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using static TorchSharp.torch;
using Turbo.Tests.Support;

namespace Turbo.Tests.IO;

public class CheckpointTests
{
    static readonly (string Name, SafetensorsDType DType, long[] Shape)[] Layout =
    [
        ("patch_embedding.weight", SafetensorsDType.F32, [8, 4, 1, 2, 2]), // 512 bytes
        ("blocks.0.self_attn.q.weight", SafetensorsDType.BF16, [16, 8]),     // 256
        ("blocks.0.modulation", SafetensorsDType.F32, [1, 6, 8]),            // 192
        ("blocks.0.norm.weight", SafetensorsDType.F16, [8]),                 // 16
        ("blocks.1.self_attn.q.weight", SafetensorsDType.BF16, [16, 8]),     // 256
        ("step", SafetensorsDType.I64, []),                                  // 8
        ("empty", SafetensorsDType.F32, [0, 8]),                             // 0
        ("mask", SafetensorsDType.BOOL, [5]),                                // 5
        ("head.head.weight", SafetensorsDType.F32, [64, 8]),                 // 2048: larger than a shard, so one of its own
        ("codes", SafetensorsDType.F8_E4M3, [3, 3]),                         // 9
    ];

    static Tensor Make(string name)
    {
        var (_, dtype, shape) = Layout.Single(e => e.Name == name);
        var bytes = SafetensorsRoundTripTests.RandomBytes(dtype, (int)shape.Aggregate(1L, (a, b) => a * b), seed: name.Length);
        var t = empty(shape, dtype.ToScalarType()!.Value);
        if (bytes.Length > 0) bytes.CopyTo(t.bytes);
        return t;
    }

    [Test]
    public void ShardedWriteReadsBackLikeOneFile()
    {
        using var folder = new TempFolder();
        string single = folder.PathTo("single.safetensors"), shardDir = Path.Combine(folder.Path, "sharded");
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        using (var writer = new SafetensorsWriter(single, Layout, metadata))
        {
            foreach (var (name, _, _) in Layout) { using var t = Make(name); writer.Write(name, t); }
            writer.Commit();
        }
        var produced = new List<string>();
        var written = ShardedCheckpointWriter.Write(shardDir, "diffusion_pytorch_model", Layout,
            name => { produced.Add(name); return Make(name); }, maxShardBytes: 600, metadata);

        Assert.That(produced, Is.EqualTo(Layout.Select(e => e.Name)), "each tensor produced once, in layout order");
        string[] shards = ["00001", "00002", "00003", "00004", "00005"];
        Assert.That(written.Select(Path.GetFileName), Is.EqualTo(shards.Select(i => $"diffusion_pytorch_model-{i}-of-00005.safetensors")
            .Append("diffusion_pytorch_model.safetensors.index.json")));
        Assert.That(Directory.GetFiles(shardDir), Has.Length.EqualTo(6), "no temporary files left behind");

        using var index = JsonDocument.Parse(File.ReadAllText(written[^1]));
        Assert.That(index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64(), Is.EqualTo(512 + 256 + 192 + 16 + 256 + 8 + 5 + 2048 + 9));
        var names = index.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Name).ToList();
        Assert.That(names, Is.EqualTo(names.Order(StringComparer.Ordinal)));
        // Greedy in layout order, at most 600 bytes a shard; head.head.weight alone exceeds that and gets a shard of its own.
        int[] expectedShard = [1, 2, 2, 2, 3, 3, 3, 3, 4, 5];
        for (int i = 0; i < Layout.Length; i++)
            Assert.That(index.RootElement.GetProperty("weight_map").GetProperty(Layout[i].Name).GetString(),
                Is.EqualTo($"diffusion_pytorch_model-{expectedShard[i]:D5}-of-00005.safetensors"), Layout[i].Name);

        using var one = Checkpoint.Open(single);
        foreach (string path in new[] { shardDir, written[^1] })
        {
            using var sharded = Checkpoint.Open(path);
            Assert.That(sharded.Files, Has.Count.EqualTo(5));
            Assert.That(sharded.Root, Is.EqualTo(Path.GetFullPath(shardDir)));
            Assert.That(sharded.Metadata, Is.EquivalentTo(metadata));
            Assert.That(sharded.Tensors.Select(t => t.Name), Is.EquivalentTo(one.Tensors.Select(t => t.Name)));
            foreach (var info in one.Tensors)
            {
                using var a = one.Read(info.Name);
                using var b = sharded.Read(info.Name);
                Assert.That((b.dtype, b.shape), Is.EqualTo((a.dtype, a.shape)), info.Name);
                Assert.That(b.bytes.ToArray(), Is.EqualTo(a.bytes.ToArray()), info.Name);
                Assert.That(sharded.Info(info.Name).DType, Is.EqualTo(info.DType));
            }
        }
    }

    [Test]
    public void FailedShardedWriteLeavesNothing()
    {
        using var folder = new TempFolder();
        Assert.Throws<InvalidOperationException>(() => ShardedCheckpointWriter.Write(folder.Path, "model", Layout,
            name => name == "mask" ? throw new InvalidOperationException("producer failed") : Make(name), maxShardBytes: 600));
        Assert.That(Directory.GetFileSystemEntries(folder.Path), Is.Empty);
    }

    [Test]
    public void FolderOfFilesIsMerged()
    {
        using var folder = new TempFolder();
        using (var a = ones(2)) SafetensorsWriter.Save(folder.PathTo("a.safetensors"), new Dictionary<string, Tensor> { ["x"] = a });
        using (var b = zeros(3)) SafetensorsWriter.Save(folder.PathTo("b.safetensors"), new Dictionary<string, Tensor> { ["y"] = b });
        File.WriteAllText(folder.PathTo("config.json"), "{}");
        using var checkpoint = Checkpoint.Open(folder.Path);
        Assert.That(checkpoint.Files.Select(Path.GetFileName), Is.EqualTo(new[] { "a.safetensors", "b.safetensors" }));
        Assert.That(checkpoint.Read("y").shape, Is.EqualTo(new long[] { 3 }));
        Assert.That(checkpoint.Contains("x") && !checkpoint.Contains("z"), Is.True);
        var e = Assert.Throws<TurboException>(() => checkpoint.Read("z"))!;
        Assert.That(e.Message, Does.Contain(folder.Path).And.Contain("no tensor named 'z'"));
    }

    [Test]
    public void TensorInTwoFiles()
    {
        using var folder = new TempFolder();
        using var t = ones(2);
        SafetensorsWriter.Save(folder.PathTo("a.safetensors"), new Dictionary<string, Tensor> { ["x"] = t });
        SafetensorsWriter.Save(folder.PathTo("b.safetensors"), new Dictionary<string, Tensor> { ["x"] = t });
        AssertOpenFails(folder.Path, "tensor 'x' is in both a.safetensors and b.safetensors");
    }

    [Test]
    public void IndexErrors()
    {
        using var folder = new TempFolder();
        using (var t = ones(2))
            SafetensorsWriter.Save(folder.PathTo("s1.safetensors"), new Dictionary<string, Tensor> { ["x"] = t, ["y"] = t });
        string index = folder.PathTo("model.safetensors.index.json");
        void Check(string weightMap, string expected)
        {
            File.WriteAllText(index, $$"""{"metadata": {"total_size": 16}, "weight_map": {{weightMap}}}""");
            AssertOpenFails(index, index + ": " + expected);
            AssertOpenFails(folder.Path, index + ": " + expected);
        }
        Check("""{"x": "s1.safetensors", "y": "s2.safetensors"}""", "names shard 's2.safetensors', which does not exist in " + folder.Path);
        Check("""{"x": "s1.safetensors", "y": "s1.safetensors", "z": "s1.safetensors"}""",
            "weight_map puts tensor 'z' in s1.safetensors, but s1.safetensors does not hold it");
        Check("""{"x": "s1.safetensors"}""", "tensor 'y' of shard s1.safetensors is missing from the weight_map");
        Check("""{"x": "s1.safetensors", "x": "s1.safetensors", "y": "s1.safetensors"}""", "weight_map entry 'x' appears twice");
        Check("""{"x": 1}""", "weight_map entry 'x' is a Number, not a shard file name");
        Check("""{"x": "../s1.safetensors"}""", "weight_map entry 'x' names '../s1.safetensors', not a file name beside the index");
        Check("{}", "weight_map lists no tensors");
        Check("[]", "no \"weight_map\" object");
        File.WriteAllText(index, "{\"weight_map\": ");
        AssertOpenFails(index, index + ": not valid JSON");
    }

    [Test]
    public void PathsThatAreNotCheckpoints()
    {
        using var folder = new TempFolder();
        AssertOpenFails(folder.Path, folder.Path + ": no *.safetensors files in this folder");
        AssertOpenFails(folder.PathTo("nothing"), "nothing: no such file or folder");
        File.WriteAllText(folder.PathTo("a.safetensors.index.json"), "{}");
        File.WriteAllText(folder.PathTo("b.safetensors.index.json"), "{}");
        AssertOpenFails(folder.Path, "holds 2 index files");
        File.WriteAllText(folder.PathTo("broken.safetensors"), "{}");
        Assert.Throws<SafetensorsFormatException>(() => Checkpoint.Open(folder.PathTo("broken.safetensors")));
    }

    static void AssertOpenFails(string path, string expected)
    {
        var e = Assert.Throws<TurboException>(() => Checkpoint.Open(path).Dispose())!;
        Assert.That(e.Message, Does.Contain(expected));
    }
}
