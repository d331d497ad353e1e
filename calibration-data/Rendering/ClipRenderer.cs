using System.Runtime.InteropServices;
using TorchSharp;
using Turbo.CalibrationData.Shapes;

namespace Turbo.CalibrationData.Rendering;

/// <summary>Draws a clip's frames into a [3, T, H, W] buffer in [-1, 1] (the Wan VAE's input layout and range).</summary>
public static class ClipRenderer
{
    /// <summary>The clip as a float32 CPU tensor [3, T, H, W] in [-1, 1], drawn straight into the tensor's memory.</summary>
    public static torch.Tensor Render(ShapeFactors f, SceneLayout layout, ShapesOptions options)
    {
        var video = torch.empty([3, options.Frames, options.Height, options.Width], torch.float32);
        Render(f, layout, options, MemoryMarshal.Cast<byte, float>(video.bytes));
        return video;
    }

    /// <summary>Draws into <paramref name="into"/> (3·T·H·W floats, channel-major like the tensor).</summary>
    public static void Render(ShapeFactors f, SceneLayout layout, ShapesOptions options, Span<float> into)
    {
        int frames = options.Frames, height = options.Height, width = options.Width;
        if (into.Length != 3 * frames * height * width) throw new ArgumentException($"expected {3 * frames * height * width} floats, got {into.Length}", nameof(into));
        // Blending is linear, so mixing colours already mapped from [0, 1] to [-1, 1] equals mapping the mix.
        var foreground = ToSigned(layout.Foreground);
        var background = ToSigned(layout.Background);
        var polygon = ShapeOutline.Vertices(f.Shape);
        Span<(double X, double Y)> placed = stackalloc (double X, double Y)[polygon.Count];
        for (int frame = 0; frame < frames; frame++)
        {
            var planes = new FramePlanes(into, frames, frame, height, width);
            planes.Fill(background);
            var pose = layout.At(f.Motion, frame / (double)(frames - 1));
            double radius = layout.Radius * pose.Scale;
            if (polygon.Count == 0)
            {
                Rasterizer.FillCircle(planes, pose.X, pose.Y, radius, foreground);
                continue;
            }
            double cos = Math.Cos(pose.Angle), sin = Math.Sin(pose.Angle);
            for (int i = 0; i < polygon.Count; i++)
            {
                var (u, v) = polygon[i];
                placed[i] = (pose.X + radius * (u * cos - v * sin), pose.Y + radius * (u * sin + v * cos));
            }
            Rasterizer.FillPolygon(planes, placed, pose.X, pose.Y, foreground);
        }
    }

    static Rgb ToSigned(Rgb c) => new(2 * c.R - 1, 2 * c.G - 1, 2 * c.B - 1);
}
