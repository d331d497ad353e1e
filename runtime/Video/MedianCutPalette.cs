namespace Turbo.Runtime.Video;

/// <summary>
/// Up to 256 colours for one frame by median cut, and each pixel's index into them. Median cut rather than a fixed
/// colour cube because generated clips of flat-coloured shapes hold few distinct colours: median cut keeps every one
/// of them exactly (a frame of at most 256 colours round-trips without error), where a 6×7×6 cube would shift each
/// to its nearest cube corner, by up to 25 levels. Busy frames still get colours placed where their pixels are.
/// </summary>
sealed class MedianCutPalette
{
    public const int MaxColours = 256;

    /// <summary>Packed 0xRRGGBB colours; <see cref="Indices"/> point into this list.</summary>
    public int[] Colours { get; }

    /// <summary>For every pixel in row-major order, the index of its nearest palette colour.</summary>
    public byte[] Indices { get; }

    public MedianCutPalette(RgbFrame frame)
    {
        var histogram = Histogram(frame.Pixels);
        Colours = Cut(histogram);
        Indices = Map(frame.Pixels, Colours);
    }

    readonly record struct ColourCount(int Rgb, int Count);

    static ColourCount[] Histogram(byte[] pixels)
    {
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < pixels.Length; i += 3)
        {
            int rgb = Pack(pixels[i], pixels[i + 1], pixels[i + 2]);
            counts[rgb] = counts.GetValueOrDefault(rgb) + 1;
        }
        return counts.Select(kv => new ColourCount(kv.Key, kv.Value)).ToArray();
    }

    /// <summary>Splits the colour boxes (ranges of <paramref name="colours"/>) at the weighted median of their widest channel until there are 256 or none can split.</summary>
    static int[] Cut(ColourCount[] colours)
    {
        var boxes = new List<(int Start, int Length)> { (0, colours.Length) };
        while (boxes.Count < MaxColours)
        {
            int widest = -1, widestChannel = 0, widestRange = 0;
            for (int b = 0; b < boxes.Count; b++)
            {
                var (channel, range) = WidestChannel(colours, boxes[b]);
                if (range > widestRange) (widest, widestChannel, widestRange) = (b, channel, range);
            }
            if (widest < 0) break; // every box holds a single colour
            var (start, length) = boxes[widest];
            Array.Sort(colours, start, length, Comparer<ColourCount>.Create((a, b) => Channel(a.Rgb, widestChannel).CompareTo(Channel(b.Rgb, widestChannel))));
            int firstLength = MedianSplit(colours, start, length);
            boxes[widest] = (start, firstLength);
            boxes.Add((start + firstLength, length - firstLength));
        }
        return boxes.Select(box => Mean(colours, box)).ToArray();
    }

    static (int Channel, int Range) WidestChannel(ColourCount[] colours, (int Start, int Length) box)
    {
        int bestChannel = 0, bestRange = 0;
        for (int channel = 0; channel < 3; channel++)
        {
            int min = 255, max = 0;
            for (int i = box.Start; i < box.Start + box.Length; i++)
            {
                int value = Channel(colours[i].Rgb, channel);
                min = Math.Min(min, value);
                max = Math.Max(max, value);
            }
            if (max - min > bestRange) (bestChannel, bestRange) = (channel, max - min);
        }
        return (bestChannel, bestRange);
    }

    /// <summary>The length of the first half: where the pixel count reaches half the box's, leaving both halves non-empty.</summary>
    static int MedianSplit(ColourCount[] sorted, int start, int length)
    {
        long total = 0;
        for (int i = start; i < start + length; i++) total += sorted[i].Count;
        long running = 0;
        for (int i = 0; i < length - 1; i++)
        {
            running += sorted[start + i].Count;
            if (running * 2 >= total) return i + 1;
        }
        return length - 1;
    }

    /// <summary>The pixel-weighted mean colour of a box.</summary>
    static int Mean(ColourCount[] colours, (int Start, int Length) box)
    {
        long r = 0, g = 0, b = 0, n = 0;
        for (int i = box.Start; i < box.Start + box.Length; i++)
        {
            var (rgb, count) = colours[i];
            r += (long)Channel(rgb, 0) * count;
            g += (long)Channel(rgb, 1) * count;
            b += (long)Channel(rgb, 2) * count;
            n += count;
        }
        return Pack((byte)((r + n / 2) / n), (byte)((g + n / 2) / n), (byte)((b + n / 2) / n));
    }

    /// <summary>Each pixel's nearest palette colour (squared RGB distance), looked up once per distinct colour.</summary>
    static byte[] Map(byte[] pixels, int[] palette)
    {
        var indices = new byte[pixels.Length / 3];
        var nearest = new Dictionary<int, byte>();
        for (int p = 0; p < indices.Length; p++)
        {
            int rgb = Pack(pixels[3 * p], pixels[3 * p + 1], pixels[3 * p + 2]);
            if (!nearest.TryGetValue(rgb, out byte index)) nearest[rgb] = index = Nearest(rgb, palette);
            indices[p] = index;
        }
        return indices;
    }

    static byte Nearest(int rgb, int[] palette)
    {
        int best = 0, bestDistance = int.MaxValue;
        for (int i = 0; i < palette.Length; i++)
        {
            int distance = 0;
            for (int channel = 0; channel < 3; channel++)
            {
                int d = Channel(rgb, channel) - Channel(palette[i], channel);
                distance += d * d;
            }
            if (distance < bestDistance) (best, bestDistance) = (i, distance);
        }
        return (byte)best;
    }

    public static int Pack(byte r, byte g, byte b) => r << 16 | g << 8 | b;

    /// <summary>Channel 0 = red, 1 = green, 2 = blue of a packed colour.</summary>
    public static int Channel(int rgb, int channel) => rgb >> (16 - 8 * channel) & 0xFF;
}
