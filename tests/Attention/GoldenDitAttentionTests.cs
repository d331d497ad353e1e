using Turbo.Tests.Support;
using Turbo.Runtime.Attention;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Tests.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Attention;

/// <summary>
/// The attention backends inside the golden tiny Wan DiT (upstream diffusers output on random weights): parameter
/// names, parity with the golden output, and accuracy on the real q/k/v its self-attention layers see.
/// </summary>
public class GoldenDitAttentionTests
{
    static WanModel LoadModel(AttentionConfig attention, out Dictionary<string, Tensor> weights)
    {
        var model = new WanModel(GoldenWan.Config() with { Attention = attention });
        using var file = SafetensorsFile.Open(Golden.Path(Golden.OriginalWeights));
        weights = file.Tensors.ToDictionary(t => t.Name, t => file.Read(t.Name));
        return model;
    }

    /// <summary>The golden weights plus zero proj_l tensors for every block: a fresh SLA student of the golden teacher.</summary>
    static WanModel LoadSlaModel(AttentionConfig attention)
    {
        var model = LoadModel(attention, out var weights);
        int headDim = model.Config.HeadDim;
        for (int block = 0; block < model.Config.NumLayers; block++)
        {
            weights[$"blocks.{block}.self_attn.attn_op.local_attn.proj_l.weight"] = zeros(headDim, headDim);
            weights[$"blocks.{block}.self_attn.attn_op.local_attn.proj_l.bias"] = zeros(headDim);
        }
        model.LoadWeights(weights, "golden + zero proj_l");
        foreach (var t in weights.Values) t.Dispose();
        return model;
    }

    static Tensor GoldenForward(WanModel model, out Tensor expected)
    {
        using var io = SafetensorsFile.Open(Golden.Path("wan_dit.io.safetensors"));
        using var x = io.Read("x");
        using var t = io.Read("timestep");
        using var context = io.Read("context");
        expected = io.Read("out");
        using var noGrad = no_grad();
        return model.Forward(x, t, context);
    }

    [Test]
    public void SlaRegistersProjLUnderTurboDiffusionNamesAndOnlyInSelfAttention()
    {
        using var sla = new WanModel(GoldenWan.Config() with { Attention = new AttentionConfig { Kind = AttentionKind.Sla, BlockQ = 16, BlockK = 16 } });
        using var dense = new WanModel(GoldenWan.Config());
        using var sage = new WanModel(GoldenWan.Config() with { Attention = new AttentionConfig { Kind = AttentionKind.Sage } });
        var denseNames = dense.named_parameters().Select(p => p.name).ToHashSet();
        var added = sla.named_parameters().Where(p => !denseNames.Contains(p.name))
            .ToDictionary(p => p.name, p => p.parameter);
        Assert.That(added.Keys, Is.EquivalentTo(new[]
        {
            "blocks.0.self_attn.attn_op.local_attn.proj_l.weight", "blocks.0.self_attn.attn_op.local_attn.proj_l.bias",
            "blocks.1.self_attn.attn_op.local_attn.proj_l.weight", "blocks.1.self_attn.attn_op.local_attn.proj_l.bias",
        }));
        foreach (var (name, parameter) in added)
        {
            Assert.That(parameter.dtype, Is.EqualTo(ScalarType.Float32), name);
            Assert.That(parameter.abs().max().item<float>(), Is.EqualTo(0f), $"{name} starts at zero");
        }
        Assert.That(added["blocks.0.self_attn.attn_op.local_attn.proj_l.weight"].shape, Is.EqualTo(new long[] { 32, 32 }));
        Assert.That(sla.named_parameters().Count(), Is.EqualTo(denseNames.Count + 4));
        Assert.That(sage.named_parameters().Select(p => p.name), Is.EquivalentTo(denseNames));
    }

    [Test]
    public void DenseCheckpointLoadsStrictlyIntoSageButNotIntoSla()
    {
        using var sage = LoadModel(new AttentionConfig { Kind = AttentionKind.Sage }, out var weights);
        Assert.DoesNotThrow(() => sage.LoadWeights(weights, "golden"));
        using var sla = new WanModel(GoldenWan.Config() with { Attention = new AttentionConfig { Kind = AttentionKind.Sla } });
        var error = Assert.Throws<Turbo.Runtime.TurboException>(() => sla.LoadWeights(weights, "golden"));
        Assert.That(error!.Message, Does.Contain("proj_l").And.Contain("missing"));
        foreach (var t in weights.Values) t.Dispose();
    }

