using System.Diagnostics;
using Turbo.Runtime.IO;
using static TorchSharp.torch;
using Turbo.Tests.Support;

namespace Turbo.Tests.IO;

/// <summary>
/// Hostile input: thousands of seeded mutations of valid files (byte flips, JSON-ish characters, insertions,
/// deletions, truncations, a wrong length field). Each must either open — and then read back every tensor —
/// or fail with a SafetensorsFormatException; never another exception, a crash or a hang.
/// </summary>
public class SafetensorsFuzzTests
{
    const int Mutations = 20_000;
    static readonly byte[] JsonBytes = "{}[]\":,0123456789-+.eE \\u\ttruefalsenull"u8.ToArray();

    [Test]
    public void MutatedFilesOpenOrFailCleanly()
    {
        using var folder = new TempFolder();
        byte[][] seeds = [.. ValidFiles(folder), File.ReadAllBytes(Golden.Path("umt5.io.safetensors"))];
        string path = folder.PathTo("fuzz.safetensors");
        // Rewritten in place through one open stream: truncating and recreating a file costs ~1 ms on ext4.
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite);
        var random = new Random(20261128);
        int opened = 0, rejected = 0;
        var rules = new Dictionary<string, int>();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Mutations; i++)
        {
            byte[] mutated = Mutate(seeds[random.Next(seeds.Length)], random);
            stream.Position = 0;
            stream.Write(mutated);
            stream.SetLength(mutated.Length);
            stream.Flush();
            try
            {
                using var file = SafetensorsFile.Open(path);
                ReadEverything(file);
                opened++;
            }
            catch (SafetensorsFormatException e)
            {
                rejected++;
                rules[e.Rule] = rules.GetValueOrDefault(e.Rule) + 1;
            }
            catch (Exception e)
            {
                File.WriteAllBytes(folder.PathTo($"failure-{i}.safetensors"), mutated);
                Assert.Fail($"mutation {i}: {e.GetType().Name} escaped: {e.Message}\n{Convert.ToBase64String(mutated)}");
            }
        }
        TestContext.Out.WriteLine($"{Mutations} mutations: {opened} opened, {rejected} rejected, {clock.Elapsed.TotalSeconds:F1} s");
        foreach (var (rule, count) in rules.OrderByDescending(r => r.Value)) TestContext.Out.WriteLine($"{count,6}  {rule}");
        Assert.That(rules, Has.Count.GreaterThanOrEqualTo(8), "the mutations reach many different checks");
        Assert.That(opened, Is.GreaterThan(Mutations / 100), "some mutations stay valid (e.g. changed tensor bytes or names)");
        Assert.That(rejected, Is.GreaterThan(Mutations / 2));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)));
    }

    static void ReadEverything(SafetensorsFile file)
    {
        foreach (var info in file.Tensors)
        {
            _ = file.Bytes(info.Name).Length;
            if (info.DType.ToScalarType() is null) continue;
            using var t = file.Read(info.Name);
            Assert.That(t.shape, Is.EqualTo(info.Shape));
        }
    }

    static IEnumerable<byte[]> ValidFiles(TempFolder folder)
    {
        string path = folder.PathTo("seed.safetensors");
        using (var scope = NewDisposeScope())
            SafetensorsWriter.Save(path, new Dictionary<string, Tensor>
            {
                ["blocks.0.q.weight"] = randn(4, 3), ["scalar"] = tensor(2.0), ["empty"] = zeros(0, 5, dtype: ScalarType.Int16),
                ["mask"] = ones(3, dtype: ScalarType.Bool), ["ids"] = arange(6), ["half"] = randn(2, 2).half(),
            }, new Dictionary<string, string> { ["format"] = "pt", ["config"] = "{\"dim\": 4}" });
        yield return File.ReadAllBytes(path);
        using (var writer = new SafetensorsWriter(path, [("u", SafetensorsDType.U32, [2]), ("f8", SafetensorsDType.F8_E4M3, [3]), ("z", SafetensorsDType.U64, [])]))
        {
            writer.Write("u", new byte[8]);
            writer.Write("f8", [1, 2, 3]);
            writer.Write("z", new byte[8]);
            writer.Commit();
        }
        yield return File.ReadAllBytes(path);
    }

    /// <summary>Half the time the header alone is edited and the length field fixed up, so edits get past the length checks.</summary>
    static byte[] Mutate(byte[] original, Random random)
    {
        int headerEnd = 8 + (int)BitConverter.ToInt64(original, 0);
        if (random.Next(2) == 0) return Edit(original, headerEnd, lengthField: true, random);
        return RawSafetensors.Build(Edit(original[8..headerEnd], headerEnd - 8, lengthField: false, random), original[headerEnd..]);
    }

    static byte[] Edit(byte[] original, int hotEnd, bool lengthField, Random random)
    {
        var bytes = new List<byte>(original);
        int edits = 1 + random.Next(3);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(Math.Min(bytes.Count, hotEnd + 4)); // mostly where the parser looks
            switch (random.Next(lengthField ? 8 : 6))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[at] = JsonBytes[random.Next(JsonBytes.Length)]; break;
                case 2: bytes.Insert(at, JsonBytes[random.Next(JsonBytes.Length)]); break;
                case 3: bytes.RemoveRange(at, Math.Min(random.Next(1, 8), bytes.Count - at)); break;
                case 4: int cut = random.Next(bytes.Count); bytes.RemoveRange(cut, bytes.Count - cut); break; // truncation
                case 5: bytes[random.Next(bytes.Count)] = (byte)random.Next(256); break;                   // anywhere
                case 6: if (bytes.Count >= 8) bytes[0] = (byte)(bytes[0] + random.Next(-16, 17)); break;   // header length a little off
                default: bytes[random.Next(Math.Min(8, bytes.Count))] = (byte)random.Next(256); break;     // header length wild
            }
        }
        return bytes.ToArray();
    }
}
