using TorchSharp;
using TorchSharp.Modules;
using Turbo.CalibrationData.Shapes;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Turbo.CalibrationData.Oracle;

/// <summary>
/// A small video CNN that reads the factors back from a Shapes clip (one classification head per factor) and whose
/// penultimate activations are the features of a Fréchet distance between sets of clips.
///
/// Any clip size is accepted: it looks at 9 frames evenly spread over the clip (motion is defined over the
/// clip's normalised time, so speed means the same at every frame count) at 32×32 (area-averaged), plus the
/// difference from each frame to the next as three more channels — a direct motion cue that lets a small net
/// tell slow from quick. Each 2×2 block of pixels is folded into channels (16×16 with 24 channels: no detail
/// lost, and on the CPU a convolution over few channels at full resolution costs more than the rest of the net),
/// then three 3×3×3 convolutions, which see 7 of the 9 frames at once, with spatial halving between them. The
/// mean and the maximum over time and space feed one linear layer: the 128 features.
/// </summary>
public sealed class ShapesOracle : Module<Tensor, Tensor>
{
    public const int InputFrames = 9, InputSide = 32, FeatureSize = 128;
    public const string DefaultFileName = "shapes-oracle.safetensors";

    readonly Sequential trunk;
    readonly Linear embed;
    readonly ModuleList<Linear> heads;

    public ShapesOracle() : base(nameof(ShapesOracle))
    {
        trunk = Sequential(
            Layer(4 * 6, 32), MaxPool3d([1, 2, 2]),  // 16×16 → 8×8
            Layer(32, 64), MaxPool3d([1, 2, 2]),     // 8×8 → 4×4
            Layer(64, 64));
        embed = Linear(2 * 64, FeatureSize);
        heads = new ModuleList<Linear>(FactorRules.All.Select(f => Linear(FeatureSize, FactorRules.ClassCount(f))).ToArray());
        RegisterComponents();
    }

    /// <summary>The committed oracle, copied beside the program at build time.</summary>
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "oracle-weights", DefaultFileName);

    /// <summary>Clips [B, 3, T, H, W] in [-1, 1] → features [B, 128] (the penultimate layer).</summary>
    public override Tensor forward(Tensor clips)
    {
        using var scope = NewDisposeScope();
        var x = trunk.forward(Prepare(clips));
        var pooled = cat([x.mean([2, 3, 4]), x.amax([2, 3, 4])], 1);
        return functional.relu(embed.forward(pooled)).MoveToOuterDisposeScope();
    }

    /// <summary>Logits of every factor's head, in <see cref="FactorRules.All"/> order.</summary>
    public Tensor[] Logits(Tensor features) => heads.Select(head => head.forward(features)).ToArray();

    /// <summary>
    /// Loads weights saved by <see cref="Save"/> (parameters and batch-norm statistics); every name and shape is
    /// checked before the first copy, and a TurboException names the file and the first problem.
    /// </summary>
    public static ShapesOracle Load(string path)
    {
        if (!File.Exists(path)) throw new TurboException($"{path}: oracle weights not found (train them with `turbo-shapes train-oracle`)");
        using var file = SafetensorsFile.Open(path);
        var oracle = new ShapesOracle();
        var buffers = oracle.named_buffers().ToList();
        foreach (var (name, buffer) in buffers)
        {
            if (!file.Contains(name)) throw new TurboException($"{path}: tensor {name} is missing");
            var info = file.Info(name);
            if (!info.Shape.SequenceEqual(buffer.shape))
                throw new TurboException($"{path}: tensor {name}: expected shape [{string.Join(", ", buffer.shape)}], found [{string.Join(", ", info.Shape)}]");
            bool floating = info.DType is SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F32 or SafetensorsDType.F64;
            if (floating != buffer.is_floating_point()) throw new TurboException($"{path}: tensor {name}: expected {buffer.dtype}, found {info.DType}");
        }
        ModuleWeights.Load(oracle, name => file.Contains(name) ? file.Info(name).Shape : null, file.Read, path);
        using (no_grad())
            foreach (var (name, buffer) in buffers)
            {
                using var stored = file.Read(name);
                buffer.copy_(stored);
            }
        oracle.eval();
        return oracle;
    }

    /// <summary>
    /// Saves parameters and batch-norm statistics, floating-point ones as float16 (half the file; the oracle's
    /// accuracy is measured on the saved file), with <paramref name="metadata"/> in the header.
    /// </summary>
    public void Save(string path, IReadOnlyDictionary<string, string> metadata)
    {
        // Every tensor made here is disposed here: TorchSharp tensors left to the finalizer have been seen to corrupt others.
        using var scope = NewDisposeScope();
        var tensors = named_parameters().Select(p => (p.name, Tensor: p.parameter.detach()))
            .Concat(named_buffers().Select(b => (b.name, Tensor: b.buffer.detach())))
            .ToDictionary(t => t.name, t => t.Tensor.is_floating_point() ? t.Tensor.to(float16) : t.Tensor);
        SafetensorsWriter.Save(path, tensors, metadata);
    }

    /// <summary>Checks a batch of clips before any tensor operation touches it (libtorch errors abort the process).</summary>
    public static void Validate(Tensor clips, string what)
    {
        if (clips.dim() != 5 || clips.shape[1] != 3)
            throw new TurboException($"{what}: expected clips [batch, 3, frames, height, width], found [{string.Join(", ", clips.shape)}]");
        if (clips.dtype != ScalarType.Float32) throw new TurboException($"{what}: expected float32 clips, found {clips.dtype}");
        if (clips.shape[0] < 1 || clips.shape[2] < 2 || clips.shape[3] < 8 || clips.shape[4] < 8)
            throw new TurboException($"{what}: expected at least one clip of at least 2 frames of 8×8 pixels, found [{string.Join(", ", clips.shape)}]");
    }

    /// <summary>9 evenly spread frames at 32×32 and their frame-to-next differences, 2×2 blocks folded into channels: [B, 24, 9, 16, 16].</summary>
    static Tensor Prepare(Tensor clips)
    {
        long frames = clips.shape[2];
        var picked = Enumerable.Range(0, InputFrames).Select(i => (long)Math.Round(i * (frames - 1) / (double)(InputFrames - 1))).ToArray();
        var x = functional.adaptive_avg_pool3d(clips.index_select(2, tensor(picked, device: clips.device)), [InputFrames, InputSide, InputSide]);
        var next = cat([x[.., .., 1..], x[.., .., ^1..]], 2);
        var frames6 = cat([x, next - x], 1);                                   // [B, 6, 9, 32, 32]
        long batch = frames6.shape[0];
        var perFrame = frames6.permute(0, 2, 1, 3, 4).reshape(batch * InputFrames, 6, InputSide, InputSide);
        var folded = functional.pixel_unshuffle(perFrame, 2);                 // [B·9, 24, 16, 16]
        return folded.reshape(batch, InputFrames, 24, InputSide / 2, InputSide / 2).permute(0, 2, 1, 3, 4).contiguous();
    }

    static Sequential Layer(int inputs, int outputs) => Sequential(Conv3d(inputs, outputs, 3, padding: 1, bias: false), BatchNorm3d(outputs), ReLU());
}
