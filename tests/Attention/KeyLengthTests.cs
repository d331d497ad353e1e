using Turbo.Tests.Support;
using Turbo.Runtime.Attention;
using static TorchSharp.torch;

namespace Turbo.Tests.Attention;

/// <summary>
/// Key-length masking means "as if k and v were cut to that length": each backend's masked result for every sample
/// equals its result on the truncated sample (odd lengths, partial blocks).
/// </summary>
public class KeyLengthTests
{
    static IEnumerable<TestCaseData> Backends()
    {
        yield return new TestCaseData("dense", (Func<IAttentionBackend>)(() => new DenseAttention()));
        yield return new TestCaseData("sage fp8", (Func<IAttentionBackend>)(() => new SageAttention(64, 64)));
        yield return new TestCaseData("sage fp16", (Func<IAttentionBackend>)(() => new SageAttention(128, 64, PvPrecision.Fp16)));
        yield return new TestCaseData("sla", (Func<IAttentionBackend>)(() => Sparse(AttentionKind.Sla, 32, 16)));
        yield return new TestCaseData("sage-sla", (Func<IAttentionBackend>)(() => Sparse(AttentionKind.SageSla, 64, 64)));
    }

    static SparseLinearAttention Sparse(AttentionKind kind, int blockQ, int blockK)
    {
        var sla = new SparseLinearAttention(64, new AttentionConfig { Kind = kind, TopK = 0.5, BlockQ = blockQ, BlockK = blockK });
        using var noGrad = no_grad();
        foreach (var (_, parameter) in sla.named_parameters()) parameter.normal_(0, 0.2); // let the linear branch show
        return sla;
    }

    [TestCaseSource(nameof(Backends))]
    public void MaskedKeysActAsIfCutOff(string name, Func<IAttentionBackend> create)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var backend = create();
        long[] lengths = [150, 37, 200];
        var (q, k, v) = AttentionMetrics.RandomQkv(3, 2, 200, 64, seed: 17, qScale: 2, vOffset: 1);
        var masked = backend.Attend(q, k, v, tensor(lengths));
        for (int b = 0; b < lengths.Length; b++)
        {
            var sample = TensorIndex.Slice(b, b + 1);
            var keys = TensorIndex.Slice(0, lengths[b]);
            var all = TensorIndex.Colon;
            var cut = backend.Attend(q[sample], k[sample, all, keys], v[sample, all, keys]);
            double error = AttentionMetrics.MaxRelative(masked[sample], cut);
            TestContext.Out.WriteLine($"{name}, {lengths[b]} of 200 keys: max rel err masked vs cut {error:E2}");
            Assert.That(error, Is.LessThanOrEqualTo(1e-5), $"{name} sample {b}");
        }
        (backend as IDisposable)?.Dispose();
    }
}
