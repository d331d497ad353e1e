using Turbo.Runtime;
using Turbo.Runtime.Native;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Tests.Quantizer;

/// <summary>
/// The W8A8 kernel binding checks every argument before the native library is reached: a wrong shape, dtype or
/// device is a one-line TurboException naming the tensor and what was expected. (Shapes and dtypes are checked before
/// the device, so CPU tensors reach every check here; the kernels themselves are checked on a GPU by `turbo check-int8`.)
/// </summary>
public class Int8KernelArgumentTests
{
    static void AssertRefused(TestDelegate call, params string[] fragments)
    {
        var e = Assert.Throws<TurboException>(call)!;
        Assert.That(e.Message, Does.Not.Contain('\n'), "one-line message");
        foreach (string f in fragments) Assert.That(e.Message, Does.Contain(f));
    }

    static Tensor Int8(long rows, long cols) => zeros(rows, cols, ScalarType.Int8);

    [TestCase(false, "int8 quantization")]
    [TestCase(true, "int8 gelu quantization")]
    public void QuantizationChecksTheInputAndTheSmoothingFactors(bool gelu, string op)
    {
        Func<Tensor, Tensor?, (Tensor, Tensor)> quantize = gelu ? Int8Kernels.GeluQuantizeRows : Int8Kernels.QuantizeRows;
        using var vector = ones(8);
        AssertRefused(() => quantize(vector, null), op, "x must be a 2-D", "[8]");
        using var integers = Int8(2, 8);
        AssertRefused(() => quantize(integers, null), "x must be", "Int8 [2, 8]");
        using var doubles = ones(2, 8, ScalarType.Float64);
        AssertRefused(() => quantize(doubles, null), "x must be", "Float64");
        using var x = ones(2, 8, ScalarType.BFloat16);
        using var shortSmooth = ones(7);
        AssertRefused(() => quantize(x, shortSmooth), "smooth must be Float32 [8]", "[7]");
        using var halfSmooth = ones(8, ScalarType.Float16);
        AssertRefused(() => quantize(x, halfSmooth), "smooth must be Float32 [8]", "Float16");
        using var smooth = ones(8);
        AssertRefused(() => quantize(x, smooth), "x must be on a CUDA device", "cpu");
    }

    [Test]
    public void MatmulChecksOperandsAndWhatEachGemmTakes()
    {
        using var x = Int8(3, 32);
        using var floats = ones(3, 32);
        using var w = Int8(8, 32);
        AssertRefused(() => Int8Kernels.MatmulInt32(floats, w, Int8Gemm.Mma), "int8 matmul", "x must be a non-empty 2-D Int8", "Float32 [3, 32]");
        using var wrongK = Int8(8, 48);
        AssertRefused(() => Int8Kernels.MatmulInt32(x, wrongK, Int8Gemm.Mma), "w must be a 2-D Int8 tensor [n, 32]", "[8, 48]");
        using var x20 = Int8(3, 20);
        using var w20 = Int8(8, 20);
        AssertRefused(() => Int8Kernels.MatmulInt32(x20, w20, Int8Gemm.Mma), "multiple of 16", "found 20");
        using var w6 = Int8(6, 32);
        AssertRefused(() => Int8Kernels.MatmulInt32(x, w6, Int8Gemm.CublasLt), "cuBLASLt", "multiples of 4", "n = 6");
        AssertRefused(() => Int8Kernels.MatmulInt32(x, w, Int8Gemm.CublasLt), "x must be on a CUDA device");
        AssertRefused(() => Int8Kernels.MatmulInt32(x20, w20, Int8Gemm.CublasLt), "x must be on a CUDA device");
    }

