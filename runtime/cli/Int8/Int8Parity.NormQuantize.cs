using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Cli.Int8;

public static partial class Int8Parity
{
    const double NormEps = 1e-6;

    /// <summary>
    /// Int8Kernels.LayerNormQuantize — the norm kernel quantizing its rows for up to three layers — against the unfused
    /// CUDA chain (the norm kernel, then the quantizer per layer) bit for bit, as both sum the row in the same order;
    /// against the CPU reference chain within one code (the CPU's LayerNorm sums in another order, which can move a
    /// normalized value by one step of the model dtype); and NormedInput's projections against the layers' own calls,
    /// in bf16 at the widths where the norm quantizes (1,536) and where the layers take its tensor (5,120), with each
    /// layer smoothed its own way, with layers sharing a smoothing vector, and with none smoothed (readers of one
    /// smoothing share one quantized input). One of the layers is unsmoothed. Then the same after a residual update
    /// (Int8Kernels.ResidualLayerNormQuantize, NormedInput.AfterResidual) against the update followed by the norm.
    /// </summary>
    static List<Agreement> CheckLayerNormQuantize(long batch, long tokens, long dim, bool affine, ScalarType model, int layers, Device device)
    {
        using var scope = NewDisposeScope();
        var results = new List<Agreement>();
        string shape = $"B {batch} L {tokens} D {dim}", detail = $"{model}, {layers} layer(s), {(affine ? "affine" : "modulated")}";
        var x = randn(batch, tokens, dim, device: device) * (rand(dim, device: device) * 4 + 0.1) + 0.5; // the float32 residual stream
        var weight = affine ? randn(dim, device: device) * 0.1 + 1 : null;
        var bias = affine ? randn(dim, device: device) * 0.1 : null;
        var shift = affine ? null : randn(batch, dim, device: device);
        var scale = affine ? null : randn(batch, dim, device: device) * 0.5;
        var smooths = Enumerable.Range(0, layers).Select(i => i == 1 ? null : RandomSmoothing(dim, device)).ToArray();

        Guarded(results, "layernorm quantization", shape, detail, () =>
        {
            var fused = Int8Kernels.LayerNormQuantize(x, weight, bias, shift, scale, NormEps, model, smooths);
            var normed = FusedOps.LayerNormModulateNative(x, weight, bias, shift, scale, NormEps, model).reshape(-1, dim);
            var normedOnCpu = FusedOps.LayerNormModulateReference(x.cpu(), weight?.cpu(), bias?.cpu(), shift?.cpu(), scale?.cpu(),
                NormEps, model).reshape(-1, dim);
            var agreements = new List<Agreement>();
            for (int i = 0; i < layers; i++)
            {
                var (values, scales) = Int8Kernels.QuantizeRows(normed, smooths[i]);
                agreements.Add(Exactly("norm quantization: codes vs norm → quantizer", shape, detail, values, fused[i].Values));
                agreements.Add(Exactly("norm quantization: scales vs norm → quantizer", shape, detail, scales, fused[i].Scale));
                using var format = QuantizedWeight.Create(QuantFormat.Int8PerChannel, zeros(1, dim, ScalarType.Int8), ones(1),
                    smooths[i]?.cpu(), "parity weight");
                using var reference = QuantizedLinear.QuantizeInput(normedOnCpu, format);
                agreements.Add(WithinOneCode("norm quantization: codes vs CPU reference", shape, detail, reference.Values, fused[i].Values));
            }
            return agreements;
        });
        // The block's residual update first (gated before the affine norm, ungated before the modulated one, as in Wan):
        // its x' equal to the update kernel's, and the codes equal to the norm quantizer's of that x'.
        var update = (randn(batch, tokens, dim, device: device) * 2).to(model);
        var gate = affine ? randn(batch, dim, device: device) : null;
        Guarded(results, "residual layernorm quantization", shape, detail, () =>
        {
            var (residual, fused) = Int8Kernels.ResidualLayerNormQuantize(x, update, gate, weight, bias, shift, scale, NormEps, model, smooths);
            var expectedResidual = FusedOps.GateResidualNative(x, update, gate);
            var unfused = Int8Kernels.LayerNormQuantize(expectedResidual, weight, bias, shift, scale, NormEps, model, smooths);
            var agreements = new List<Agreement> { Exactly("residual + norm quantization: x' vs the update kernel", shape, detail, expectedResidual, residual) };
            for (int i = 0; i < layers; i++)
            {
                agreements.Add(Exactly("residual + norm quantization: codes vs update → norm quantization", shape, detail, unfused[i].Values, fused[i].Values));
                agreements.Add(Exactly("residual + norm quantization: scales vs update → norm quantization", shape, detail, unfused[i].Scale, fused[i].Scale));
            }
            return agreements;
        });
        if (model != ScalarType.BFloat16) return results; // the model runs bf16: its own paths only there
        Guarded(results, "NormedInput.AfterResidual", shape, detail,
            () => CheckNormedAfterResidual(x, update, gate, weight, bias, shift, scale, layers, shape, detail));
        foreach (var smoothing in new[] { "own", "shared", "none" })
            Guarded(results, "NormedInput", shape, $"{detail}, smoothing {smoothing}",
                () => CheckNormedProjections(x, weight, bias, shift, scale, layers, smoothing, shape, $"{detail}, smoothing {smoothing}"));
        return results;
    }

