using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Tests.Attention;

/// <summary>
/// The Sage backend that runs the CUDA kernels where it can: on the CPU (CI has no GPU) it must be the reference
/// exactly, and it must refuse bad inputs, and calls the kernels cannot take, with a TurboException before any native
/// or libtorch call. Its agreement with the reference on a GPU is `turbo check-attention`'s job.
/// </summary>
public class NativeSageAttentionTests
{
    [TestCase(128, 64, PvPrecision.Fp8E4M3)]
    [TestCase(64, 128, PvPrecision.Fp16)]
    public void OffTheGpuItIsTheReference(int blockQ, int blockK, PvPrecision pv)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(2, 2, 150, 64, seed: blockQ + (int)pv, qScale: 2, vOffset: 1);
        using var lengths = tensor(new long[] { 150, 97 });
        var backend = new NativeSageAttention(blockQ, blockK, pv);
        Assert.That(NativeSageAttention.RunsNative(q), Is.False, "CPU tensors never go to the kernels");

        var dense = backend.Attend(q, k, v, lengths);
        var slack = pv == PvPrecision.Fp8E4M3 ? 0 : SageAttention.MaxRowMaxSlack;
        var reference = new SageAttention(blockQ, blockK, pv) { RowMaxSlack = slack };
        Assert.That(AttentionMetrics.MaxRelative(dense, reference.Attend(q, k, v, lengths)), Is.EqualTo(0));