    [TestCase(16, 16)]
    [TestCase(128, 64)]
    public void SlaAtTopKOneWithZeroProjLMatchesTheGoldenOutput(int blockQ, int blockK)
    {
        using var model = LoadSlaModel(new AttentionConfig { Kind = AttentionKind.Sla, TopK = 1.0, BlockQ = blockQ, BlockK = blockK });
        using var output = GoldenForward(model, out var expected);
        using (expected)
        {
            double error = RelativeError.Of(output, expected);
            TestContext.Out.WriteLine($"SLA top-k 1.0, blocks {blockQ}x{blockK}: max rel err vs golden out {error:E2}");
            Assert.That(error, Is.LessThanOrEqualTo(1e-4));
        }
    }

    [Test]
    public void SparseAndQuantizedModelsStayNearTheGoldenOutput()
    {
        // 18 tokens in blocks of 16: two key blocks, top-k 0.5 keeps one of them for each query block.
        // The sparse model drops half the keys of a random-weight model: only a loose sanity bound applies to it.
        var configs = new (string Name, AttentionConfig Config, double MinCosine)[]
        {
            ("Sage fp8", new AttentionConfig { Kind = AttentionKind.Sage, BlockQ = 64, BlockK = 64 }, 0.9999),
            ("Sage fp16", new AttentionConfig { Kind = AttentionKind.Sage, BlockQ = 64, BlockK = 64, PvPrecision = PvPrecision.Fp16 }, 0.9999),
            ("SLA top-k 0.5", new AttentionConfig { Kind = AttentionKind.Sla, TopK = 0.5, BlockQ = 16, BlockK = 16 }, 0.95),
        };
        foreach (var (name, config, minCosine) in configs)
        {
            using var model = config.IsSparseLinear ? LoadSlaModel(config) : LoadGolden(config);
            using var output = GoldenForward(model, out var expected);
            using (expected)
            {
                double error = RelativeError.Of(output, expected);
                double cosine = AttentionMetrics.Cosine(output, expected);
                TestContext.Out.WriteLine($"{name}: DiT output vs golden: max rel err {error:E2}, cosine {cosine:F6}");
                Assert.That(error, Is.GreaterThan(1e-6), $"{name} must differ from dense");
                Assert.That(cosine, Is.GreaterThanOrEqualTo(minCosine), name);
            }
        }
    }

    static WanModel LoadGolden(AttentionConfig attention)
    {
        var model = LoadModel(attention, out var weights);
        model.LoadWeights(weights, "golden");
        foreach (var t in weights.Values) t.Dispose();
        return model;
    }

    [Test]
    public void SageOnTheGoldenDitsSelfAttentionActivations()
    {
        // Capture the q/k/v each self-attention layer receives in the golden forward pass.
        using var model = GoldenWan.LoadModel();
        var captured = new List<(string Layer, Tensor Q, Tensor K, Tensor V)>();
        foreach (var (name, module) in model.named_modules())
            if (module is WanAttention attention && name.EndsWith("self_attn", StringComparison.Ordinal))
                attention.AttentionInputsObserver = (q, k, v) => captured.Add((name,
                    q.detach().clone().DetachFromDisposeScope(), k.detach().clone().DetachFromDisposeScope(),
                    v.detach().clone().DetachFromDisposeScope()));
        GoldenForward(model, out var expected).Dispose();
        expected.Dispose();
        Assert.That(captured.Select(c => c.Layer), Is.EqualTo(new[] { "blocks.0.self_attn", "blocks.1.self_attn" }));

        using var noGrad = no_grad();
        foreach (var (layer, q, k, v) in captured)
        {
            using var scope = NewDisposeScope();
            var reference = new DenseAttention().Attend(q, k, v);
            foreach (var pv in new[] { PvPrecision.Fp8E4M3, PvPrecision.Fp16 })
            {
                var sage = new SageAttention(64, 64, pv).Attend(q, k, v);
                double cosine = AttentionMetrics.Cosine(sage, reference), l1 = AttentionMetrics.RelativeL1(sage, reference);
                TestContext.Out.WriteLine($"{layer} {AttentionMetrics.ShapeText(q)} Sage {pv}: cosine {cosine:F6}, relative L1 {l1:P3}");
                Assert.That(cosine, Is.GreaterThanOrEqualTo(0.999), $"{layer} {pv}");
                Assert.That(l1, Is.LessThanOrEqualTo(0.03), $"{layer} {pv}");
            }
            q.Dispose();
            k.Dispose();
            v.Dispose();
        }
    }
}
