using TorchSharp;
using Turbo.CalibrationData.Rendering;

namespace Turbo.CalibrationData.Shapes;

/// <summary>One clip: video [3, T, H, W] in [-1, 1], its caption, everything it shows, and what the caption states.</summary>
public sealed record ShapesSample(torch.Tensor Video, string Caption, ShapeFactors Factors, StatedFactors Stated) : IDisposable
{
    public void Dispose() => Video.Dispose();
}

/// <summary>
/// The synthetic captioned "Shapes" video set: sample i of a split is a pure function of (seed, split, i, options),
/// rendered on demand — no stored videos.
/// </summary>
public sealed class ShapesDataset
{
    // Separate random streams per use of one seed; never renumber (it would change every sample).
    const ulong TrainStream = 1, HeldOutStream = 2, CaptionStream = 3;

    public ShapesDataset(ulong seed, ShapesOptions? options = null)
    {
        Seed = seed;
        Options = (options ?? new ShapesOptions()).Validated();
    }

    public ulong Seed { get; }
    public ShapesOptions Options { get; }

    /// <summary>Sample <paramref name="index"/> of <paramref name="split"/>: video, caption, factors.</summary>
    public ShapesSample Sample(ShapesSplit split, long index)
    {
        var random = StreamFor(split, index);
        var (factors, stated) = FactorSampler.Draw(split, Options, random);
        return new ShapesSample(Render(factors, random, Options), stated.Caption, factors, stated);
    }

    /// <summary>
    /// Sample <paramref name="index"/> of <paramref name="split"/> drawn straight into <paramref name="into"/>
    /// (3·T·H·W floats, the layout of <see cref="Sample"/>'s video); touches no tensor, so it may run on any thread.
    /// </summary>
    public StatedFactors SampleInto(ShapesSplit split, long index, Span<float> into)
    {
        var random = StreamFor(split, index);
        var (factors, stated) = FactorSampler.Draw(split, Options, random);
        ClipRenderer.Render(factors, SceneLayout.Draw(factors, Options, random), Options, into);
        return stated;
    }

    /// <summary>Samples <paramref name="first"/> … first + count − 1 of a split as one batch [count, 3, T, H, W], drawn in parallel.</summary>
    public (torch.Tensor Videos, StatedFactors[] Stated) Batch(ShapesSplit split, long first, int count)
    {
        var (pixels, stated) = Draw(split, first, count);
        return (torch.tensor(pixels, BatchShape(count)), stated);
    }

    /// <summary>What <see cref="Batch"/> returns, as plain floats: touches no tensor, so it may run on any thread.</summary>
    public (float[] Pixels, StatedFactors[] Stated) Draw(ShapesSplit split, long first, int count)
    {
        int clip = 3 * Options.Frames * Options.Height * Options.Width;
        var pixels = new float[(long)count * clip];
        var stated = new StatedFactors[count];
        Parallel.For(0, count, i => stated[i] = SampleInto(split, first + i, pixels.AsSpan(i * clip, clip)));
        return (pixels, stated);
    }

    public long[] BatchShape(int count) => [count, 3, Options.Frames, Options.Height, Options.Width];

    /// <summary>Only the caption's factors of sample <paramref name="index"/> (the same as <see cref="Sample"/>'s, without rendering).</summary>
    public StatedFactors Prompt(ShapesSplit split, long index) => FactorSampler.Draw(split, Options, StreamFor(split, index)).Stated;

    /// <summary>
    /// Real clip number <paramref name="index"/> for a caption (e.g. one of the evaluation prompts): factors the
    /// caption leaves out are drawn at random. The reference set a generator's clips of the same prompts are compared with.
    /// </summary>
    public ShapesSample ClipFor(string caption, long index)
    {
        var stated = Captions.Parse(caption);
        var random = SampleRandom.For(Seed, CaptionStream ^ StableHash(stated.Caption), index);
        var factors = stated.Complete(random);
        return new ShapesSample(Render(factors, random, Options), stated.Caption, factors, stated);
    }

    /// <summary>A clip of exactly these factors; the layout (place, exact size and colours) comes from <paramref name="random"/>.</summary>
    public static torch.Tensor Render(ShapeFactors factors, SampleRandom random, ShapesOptions options) =>
        ClipRenderer.Render(factors, SceneLayout.Draw(factors, options, random), options);

    SampleRandom StreamFor(ShapesSplit split, long index) =>
        SampleRandom.For(Seed, split == ShapesSplit.Train ? TrainStream : HeldOutStream, index);

    /// <summary>FNV-1a over the UTF-16 code units: the same on every run and machine (string.GetHashCode is not).</summary>
    static ulong StableHash(string text)
    {
        ulong hash = 0xCBF29CE484222325UL;
        foreach (char c in text) hash = (hash ^ c) * 0x100000001B3UL;
        return hash << 8; // keeps the low byte for the stream number it is combined with
    }
}
