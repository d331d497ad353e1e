using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Runtime.Video;

/// <summary>Turns a decoded clip tensor into frames that the writers take.</summary>
public static class VideoFrames
{
    /// <summary>
    /// The T frames of a clip <c>[3, T, H, W]</c> of floats in [-1, 1] (any device): each value becomes
    /// round((x + 1) / 2 · 255) clamped to [0, 255]. The shape and dtype are checked before any tensor operation,
    /// since a libtorch error aborts the process; NaN is refused, because it has no colour and would hide a broken model.
    /// </summary>
    public static RgbFrame[] FromClip(Tensor clip)
    {
        RequireClipShape(clip);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var values = clip.detach().to(ScalarType.Float32, CPU);
        if (values.isnan().any().item<bool>()) throw new TurboException("clip: contains NaN values");
        // [3, T, H, W] → [T, H, W, 3]: every frame becomes a contiguous run of RGB triples.
        var bytes = ((values + 1) / 2 * 255).round().clamp(0, 255).to(ScalarType.Byte).permute(1, 2, 3, 0).contiguous();
        int frames = (int)clip.shape[1], height = (int)clip.shape[2], width = (int)clip.shape[3];
        var result = new RgbFrame[frames];
        for (int t = 0; t < frames; t++)
        {
            var pixels = new byte[(long)height * width * 3];
            long offset = 0;
            TensorBytes.Write(bytes[t], chunk =>
            {
                chunk.CopyTo(pixels.AsSpan(checked((int)offset)));
                offset += chunk.Length;
            });
            result[t] = new RgbFrame(width, height, pixels);
        }
        return result;
    }

    static void RequireClipShape(Tensor clip)
    {
        long[] shape = clip.shape;
        if (shape.Length != 4 || shape[0] != 3 || shape.Skip(1).Any(size => size <= 0))
            throw new TurboException($"clip: expected [3, frames, height, width] with every size positive, found [{string.Join(", ", shape)}]");
        if (shape[2] * shape[3] * 3 > Array.MaxLength)
            throw new TurboException($"clip: frames of {shape[3]}×{shape[2]} are too large for one RGB buffer");
        if (clip.dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64))
            throw new TurboException($"clip: expected floating-point values in [-1, 1], found {clip.dtype} [{string.Join(", ", shape)}]");
    }
}
