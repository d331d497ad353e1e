using System.Diagnostics;
using Turbo.CalibrationData.Teacher;
using Turbo.Distiller.Training;
using Turbo.Runtime.Models;
using Turbo.Runtime.Quant;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;
namespace Turbo.Tests.Scratch;
public class TimingScratch
{
    [Test]
    public void Time()
    {
        using var noGrad = no_grad();
        var c = TeacherRecipe.Transformer;
        using var m = new WanModel(c);
        Initializers.Wan(m, 1);
        var x = randn(new long[]{2, 16, 9, 16, 16}); var t = full([2], 500f); var ctx = randn(2, 16, 64);
        m.Forward(x, t, ctx).Dispose();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 5; i++) m.Forward(x, t, ctx).Dispose();
        TestContext.Out.WriteLine($"dit fwd batch2: {sw.Elapsed.TotalMilliseconds / 5:F1} ms; threads {get_num_threads()}");
        // quantize all block linears
        foreach (var (name, lin) in WanLinears.Of(m).Where(l => l.Name.StartsWith("blocks.")))
        {
            var w = m.state_dict()[name + ".weight"];
            lin.UseKernel(new QuantizedLinear(WeightQuantizer.Quantize(w.to(ScalarType.Float32), QuantFormat.Int8PerChannel, null)));
        }
        m.Forward(x, t, ctx).Dispose();
        sw.Restart();
        for (int i = 0; i < 5; i++) m.Forward(x, t, ctx).Dispose();
        TestContext.Out.WriteLine($"w8a8 ref fwd batch2: {sw.Elapsed.TotalMilliseconds / 5:F1} ms");
        using var vae = new WanVae(TeacherRecipe.Vae with { LatentsMean = Enumerable.Repeat(0.0, 16).ToArray(), LatentsStd = Enumerable.Repeat(1.0, 16).ToArray() });
        Initializers.Vae(vae, 2);
        var z = randn(new long[]{1, 16, 9, 16, 16});
        sw.Restart();
        vae.Decode(z).Dispose();
        TestContext.Out.WriteLine($"vae decode 1 clip: {sw.Elapsed.TotalMilliseconds:F1} ms");
    }
}
