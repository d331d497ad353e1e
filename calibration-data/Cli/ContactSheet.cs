using TorchSharp;

namespace Turbo.CalibrationData.Cli;

/// <summary>Lays clips out as a grid, one clip per row and one frame per column, for a PNG.</summary>
public static class ContactSheet
{
    const int Gap = 2;

    /// <summary>Clips [3, T, H, W] in [-1, 1], all the same shape; returns RGB bytes and the sheet's size.</summary>
    public static (byte[] Rgb, int Width, int Height) Build(IReadOnlyList<torch.Tensor> clips)
    {
        var shape = clips[0].shape;
        int frames = (int)shape[1], height = (int)shape[2], width = (int)shape[3];
        int sheetWidth = frames * (width + Gap) - Gap, sheetHeight = clips.Count * (height + Gap) - Gap;
        var rgb = new byte[sheetWidth * sheetHeight * 3];
        for (int row = 0; row < clips.Count; row++)
        {
            if (!clips[row].shape.SequenceEqual(shape)) throw new ArgumentException("clips differ in shape", nameof(clips));
            float[] data = clips[row].contiguous().data<float>().ToArray();
            for (int f = 0; f < frames; f++)
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < width; x++)
                        for (int c = 0; c < 3; c++)
                        {
                            float value = data[((c * frames + f) * height + y) * width + x];
                            int at = ((row * (height + Gap) + y) * sheetWidth + f * (width + Gap) + x) * 3 + c;
                            rgb[at] = (byte)Math.Clamp(Math.Round((value + 1) * 127.5), 0, 255);
                        }
        }
        return (rgb, sheetWidth, sheetHeight);
    }
}
