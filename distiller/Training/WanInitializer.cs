using TorchSharp;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Distiller.Training;

/// <summary>
/// Fresh weights for training a Wan DiT from scratch, following upstream's init_weights: Xavier-uniform Linear and
/// patch-embedding weights (the Conv3d as the Linear it is), zero biases, N(0, 0.02²) text and time embeddings,
/// modulation tables N(0, 1/D), a zero output head (so training starts from a zero velocity), norms at 1.
/// </summary>
public static class WanInitializer
{
    public static void Initialize(WanModel model, long seed)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.EndsWith(".bias") || name.StartsWith("head.head."))
                p.zero_();
            else if (name.EndsWith("modulation"))
                p.copy_(randn(p.shape, generator: generator) / Math.Sqrt(model.Config.Dim));
            else if (name.StartsWith("text_embedding.") || name.StartsWith("time_embedding."))
                p.copy_(randn(p.shape, generator: generator) * 0.02);
            else if (p.dim() == 1)
                p.fill_(1.0); // RMSNorm / LayerNorm weights
            else
            {
                long fanOut = p.shape[0], fanIn = p.numel() / fanOut;
                double bound = Math.Sqrt(6.0 / (fanIn + fanOut));
                p.copy_((rand(p.shape, generator: generator) * 2 - 1) * bound);
            }
        }
    }
}