    /// <summary>
    /// What the model does after a residual update: NormedInput.AfterResidual's x' and projections (bf16 cuBLASLt INT8
    /// layers, each smoothed its own way) against the update kernel, then NormedInput.Of of its output.
    /// </summary>
    static IEnumerable<Agreement> CheckNormedAfterResidual(Tensor x, Tensor update, Tensor? gate, Tensor? weight, Tensor? bias,
        Tensor? shift, Tensor? scale, int layers, string shape, string detail)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long dim = x.shape[2];
        var readers = Enumerable.Range(0, layers).Select(i => Int8Layer(dim, 256, i == 1 ? null : RandomSmoothing(dim, x.device),
            Int8Gemm.CublasLt, x.device)).ToArray();
        var (residual, input) = NormedInput.AfterResidual(x, update, gate, weight, bias, shift, scale, NormEps, ScalarType.BFloat16, readers);
        var expectedResidual = FusedOps.GateResidual(x, update, gate);
        var expected = NormedInput.Of(expectedResidual, weight, bias, shift, scale, NormEps, ScalarType.BFloat16, readers);
        var agreements = new List<Agreement> { Exactly("NormedInput.AfterResidual: x' vs the update", shape, detail, expectedResidual, residual) };
        agreements.AddRange(readers.Select(layer => Exactly("NormedInput.AfterResidual projection vs update → NormedInput.Of", shape, detail,
            expected.Project(layer), input.Project(layer))));
        foreach (var layer in readers) layer.Dispose();
        return agreements;
    }

    /// <summary>
    /// What the model does: bf16 cuBLASLt INT8 layers projecting a NormedInput, against each layer called on the norm's
    /// tensor. Smoothing "own": layer 1 none, the others a vector each; "shared": layer 1 none, the others one vector
    /// between them; "none": no layer smoothed.
    /// </summary>
    static IEnumerable<Agreement> CheckNormedProjections(Tensor x, Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale, int layers,
        string smoothing, string shape, string detail)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long dim = x.shape[2];
        var shared = RandomSmoothing(dim, x.device);
        Tensor? SmoothingOf(int i) => smoothing == "none" || i == 1 ? null : smoothing == "shared" ? shared : RandomSmoothing(dim, x.device);
        var readers = Enumerable.Range(0, layers).Select(i => Int8Layer(dim, 256, SmoothingOf(i), Int8Gemm.CublasLt, x.device)).ToArray();
        var input = NormedInput.Of(x, weight, bias, shift, scale, NormEps, ScalarType.BFloat16, readers);
        if (input.IsQuantized != FusedOps.QuantizeFusionPays(dim))
            throw new InvalidOperationException($"the norm {(input.IsQuantized ? "quantized" : "did not quantize")} for the layers at width {dim}");
        var normed = FusedOps.LayerNormModulate(x, weight, bias, shift, scale, NormEps, ScalarType.BFloat16);
        var agreements = readers.Select(layer => Exactly("NormedInput projection vs the layer's call", shape, detail,
            layer.call(normed), input.Project(layer))).ToList();
        foreach (var layer in readers) layer.Dispose();
        return agreements;
    }
}
