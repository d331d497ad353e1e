using Turbo.Tests.Support;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using static TorchSharp.torch;

namespace Turbo.Tests.Attention;

/// <summary>SLA's two branches, each against an independent computation, and its gradients.</summary>
public class SparseLinearAttentionTests
{
    static SparseLinearAttention Sla(int headDim, double topK, int blockQ, int blockK, AttentionKind kind = AttentionKind.Sla) =>
        new(headDim, new AttentionConfig { Kind = kind, TopK = topK, BlockQ = blockQ, BlockK = blockK });

    static void SetProjL(SparseLinearAttention sla, Tensor weight, Tensor bias)
    {
        using var noGrad = no_grad();
        var parameters = sla.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        parameters["proj_l.weight"].copy_(weight);
        parameters["proj_l.bias"].copy_(bias);
    }

    [TestCase(64, 64, 200)]
    [TestCase(128, 64, 200)]
    [TestCase(16, 32, 77)]
    public void TopKOneWithZeroProjLEqualsDenseAttention(int blockQ, int blockK, int length)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(2, 2, length, 64, seed: length);
        using var sla = Sla(64, 1.0, blockQ, blockK);
        var dense = new DenseAttention().Attend(q, k, v);
        var sparse = sla.Attend(q, k, v);
        double error = AttentionMetrics.MaxRelative(sparse, dense);
        TestContext.Out.WriteLine($"SLA top-k 1.0 blocks {blockQ}x{blockK}, L={length}: max rel err vs dense {error:E2}");
        Assert.That(sparse.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(error, Is.LessThanOrEqualTo(1e-5));
    }

