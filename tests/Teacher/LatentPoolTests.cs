using Turbo.CalibrationData.Teacher;
using Turbo.Runtime.IO;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Teacher;

/// <summary>The DiT's saved latent pool: read back only when it is what the run would encode, else encoded again.</summary>
public class LatentPoolTests
{
    [Test]
    public void ASavedPoolIsReadBackOnlyWhenItWasBuiltFromTheSameThings()
    {
        using var folder = new TempFolder();
        string path = folder.PathTo("latent-pool.safetensors");
        var log = new List<string>();
        using (var latents = randn([6, 16, 3, 4, 4]))
        using (var contexts = randn([6, 16, 64]))
            SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["latents"] = latents, ["contexts"] = contexts },
                new Dictionary<string, string> { ["built_from"] = "six clips" });

        using (var pool = LatentPool.Load(path, "six clips", seed: 1, CPU, log.Add))
        {
            Assert.That(pool, Is.Not.Null);
            Assert.That(pool!.Count, Is.EqualTo(6));
            var (batchLatents, batchContexts) = pool.Batch(step: 3, batchSize: 4);
            Assert.That(batchLatents.shape, Is.EqualTo(new long[] { 4, 16, 3, 4, 4 }));
            Assert.That(batchContexts.shape, Is.EqualTo(new long[] { 4, 16, 64 }));
        }
        Assert.That(log, Is.Empty);

        Assert.That(LatentPool.Load(path, "eight clips", seed: 1, CPU, log.Add), Is.Null);
        Assert.That(log.Single(), Does.Contain("was built from other data or models"));
        Assert.That(LatentPool.Load(folder.PathTo("none.safetensors"), "six clips", seed: 1, CPU, log.Add), Is.Null, "no file: encode");
    }

    [Test]
    public void APoolOfTheWrongShapeIsNamedAndNotUsed()
    {
        using var folder = new TempFolder();
        string path = folder.PathTo("latent-pool.safetensors");
        using (var latents = randn([6, 16]))
        using (var contexts = randn([6, 16, 64]))
            SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["latents"] = latents, ["contexts"] = contexts },
                new Dictionary<string, string> { ["built_from"] = "six clips" });
        var log = new List<string>();

        Assert.That(LatentPool.Load(path, "six clips", seed: 1, CPU, log.Add), Is.Null);
        Assert.That(log.Single(), Does.StartWith($"latent pool: {path}: expected float32 latents [N, C, T, H, W] and contexts [N, L, D], found Float32 [6, 16]"));
    }
}
