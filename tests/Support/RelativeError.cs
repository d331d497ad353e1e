using static TorchSharp.torch;

namespace Turbo.Tests.Support;

/// <summary>How far a tensor is from a reference, the measure every parity test uses.</summary>
static class RelativeError
{
    /// <summary>max |ours − expected| / max |expected|, in float64; the shapes must agree.</summary>
    public static double Of(Tensor ours, Tensor expected)
    {
        Assert.That(ours.shape, Is.EqualTo(expected.shape), "shape");
        using var a = ours.to(ScalarType.Float64);
        using var b = expected.to(ScalarType.Float64);
        using var diff = (a - b).abs().max();
        using var scale = b.abs().max();
        return diff.item<double>() / scale.item<double>();
    }
}
