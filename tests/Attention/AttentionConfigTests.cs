using Turbo.Tests.Support;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Attention;

/// <summary>Configurations and inputs a backend cannot handle give a TurboException naming the problem, never an abort.</summary>
public class AttentionConfigTests
{
    static IEnumerable<TestCaseData> BadConfigs()
    {
        var sla = new AttentionConfig { Kind = AttentionKind.Sla, BlockQ = 64, BlockK = 64 };
        var sage = new AttentionConfig { Kind = AttentionKind.Sage };
        yield return new TestCaseData(sla with { TopK = 0 }, 128, "top-k ratio 0");
        yield return new TestCaseData(sla with { TopK = -0.1 }, 128, "top-k ratio");
        yield return new TestCaseData(sla with { TopK = 1.5 }, 128, "(0, 1]");
        yield return new TestCaseData(sla with { TopK = double.NaN }, 128, "top-k ratio NaN");
        yield return new TestCaseData(sla with { Kind = AttentionKind.SageSla, TopK = 2 }, 128, "SageSla top-k");
        yield return new TestCaseData(sla with { BlockQ = 48 }, 128, "BlockQ 48");
        yield return new TestCaseData(sla with { BlockK = 0 }, 128, "BlockK 0");
        yield return new TestCaseData(sage with { BlockQ = 32 }, 128, "Sage BlockQ 32");
        yield return new TestCaseData(sage with { BlockK = 256 }, 128, "BlockK 256");
        yield return new TestCaseData(sage, 256, "head dim up to 128");
        yield return new TestCaseData(sla with { Kind = AttentionKind.SageSla }, 160, "head dim up to 128");
        yield return new TestCaseData(sage with { PvPrecision = (PvPrecision)5 }, 128, "P·V precision 5");
        yield return new TestCaseData(new AttentionConfig { Kind = (AttentionKind)9 }, 128, "unknown kind 9");
        yield return new TestCaseData(AttentionConfig.Dense, 0, "head dim 0");
    }

    [TestCaseSource(nameof(BadConfigs))]
    public void BadConfigIsRejected(AttentionConfig config, int headDim, string expectedText)
    {
        var error = Assert.Throws<TurboException>(() => config.CreateBackend(headDim));
        Assert.That(error!.Message, Does.StartWith("attention config").And.Contain(expectedText));
    }

    [Test]
    public void GoodConfigsCreateTheirBackends()
    {
        Assert.That(AttentionConfig.Dense.CreateBackend(128), Is.TypeOf<DenseAttention>());
        Assert.That(new AttentionConfig { Kind = AttentionKind.Sage, BlockQ = 64, BlockK = 128 }.CreateBackend(128), Is.TypeOf<NativeSageAttention>());
        Assert.That(new AttentionConfig { Kind = AttentionKind.Sage }.CreateBackend(32), Is.TypeOf<NativeSageAttention>(), "smaller head dims are padded");
        using var sla = (SparseLinearAttention)new AttentionConfig { Kind = AttentionKind.Sla, TopK = 1.0, BlockQ = 16, BlockK = 256 }.CreateBackend(40);
        Assert.That((sla.HeadDim, sla.TopK, sla.BlockQ, sla.BlockK), Is.EqualTo((40, 1.0, 16, 256)));
    }

    [Test]
    public void WanModelRejectsABadAttentionConfigWhenBuilt()
    {
        var config = new WanConfig { Dim = 64, NumHeads = 2, FfnDim = 32, NumLayers = 1, TextDim = 8, TextLen = 4 };
        var error = Assert.Throws<TurboException>(() => new WanModel(config with { Attention = new AttentionConfig { Kind = AttentionKind.Sla, TopK = 3 } }));
        Assert.That(error!.Message, Does.Contain("top-k ratio 3"));
    }

    static IEnumerable<TestCaseData> BadInputs()
    {
        long[] good = [1, 2, 20, 64];
        yield return new TestCaseData(new long[] { 2, 20, 64 }, good, good, null, "attention q: expected 4 dims");
        yield return new TestCaseData(good, new long[] { 1, 2, 20, 32 }, good, null, "attention k");
        yield return new TestCaseData(good, new long[] { 1, 3, 20, 64 }, good, null, "attention k");
        yield return new TestCaseData(good, good, new long[] { 1, 2, 21, 64 }, null, "attention v");
        yield return new TestCaseData(good, new long[] { 1, 2, 0, 64 }, new long[] { 1, 2, 0, 64 }, null, "empty");
        yield return new TestCaseData(good, good, good, new long[] { 0 }, "each must be in 1..20, found 0");
        yield return new TestCaseData(good, good, good, new long[] { 21 }, "found 21");
        yield return new TestCaseData(good, good, good, new long[] { 5, 5 }, "expected shape [1]");
    }

    [TestCaseSource(nameof(BadInputs))]
    public void BadInputsAreRejectedByEveryBackend(long[] qShape, long[] kShape, long[] vShape, long[]? lengths, string expectedText)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = (randn(qShape), randn(kShape), randn(vShape));
        var keyLengths = lengths is null ? null : tensor(lengths);
        using var sla = new SparseLinearAttention(64, new AttentionConfig { Kind = AttentionKind.Sla, BlockQ = 16, BlockK = 16 });
        foreach (IAttentionBackend backend in new IAttentionBackend[] { new DenseAttention(), new SageAttention(), new NativeSageAttention(), sla })
        {
            var error = Assert.Throws<TurboException>(() => backend.Attend(q, k, v, keyLengths), backend.GetType().Name);
            Assert.That(error!.Message, Does.Contain(expectedText), backend.GetType().Name);
        }
    }

    [Test]
    public void MixedDtypesAndFloatKeyLengthsAreRejected()
    {
        using var scope = NewDisposeScope();
        var q = randn(1, 2, 20, 64);
        var k = randn(1, 2, 20, 64);
        Assert.That(Assert.Throws<TurboException>(() => new DenseAttention().Attend(q, k.to(ScalarType.BFloat16), k))!.Message,
            Does.Contain("attention k: expected Float32"));
        Assert.That(Assert.Throws<TurboException>(() => new DenseAttention().Attend(q.to(ScalarType.Int32), k, k))!.Message,
            Does.Contain("floating-point"));
        Assert.That(Assert.Throws<TurboException>(() => new SageAttention().Attend(q, k, k, tensor(new[] { 3.0f })))!.Message,
            Does.Contain("integer dtype"));
    }
}
