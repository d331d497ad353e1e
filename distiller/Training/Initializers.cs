using TorchSharp;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Distiller.Training;

/// <summary>
/// Fresh weights for training from scratch (the models themselves start at zero: they normally receive a checkpoint).
/// </summary>
public static class Initializers
{
    /// <summary>
    /// Wan DiT, as upstream's init_weights: Xavier-uniform Linear and patch-embedding weights (the Conv3d as the Linear
    /// it is), zero biases, N(0, 0.02²) text and time embeddings, modulation tables N(0, 1/D), a zero output head (so
    /// training starts from a zero velocity), norms at 1.
    /// </summary>
    public static void Wan(WanModel model, long seed) => Apply(model, seed, (name, p, g) =>
    {
        if (name.StartsWith("head.head.")) p.zero_();
        else if (name.EndsWith("modulation")) p.copy_(randn(p.shape, generator: g) / Math.Sqrt(model.Config.Dim));
        else if (name.StartsWith("text_embedding.") || name.StartsWith("time_embedding.")) p.copy_(randn(p.shape, generator: g) * 0.02);
        else return false;
        return true;
    });

    /// <summary>
    /// UMT5 encoder, as transformers' T5 init in spirit: token embeddings N(0, 1), relative-position biases N(0, 0.1²),
    /// Xavier-uniform projections, layer norms at 1. A text encoder left at this init is a fixed random feature map
    /// of the prompt, which a DiT trained on it learns to read.
    /// </summary>
    public static void Umt5(Umt5Encoder encoder, long seed) => Apply(encoder, seed, (name, p, g) =>
    {
        if (name.Contains("embed_tokens") || name.StartsWith("shared.")) p.copy_(randn(p.shape, generator: g));
        else if (name.Contains("relative_attention_bias")) p.copy_(randn(p.shape, generator: g) * 0.1);
        else return false;
        return true;
    });

    /// <summary>Wan VAE: Xavier-uniform convolution weights (fan over the kernel), zero biases, norm gains at 1.</summary>
    public static void Vae(WanVae vae, long seed) => Apply(vae, seed, (_, _, _) => false);

    /// <summary>Defaults for every parameter the model-specific rule leaves alone (it returns false for those).</summary>
    static void Apply(nn.Module model, long seed, Func<string, Tensor, Generator, bool> special)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (name, p) in model.named_parameters())
        {
            if (special(name, p, generator)) continue;
            if (name.EndsWith(".bias")) p.zero_();
            else if (p.dim() == 1 || name.EndsWith("gamma")) p.fill_(1.0);
            else
            {
                long receptive = p.numel() / (p.shape[0] * p.shape[1]);
                double fanIn = p.shape[1] * receptive, fanOut = p.shape[0] * receptive;
                double bound = Math.Sqrt(6.0 / (fanIn + fanOut));
                p.copy_((rand(p.shape, generator: generator) * 2 - 1) * bound);
            }
        }
    }
}