    [Test]
    public void DequantizationChecksScalesBiasAndOutputType()
    {
        using var acc = zeros(3, 4, ScalarType.Int32);
        using var rows = ones(3);
        using var channels = ones(4);
        using var floats = ones(3, 4);
        AssertRefused(() => Int8Kernels.Dequantize(floats, rows, channels, null, ScalarType.BFloat16), "acc must be a non-empty 2-D Int32");
        using var wrongRows = ones(4);
        AssertRefused(() => Int8Kernels.Dequantize(acc, wrongRows, channels, null, ScalarType.BFloat16), "x_scale must be Float32 [3]", "[4]");
        using var wrongChannels = ones(3);
        AssertRefused(() => Int8Kernels.Dequantize(acc, rows, wrongChannels, null, ScalarType.BFloat16), "w_scale must be Float32 [4]");
        using var halfBias = ones(4, ScalarType.BFloat16);
        AssertRefused(() => Int8Kernels.Dequantize(acc, rows, channels, halfBias, ScalarType.BFloat16), "bias must be Float32 [4]", "BFloat16");
        AssertRefused(() => Int8Kernels.Dequantize(acc, rows, channels, channels, ScalarType.Int8), "output dtype", "Int8");
        AssertRefused(() => Int8Kernels.Dequantize(acc, rows, channels, channels, ScalarType.Float32), "acc must be on a CUDA device");
    }

    /// <summary>x [3, 160] and w [200, 160] in INT8, their scales per row, per channel and per 128×128 block (CPU).</summary>
    static (Tensor X, Tensor Sx, Tensor W, Tensor Channel, Tensor Blocks) LinearOperands() =>
        (Int8(3, 160), ones(3), Int8(200, 160), ones(200), ones(2, 2));

    [Test]
    public void FusedLinearChecksTheWeightScalesOfItsFormat()
    {
        using var scope = NewDisposeScope();
        var (x, sx, w, channel, blocks) = LinearOperands();
        AssertRefused(() => Int8Kernels.Linear(x, sx, w, channel, QuantFormat.Fp8E4M3PerChannel, null, ScalarType.BFloat16), "fp8 has no CUDA kernel");
        AssertRefused(() => Int8Kernels.Linear(x, sx, w, channel, QuantFormat.Int8Block128, null, ScalarType.BFloat16),
            "w_scale must be Float32 [2, 2] for int8-block128", "[200]");
        AssertRefused(() => Int8Kernels.Linear(x, sx, w, blocks, QuantFormat.Int8PerChannel, null, ScalarType.BFloat16),
            "w_scale must be Float32 [200] for int8-channel", "[2, 2]");
        using var wrongRows = ones(2);
        AssertRefused(() => Int8Kernels.Linear(x, wrongRows, w, channel, QuantFormat.Int8PerChannel, null, ScalarType.BFloat16), "x_scale must be Float32 [3]");
        using var x24 = Int8(3, 24);
        using var w24 = Int8(200, 24);
        AssertRefused(() => Int8Kernels.Linear(x24, sx, w24, channel, QuantFormat.Int8PerChannel, null, ScalarType.BFloat16), "multiple of 16");
        AssertRefused(() => Int8Kernels.Linear(x, sx, w, blocks, QuantFormat.Int8Block128, null, ScalarType.BFloat16), "x must be on a CUDA device");
    }

    [Test]
    public void FusedLinearOnWgmmaTakesPerChannelScalesOnly()
    {
        using var scope = NewDisposeScope();
        var (x, sx, w, channel, blocks) = LinearOperands();
        AssertRefused(() => Int8Kernels.Linear(x, sx, w, blocks, QuantFormat.Int8Block128, null, ScalarType.BFloat16, Int8Gemm.Wgmma),
            "int8 linear (wgmma): the wgmma kernel takes per-channel weight scales", "int8-block128");
        AssertRefused(() => Int8Kernels.Linear(x, sx, w, channel, QuantFormat.Int8PerChannel, null, ScalarType.BFloat16, Int8Gemm.CublasLt),
            "no fused epilogue");
        using var x24 = Int8(3, 24);
        using var w24 = Int8(200, 24);
        AssertRefused(() => Int8Kernels.Linear(x24, sx, w24, channel, QuantFormat.Int8PerChannel, null, ScalarType.BFloat16, Int8Gemm.Wgmma),
            "the wgmma kernel needs input features (k) a multiple of 16");
        AssertRefused(() => Int8Kernels.Linear(x, sx, w, channel, QuantFormat.Int8PerChannel, null, ScalarType.BFloat16, Int8Gemm.Wgmma),
            "x must be on a CUDA device");
    }