    [Test]
    public void Bf16InputComputesInFloat32AndReturnsBf16()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(1, 2, 100, 64, seed: 9, dtype: ScalarType.BFloat16);
        using var sla = Sla(64, 0.5, 32, 32);
        SetProjL(sla, eye(64) * 0.5, zeros(64));
        var low = sla.Attend(q, k, v);
        var full = sla.Attend(q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32));
        Assert.That(low.dtype, Is.EqualTo(ScalarType.BFloat16));
        Assert.That(AttentionMetrics.MaxRelative(low, full), Is.LessThanOrEqualTo(1e-2), "only the final rounding to bf16 differs");
    }

    [Test]
    public void SparseBranchIsExactSoftmaxOverTheKeptBlocks()
    {
        // Expected: for each query block, plain softmax attention over the keys of its kept blocks only, gathered
        // one block at a time (no masks), in float64.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        const int block = 16;
        var (q, k, v) = AttentionMetrics.RandomQkv(1, 2, 70, 32, seed: 3, dtype: ScalarType.Float64);
        using var sla = Sla(32, 0.4, block, block);
        var ours = sla.Attend(q, k, v);
        var map = BlockSelection.Select(q, k, 0.4, block, block);
        Assert.That(map.sum([3L]).unique().Item1.data<long>().ToArray(), Is.EqualTo(new long[] { 2 }), "⌊0.4·5⌋ = 2 of 5 blocks");

        for (int h = 0; h < 2; h++)
            for (int qb = 0; qb < map.shape[2]; qb++)
            {
                long start = qb * block, rows = Math.Min(block, 70 - start);
                var keyIndices = Enumerable.Range(0, (int)map.shape[3]).Where(kb => map[0, h, qb, kb].item<bool>())
                    .SelectMany(kb => Enumerable.Range(kb * block, (int)Math.Min(block, 70 - kb * block))).Select(i => (long)i).ToArray();
                var index = tensor(keyIndices);
                var qs = q[0, h].narrow(0, start, rows);
                var ks = k[0, h].index_select(0, index);
                var vs = v[0, h].index_select(0, index);
                var expected = (qs.matmul(ks.T) / Math.Sqrt(32)).softmax(-1).matmul(vs);
                Assert.That(AttentionMetrics.MaxRelative(ours[0, h].narrow(0, start, rows), expected), Is.LessThanOrEqualTo(1e-12));
            }
    }

    [TestCase(77, 0)]
    [TestCase(333, 1)]
    [TestCase(333, 5)]
    public void SparseBranchInChunksOfQueryBlocksEqualsTheWholeComputation(int length, long chunkScores)
    {
        // chunkScores 0 and 1 force one query block per chunk, 5 is also below one block: the chunking must never
        // change a row's result, with or without key lengths (odd lengths leave partial last blocks).
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(2, 3, length, 64, seed: length + (int)chunkScores);
        var lengths = tensor(new long[] { length, length / 2 + 3 });
        foreach (var keyLengths in new[] { null, lengths })
        {
            var map = BlockSelection.Select(q, k, 0.3, 32, 16, keyLengths);
            var whole = SparseLinearAttention.BlockSparseSoftmax(q, k, v, map, 32, 16, keyLengths);
            var chunked = SparseLinearAttention.BlockSparseSoftmax(q, k, v, map, 32, 16, keyLengths, chunkScores);
            Assert.That(AttentionMetrics.MaxRelative(chunked, whole), Is.LessThanOrEqualTo(1e-6), $"L={length}, lengths {keyLengths is not null}");
        }
    }

    [Test]
    public void LinearBranchIsNormalisedKernelAttentionOverAllKeys()
    {
        // With proj_l = identity, SLA − (SLA with proj_l = 0) is the linear branch, which must equal
        // Σⱼ (φ(qᵢ)·φ(kⱼ)) vⱼ / (1e−5 + Σⱼ φ(qᵢ)·φ(kⱼ)), φ = softmax over head_dim, written out as a full matrix.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(2, 2, 45, 16, seed: 8, dtype: ScalarType.Float64);
        using var withProj = Sla(16, 0.5, 16, 16);
        using var withoutProj = Sla(16, 0.5, 16, 16);
        SetProjL(withProj, eye(16), zeros(16));
        var linear = withProj.Attend(q, k, v) - withoutProj.Attend(q, k, v);

        var kernel = q.softmax(-1).matmul(k.softmax(-1).transpose(-1, -2));          // [B, H, Lq, Lk]
        var expected = kernel.matmul(v) / (kernel.sum([-1L], keepdim: true) + 1e-5);
        Assert.That(AttentionMetrics.MaxRelative(linear, expected), Is.LessThanOrEqualTo(1e-6));
    }

    [Test]
    public void GradientsReachQkvAndProjLAndMatchFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        const int dim = 16;
        var (q0, k0, v0) = AttentionMetrics.RandomQkv(1, 2, 40, dim, seed: 21, dtype: ScalarType.Float64);
        using var sla = Sla(dim, 0.5, 16, 16);
        var generator = manual_seed(4);
        var projWeight = randn([dim, dim], generator: generator) * 0.3;
        projWeight[2, 5] = tensor(0.0); // perturbed below by ±h, exactly representable in the float32 parameter
        SetProjL(sla, projWeight, randn([dim], generator: generator) * 0.1);
        var outputWeights = randn([1, 2, 40, dim], dtype: ScalarType.Float64, generator: generator);
        double Loss(Tensor q, Tensor k, Tensor v) => (sla.Attend(q, k, v) * outputWeights).sum().item<double>();

        var q = q0.clone().requires_grad_(true);
        var k = k0.clone().requires_grad_(true);
        var v = v0.clone().requires_grad_(true);
        (sla.Attend(q, k, v) * outputWeights).sum().backward();
        var weightGrad = sla.named_parameters().Single(p => p.name == "proj_l.weight").parameter.grad!;
        var biasGrad = sla.named_parameters().Single(p => p.name == "proj_l.bias").parameter.grad!;
        foreach (var (name, grad) in new[] { ("q", q.grad!), ("k", k.grad!), ("v", v.grad!), ("proj_l.weight", weightGrad), ("proj_l.bias", biasGrad) })
            Assert.That(grad.abs().max().to(ScalarType.Float64).item<double>(), Is.GreaterThan(0), $"{name} gets a gradient");

        using var noGrad = no_grad();
        const double h = 1e-6;
        foreach (var (name, index) in new[] { ("q", new long[] { 0, 1, 5, 3 }), ("k", new long[] { 0, 0, 33, 2 }), ("v", new long[] { 0, 1, 17, 7 }) })
        {
            Tensor Perturbed(Tensor t, string which, double delta)
            {
                var copy = t.clone();
                if (which == name) copy[index.Select(i => TensorIndex.Single(i)).ToArray()] += delta;
                return copy;
            }
            double numeric = (Loss(Perturbed(q0, "q", h), Perturbed(k0, "k", h), Perturbed(v0, "v", h))
                            - Loss(Perturbed(q0, "q", -h), Perturbed(k0, "k", -h), Perturbed(v0, "v", -h))) / (2 * h);
            var analyticTensor = name switch { "q" => q.grad!, "k" => k.grad!, _ => v.grad! };
            double analytic = analyticTensor[index.Select(i => TensorIndex.Single(i)).ToArray()].item<double>();
            TestContext.Out.WriteLine($"d loss / d {name}[{string.Join(",", index)}]: autograd {analytic:E6}, finite difference {numeric:E6}");
            Assert.That(numeric, Is.EqualTo(analytic).Within(1e-6 * Math.Max(1, Math.Abs(analytic))), name);
        }

        var weight = sla.named_parameters().Single(p => p.name == "proj_l.weight").parameter;
        const float step = 1f / 1024; // the loss is linear in proj_l, so a large exact step is fine
        weight[2, 5] = tensor(step);
        double plus = Loss(q0, k0, v0);
        weight[2, 5] = tensor(-step);
        double minus = Loss(q0, k0, v0);
        double numericWeight = (plus - minus) / (2 * step), analyticWeight = weightGrad[2, 5].item<float>();
        TestContext.Out.WriteLine($"d loss / d proj_l.weight[2,5]: autograd {analyticWeight:E6}, finite difference {numericWeight:E6}");
        Assert.That(numericWeight, Is.EqualTo(analyticWeight).Within(1e-5 * Math.Max(1, Math.Abs(analyticWeight))));
    }

    [Test]
    public void SageSlaMatchesSageAtTopKOneAndSlaOtherwise()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(1, 2, 300, 64, seed: 12, qScale: 2, vOffset: 1);
        using var full = Sla(64, 1.0, 128, 64, AttentionKind.SageSla);
        var sage = new NativeSageAttention(128, 64).Reference.Attend(q, k, v);
        Assert.That(AttentionMetrics.MaxRelative(full.Attend(q, k, v), sage), Is.EqualTo(0));

        using var sageSla = Sla(64, 0.4, 128, 64, AttentionKind.SageSla);
        using var sla = Sla(64, 0.4, 128, 64);
        var reference = sla.Attend(q, k, v);
        var quantized = sageSla.Attend(q, k, v);
        double cosine = AttentionMetrics.Cosine(quantized, reference), l1 = AttentionMetrics.RelativeL1(quantized, reference);
        TestContext.Out.WriteLine($"SageSLA vs SLA at top-k 0.4: cosine {cosine:F6}, relative L1 {l1:P3}");
        Assert.That(cosine, Is.GreaterThanOrEqualTo(0.999));
        Assert.That(l1, Is.InRange(1e-6, 0.03));
    }

    [TestCase(ScalarType.Float32, 1e-5)]
    [TestCase(ScalarType.BFloat16, 2e-2)]
    public void SageSlaLinearBranchWithProjLFoldedInEqualsTheFormula(ScalarType dtype, double tolerance)
    {
        // At top-k 1.0 SageSLA's sparse part is Sage attention; what SageSLA adds to it must be the float32 formula
        // (SLA's LinearAttention then proj_l), with a non-trivial proj_l and with key lengths.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(2, 2, 150, 64, seed: 21, qScale: 2, vOffset: 1, dtype: dtype);
        using var sageSla = Sla(64, 1.0, 64, 64, AttentionKind.SageSla);
        using var reference = Sla(64, 1.0, 64, 64);
        var generator = manual_seed(5);
        var (weight, bias) = (randn([64, 64], generator: generator) * 0.2, randn([64], generator: generator) * 0.1);
        SetProjL(sageSla, weight, bias);
        foreach (var keyLengths in new[] { null, tensor(new long[] { 150, 77 }) })
        {
            var sage = new NativeSageAttention(64, 64).Reference.Attend(q, k, v, keyLengths).to(ScalarType.Float32);
            var added = sageSla.Attend(q, k, v, keyLengths).to(ScalarType.Float32) - sage;
            SetProjL(reference, zeros(64, 64), zeros(64));
            var sparseOnly = reference.Attend(q, k, v, keyLengths).to(ScalarType.Float32);
            SetProjL(reference, weight, bias);
            var expected = reference.Attend(q, k, v, keyLengths).to(ScalarType.Float32) - sparseOnly;
            double error = AttentionMetrics.MaxRelative(added, expected);
            TestContext.Out.WriteLine($"{dtype}, key lengths {keyLengths is not null}: linear branch max rel err {error:E2}");
            Assert.That(error, Is.LessThanOrEqualTo(tolerance));
        }
    }

    [Test]
    public void SageSlaIsForwardOnlyAndSlaChecksItsHeadDim()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = AttentionMetrics.RandomQkv(1, 1, 64, 64, seed: 2);
        q.requires_grad_(true);
        using var sageSla = Sla(64, 0.5, 64, 64, AttentionKind.SageSla);
        Assert.That(Assert.Throws<TurboException>(() => sageSla.Attend(q, k, v))!.Message, Does.Contain("forward-only"));
        using var sla = Sla(32, 0.5, 64, 64);
        Assert.That(Assert.Throws<TurboException>(() => sla.Attend(q, k, v))!.Message, Does.Contain("head dim 32"));
    }
}
