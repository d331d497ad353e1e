using TorchSharp;
using Turbo.Runtime;
using Turbo.Runtime.Video;

namespace Turbo.CalibrationData.Cli;

/// <summary>Lays clips out as a grid, one clip per row and one frame per column, for a PNG.</summary>
public static class ContactSheet
{
    const int Gap = 2;

    /// <summary>Clips [3, T, H, W] in [-1, 1], all the same shape, as one image.</summary>
    public static RgbFrame Build(IReadOnlyList<torch.Tensor> clips)
    {
        var rows = clips.Select(VideoFrames.FromClip).ToList();
        var first = rows[0][0];
        if (rows.Any(r => r.Length != rows[0].Length || r[0].Width != first.Width || r[0].Height != first.Height))
            throw new TurboException("contact sheet: the clips differ in shape");
        int columns = rows[0].Length, width = first.Width, height = first.Height;
        int sheetWidth = columns * (width + Gap) - Gap, sheetHeight = rows.Count * (height + Gap) - Gap;
        var rgb = new byte[sheetWidth * sheetHeight * 3];
        for (int row = 0; row < rows.Count; row++)
            for (int f = 0; f < columns; f++)
                for (int y = 0; y < height; y++)
                    Array.Copy(rows[row][f].Pixels, y * width * 3, rgb, ((row * (height + Gap) + y) * sheetWidth + f * (width + Gap)) * 3, width * 3);
        return new RgbFrame(sheetWidth, sheetHeight, rgb);
    }
}