    [Test]
    public void GeluRequantizationChecksItsOperands()
    {
        using var acc = zeros(3, 8, ScalarType.Int32);
        using var rows = ones(3);
        using var channels = ones(8);
        using var floats = ones(3, 8);
        AssertRefused(() => Int8Kernels.GeluRequantize(floats, rows, channels, null, ScalarType.BFloat16, null), "int8 gelu requantization", "acc must be a 2-D Int32");
        using var wrongRows = ones(4);
        AssertRefused(() => Int8Kernels.GeluRequantize(acc, wrongRows, channels, null, ScalarType.BFloat16, null), "x_scale must be Float32 [3]", "[4]");
        using var shortSmooth = ones(7);
        AssertRefused(() => Int8Kernels.GeluRequantize(acc, rows, channels, null, ScalarType.BFloat16, shortSmooth), "smooth must be Float32 [8]", "[7]");
        using var halfBias = ones(8, ScalarType.BFloat16);
        AssertRefused(() => Int8Kernels.GeluRequantize(acc, rows, channels, halfBias, ScalarType.BFloat16, null), "bias must be Float32 [8]");
        AssertRefused(() => Int8Kernels.GeluRequantize(acc, rows, channels, null, ScalarType.Int8, null), "hidden dtype", "Int8");
        AssertRefused(() => Int8Kernels.GeluRequantize(acc, rows, channels, channels, ScalarType.BFloat16, channels), "acc must be on a CUDA device");
    }

    [Test]
    public void NormQuantizationChecksItsOperands()
    {
        using var x = ones(2, 3, 8);
        using var modulation = ones(2, 8);
        using var smooth = ones(8);
        Tensor?[] one = [smooth];
        using var flat = ones(6, 8);
        AssertRefused(() => Int8Kernels.LayerNormQuantize(flat, null, null, modulation, modulation, 1e-6, ScalarType.BFloat16, one),
            "int8 layernorm quantization", "x must be a 3-D", "[6, 8]");
        using var vector = ones(8);
        AssertRefused(() => Int8Kernels.LayerNormQuantize(x, vector, null, null, null, 1e-6, ScalarType.BFloat16, one), "come in pairs");
        using var perToken = ones(3, 8);
        AssertRefused(() => Int8Kernels.LayerNormQuantize(x, null, null, perToken, modulation, 1e-6, ScalarType.BFloat16, one),
            "shift must be Float32 [2, 8]", "[3, 8]");
        using var shortSmooth = ones(7);
        AssertRefused(() => Int8Kernels.LayerNormQuantize(x, null, null, modulation, modulation, 1e-6, ScalarType.BFloat16, [smooth, shortSmooth]),
            "smooth must be Float32 [8]", "[7]");
        AssertRefused(() => Int8Kernels.LayerNormQuantize(x, null, null, modulation, modulation, 1e-6, ScalarType.BFloat16, [smooth, smooth, smooth, smooth]),
            "1..3 layers", "found 4");
        AssertRefused(() => Int8Kernels.LayerNormQuantize(x, null, null, modulation, modulation, 1e-6, ScalarType.Int8, one), "model dtype", "Int8");
        AssertRefused(() => Int8Kernels.LayerNormQuantize(x, null, null, modulation, modulation, 1e-6, ScalarType.BFloat16, one),
            "x must be on a CUDA device", "cpu");
    }