        var map = BlockSelection.Select(q, k, 0.5, blockQ, blockK, lengths);
        var sparse = backend.Attend(q, k, v, lengths, map);
        Assert.That(AttentionMetrics.MaxRelative(sparse, backend.Reference.Attend(q, k, v, lengths, map)), Is.EqualTo(0));
        Assert.That(AttentionMetrics.MaxRelative(sparse, dense), Is.GreaterThan(1e-3), "the block map must change the result");
    }

    /// <summary>
    /// The warpgroup kernel updates its softmax once per two key blocks over kept blocks and once per block dense (its
    /// dense form has three warpgroups and no registers for pairs); the warp kernel always once per block. With 16-bit
    /// P both let the row max lag by up to 8. A kernel is checked against the reference with its own order, so
    /// ReferenceFor must say which.
    /// </summary>
    [Test]
    public void EachKernelIsComparedWithTheReferenceOfItsUpdateSizeAndSlack()
    {
        var backend = new NativeSageAttention();
        (int, float) Order(SageAttention reference) => (reference.KeyBlocksPerUpdate, reference.RowMaxSlack);
        Assert.That(Order(backend.ReferenceFor(128, SageKernel.Wgmma, sparse: true)), Is.EqualTo((2, 8f)));
        Assert.That(Order(backend.ReferenceFor(128, SageKernel.Wgmma)), Is.EqualTo((1, 8f)));
        Assert.That(Order(backend.ReferenceFor(128, SageKernel.Mma, sparse: true)), Is.EqualTo((1, 8f)));
        Assert.That(Order(backend.ReferenceFor(128, SageKernel.Mma)), Is.EqualTo((1, 8f)));
        var e4m3 = new NativeSageAttention(pvPrecision: PvPrecision.Fp8E4M3);
        Assert.That(Order(e4m3.ReferenceFor(128, SageKernel.Wgmma, sparse: true)), Is.EqualTo((2, 0f)), "E4M3 needs P ≤ 1");
        Assert.That(Order(e4m3.ReferenceFor(128, SageKernel.Wgmma)), Is.EqualTo((1, 0f)));
        Assert.That(Order(e4m3.ReferenceFor(128, SageKernel.Mma)), Is.EqualTo((1, 0f)));
    }

    /// <summary>
    /// BF16 P·V hands the kernels the caller's v itself only where they can read it: bfloat16, head dim 64 or 128,
    /// channels contiguous, 16-byte rows (the models' token-major views are); anything else goes through the value pass.
    /// </summary>
    [Test]
    public void Bf16ValuesAreReadInPlaceOnlyWhereTheKernelsCanReadThem()
    {
        using var scope = NewDisposeScope();
        var tokenMajor = zeros([1, 40, 3, 64], ScalarType.BFloat16).transpose(1, 2);
        Assert.That(SageKernels.ReadsValuesInPlace(tokenMajor), Is.True, "[B, H, L, D] view of token-major memory");
        Assert.That(SageKernels.ReadsValuesInPlace(zeros([1, 3, 40, 128], ScalarType.BFloat16)), Is.True);
        Assert.That(SageKernels.ReadsValuesInPlace(tokenMajor.to(ScalarType.Float16)), Is.False, "float16 is converted");
        Assert.That(SageKernels.ReadsValuesInPlace(zeros([1, 3, 40, 40], ScalarType.BFloat16)), Is.False, "head dim 40 is padded first");
        var oddRows = zeros([1, 40, 3, 65], ScalarType.BFloat16).narrow(3, 0, 64).transpose(1, 2);
        Assert.That(SageKernels.ReadsValuesInPlace(oddRows), Is.False, "rows 130 bytes apart");
        var shifted = zeros([3 * 40 * 64 + 1], ScalarType.BFloat16).narrow(0, 1, 3 * 40 * 64).view(1, 3, 40, 64);
        Assert.That(SageKernels.ReadsValuesInPlace(shifted), Is.False, "first element 2 bytes past an aligned address");
    }

    [Test]
    public void TheKernelsAreRefusedOffTheGpuAfterTheInputChecks()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = AttentionMetrics.RandomQkv(1, 2, 40, 64, seed: 3);
        var backend = new NativeSageAttention();
        var error = Assert.Throws<TurboException>(() => backend.AttendNative(q, k, v));
        Assert.That(error!.Message, Does.Contain("Sage kernels").And.Contain("on CUDA"));
        Assert.That(Assert.Throws<TurboException>(() => backend.AttendNative(q.to(ScalarType.Float64), k.to(ScalarType.Float64),
            v.to(ScalarType.Float64)))!.Message, Does.Contain("found Float64"));
        // A bad input is named as such, not reported as a device problem.
        Assert.That(Assert.Throws<TurboException>(() => backend.AttendNative(q, k.narrow(3, 0, 32), v))!.Message,
            Does.StartWith("attention k"));
    }

    static IEnumerable<TestCaseData> BadBlockMaps()
    {
        // q [1, 2, 100, 64], k [1, 2, 150, 64], blocks 64×64: the map must be Bool [1, 2, 2, 3].
        yield return new TestCaseData(new long[] { 1, 2, 2, 3 }, ScalarType.Int64, "found Int64 [1, 2, 2, 3]");
        yield return new TestCaseData(new long[] { 1, 2, 3, 3 }, ScalarType.Bool, "found Bool [1, 2, 3, 3]");
        yield return new TestCaseData(new long[] { 1, 2, 2 }, ScalarType.Bool, "expected a Bool block map [1, 2, 2, 3]");
    }

    [TestCaseSource(nameof(BadBlockMaps))]
    public void BadBlockMapsAreRejected(long[] shape, ScalarType dtype, string expected)
    {
        using var scope = NewDisposeScope();
        var (q, _, _) = AttentionMetrics.RandomQkv(1, 2, 100, 64, seed: 4);
        var (_, k, v) = AttentionMetrics.RandomQkv(1, 2, 150, 64, seed: 5);
        var map = ones(shape, dtype: dtype);
        var backend = new NativeSageAttention(64, 64);
        foreach (var attend in new Func<Tensor>[] { () => backend.Attend(q, k, v, null, map), () => backend.AttendNative(q, k, v, null, KeyBlocks.FromMap(map)) })
            Assert.That(Assert.Throws<TurboException>(() => attend())!.Message, Does.StartWith("Sage attention: expected a Bool block map").And.Contain(expected));
    }

    [TestCase(0.0)]
    [TestCase(1.5)]
    [TestCase(double.NaN)]
    public void ASelectionRatioOutsideZeroToOneIsRejected(double topK)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = AttentionMetrics.RandomQkv(1, 2, 100, 64, seed: 7);
        var error = Assert.Throws<TurboException>(() => new NativeSageAttention(64, 64).AttendNative(q, k, v, null, KeyBlocks.Selected(topK)));
        Assert.That(error!.Message, Does.StartWith("Sage kernels: selection needs top-k in (0, 1]").And.Contain($"found top-k {topK}"));
    }

    [Test]
    public void TrainingThroughItIsRefused()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = AttentionMetrics.RandomQkv(1, 1, 64, 64, seed: 6);
        q.requires_grad_(true);
        Assert.That(Assert.Throws<TurboException>(() => new NativeSageAttention().Attend(q, k, v))!.Message, Does.Contain("forward-only"));
    }

    [Test]
    public void SageSlaSparseBranchIsThisBackend()
    {
        // With every block kept and proj_l zero, SageSLA is exactly the backend's dense result (the reference here).
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(1, 2, 130, 64, seed: 7, qScale: 2, vOffset: 1);
        using var sla = new SparseLinearAttention(64, new AttentionConfig { Kind = AttentionKind.SageSla, TopK = 1, BlockQ = 64, BlockK = 128, PvPrecision = PvPrecision.Fp16 });
        var expected = new NativeSageAttention(64, 128, PvPrecision.Fp16).Attend(q, k, v);
        Assert.That(AttentionMetrics.MaxRelative(sla.Attend(q, k, v), expected), Is.EqualTo(0));
    }
}
