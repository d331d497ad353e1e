using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

/// <summary>
/// RMSNorm over the last dimension, computed in float32 whatever the input dtype (Wan2.1's WanRMSNorm; T5's layer norm is the same); the
/// weight stays float32 (float64 in a float64 model, for gradient checks: the norm computes in its weight's dtype).
/// For Wan's q/k norm the last dimension is the full model width, i.e. across all heads.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly double eps;

    public RmsNorm(int dim, double eps, Device device, ScalarType dtype = ScalarType.Float32) : base(nameof(RmsNorm))
    {
        this.eps = eps;
        weight = nn.Parameter(ones(dim, dtype: dtype, device: device));
        register_parameter(nameof(weight), weight);
    }

    public Tensor Weight => weight;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(weight.dtype);
        var normed = x32 * (x32.square().mean([-1L], keepdim: true) + eps).rsqrt();
        return (normed * weight).MoveToOuterDisposeScope();
    }
}