    [Test]
    public void ResidualNormQuantizationChecksTheUpdate()
    {
        using var x = ones(2, 3, 8);
        using var update = ones(2, 3, 8, ScalarType.BFloat16);
        using var modulation = ones(2, 8);
        using var smooth = ones(8);
        Tensor?[] one = [smooth];
        using var halfX = ones(2, 3, 8, ScalarType.BFloat16);
        AssertRefused(() => Int8Kernels.ResidualLayerNormQuantize(halfX, update, null, null, null, modulation, modulation, 1e-6, ScalarType.BFloat16, one),
            "int8 residual layernorm quantization", "x must be the Float32 residual stream", "BFloat16");
        using var shortUpdate = ones(2, 2, 8);
        AssertRefused(() => Int8Kernels.ResidualLayerNormQuantize(x, shortUpdate, null, null, null, modulation, modulation, 1e-6, ScalarType.BFloat16, one),
            "update must be", "[2, 3, 8]", "[2, 2, 8]");
        using var perToken = ones(3, 8);
        AssertRefused(() => Int8Kernels.ResidualLayerNormQuantize(x, update, perToken, null, null, modulation, modulation, 1e-6, ScalarType.BFloat16, one),
            "gate must be Float32 [2, 8]", "[3, 8]");
        AssertRefused(() => Int8Kernels.ResidualLayerNormQuantize(x, update, modulation, null, null, modulation, modulation, 1e-6, ScalarType.BFloat16, one),
            "x must be on a CUDA device", "cpu");
    }

    [Test]
    public void Fp8QuantizationAndLinearCheckTheirArguments()
    {
        using var integers = Int8(2, 16);
        AssertRefused(() => Fp8Kernels.QuantizeRows(integers, null), "fp8 quantization", "x must be", "Int8 [2, 16]");
        using var x = ones(2, 16, ScalarType.BFloat16);
        using var shortSmooth = ones(15);
        AssertRefused(() => Fp8Kernels.QuantizeRows(x, shortSmooth), "smooth must be Float32 [16]", "[15]");
        AssertRefused(() => Fp8Kernels.QuantizeRows(x, null), "x must be on a CUDA device", "cpu");

        using var codes = zeros(3, 32, ScalarType.Byte);
        using var sx = ones(3);
        using var w = zeros(48, 32, ScalarType.Byte);
        using var sw = ones(48);
        using var int8 = Int8(3, 32);
        AssertRefused(() => Fp8Kernels.Linear(int8, sx, w, sw, null, ScalarType.BFloat16), "fp8 linear", "x must be", "e4m3 codes", "Int8");
        using var w40 = zeros(40, 32, ScalarType.Byte);
        using var sw40 = ones(40);
        AssertRefused(() => Fp8Kernels.Linear(codes, sx, w40, sw40, null, ScalarType.BFloat16), "multiples of 16", "n = 40");
        AssertRefused(() => Fp8Kernels.Linear(codes, sx, w, sw, null, ScalarType.Float32), "output dtype must be BFloat16 or Float16", "Float32");
        using var floatBias = ones(48);
        AssertRefused(() => Fp8Kernels.Linear(codes, sx, w, sw, floatBias, ScalarType.BFloat16), "bias must be BFloat16 [48]", "Float32");
        AssertRefused(() => Fp8Kernels.Linear(codes, sx, w, sw, null, ScalarType.BFloat16), "x must be on a CUDA device");
    }

    [TestCase(Int8Gemm.Mma, 1536, 1536, true)]
    [TestCase(Int8Gemm.Mma, 5120, 13824, true)]
    [TestCase(Int8Gemm.Mma, 99, 48, true)]
    [TestCase(Int8Gemm.Mma, 64, 40, false)]
    [TestCase(Int8Gemm.Mma, 64, (long)QuantFormats.MaxInFeatures + 16, false)]
    [TestCase(Int8Gemm.CublasLt, 8960, 1536, true)]
    [TestCase(Int8Gemm.CublasLt, 100, 208, true)]
    [TestCase(Int8Gemm.CublasLt, 99, 48, false)]
    [TestCase(Int8Gemm.CublasLt, 100, 42, false)]
    public void EachGemmStatesWhichShapesItTakes(Int8Gemm gemm, long n, long k, bool takes) =>
        Assert.That(Int8Kernels.Unsupported(gemm, n, k), takes ? Is.Null : Is.Not.Null.And.Contains(k.ToString()));
}
