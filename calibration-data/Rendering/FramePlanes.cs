namespace Turbo.CalibrationData.Rendering;

/// <summary>
/// One frame of a [3, T, H, W] float buffer: three planes, one per channel, <c>frames·H·W</c> floats apart.
/// </summary>
public readonly ref struct FramePlanes
{
    readonly Span<float> _buffer;
    readonly int _width, _height, _plane, _channelStride, _start;

    public FramePlanes(Span<float> buffer, int frames, int frame, int height, int width)
    {
        _buffer = buffer;
        _width = width;
        _height = height;
        _plane = height * width;
        _channelStride = frames * _plane;
        _start = frame * _plane;
    }

    public void Fill(Rgb colour)
    {
        _buffer.Slice(_start, _plane).Fill(colour.R);
        _buffer.Slice(_start + _channelStride, _plane).Fill(colour.G);
        _buffer.Slice(_start + 2 * _channelStride, _plane).Fill(colour.B);
    }

    /// <summary>Mixes <paramref name="colour"/> into pixel (x, y) with weight <paramref name="coverage"/> ∈ [0, 1].</summary>
    public void Blend(int x, int y, float coverage, Rgb colour)
    {
        int at = _start + y * _width + x;
        ref float r = ref _buffer[at];
        r += coverage * (colour.R - r);
        ref float g = ref _buffer[at + _channelStride];
        g += coverage * (colour.G - g);
        ref float b = ref _buffer[at + 2 * _channelStride];
        b += coverage * (colour.B - b);
    }

    /// <summary>The inclusive pixel range whose centres lie within one pixel of the box, clipped to the frame.</summary>
    public (int X0, int Y0, int X1, int Y1) Span(double minX, double minY, double maxX, double maxY) =>
        (Math.Max(0, (int)Math.Floor(minX - 1)), Math.Max(0, (int)Math.Floor(minY - 1)),
         Math.Min(_width - 1, (int)Math.Ceiling(maxX + 1)), Math.Min(_height - 1, (int)Math.Ceiling(maxY + 1)));
}
