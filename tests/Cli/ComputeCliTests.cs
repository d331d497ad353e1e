using Turbo.Converter.Cli;
using Turbo.Runtime.IO;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Cli;

public class ComputeCliTests : TempFolderFixture
{
    string Output => Temp.PathTo("out.safetensors");

    /// <summary>Runs <paramref name="command"/> on a diffusers-named copy of the golden weights (with its config beside).</summary>
    CliRunner.Result RunOnGoldenWeights(string command, string inputs, params string[] options)
    {
        string checkpoint = Temp.PathTo("ckpt");
        GoldenCopies.WithConfigBeside(checkpoint, Golden.DiffusersWeights, Golden.DiffusersConfig);
        return CliRunner.Run([command, checkpoint, "--inputs", inputs, .. options]);
    }

    /// <summary>Runs <paramref name="command"/> on the golden weights and golden inputs into <see cref="Output"/>; it must succeed.</summary>
    void RunOnGoldenSucceeds(string command, string goldenInputs, params string[] options)
    {
        var r = RunOnGoldenWeights(command, Golden.Path(goldenInputs), ["-o", Output, .. options]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
    }

    /// <summary>The relative error of the tensor <paramref name="name"/> the command wrote against the same tensor in a golden file.</summary>
    double OutputErrorAgainst(string golden, string name)
    {
        using var ours = SafetensorsFile.Open(Output);
        using var theirs = Golden.Open(golden);
        using var a = ours.Read(name);
        using var b = theirs.Read(name);
        return RelativeError.Of(a, b);
    }

    [Test]
    public void ForwardWritesTheGoldenVelocity()
    {
        RunOnGoldenSucceeds("forward", Golden.ForwardIO, "--device", "cpu");
        Assert.That(OutputErrorAgainst(Golden.ForwardIO, "out"), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void ForwardInBFloat16StaysClose()
    {
        RunOnGoldenSucceeds("forward", Golden.ForwardIO, "--dtype", "bf16");
        Assert.That(OutputErrorAgainst(Golden.ForwardIO, "out"), Is.LessThanOrEqualTo(5e-2));
    }

    [Test]
    public void SampleReproducesTheGoldenUniPcLoop()
    {
        RunOnGoldenSucceeds("sample", Golden.SamplingIO, "--steps", "8", "--shift", "3", "--guidance", "5", "--solver", "unipc");
        Assert.That(OutputErrorAgainst(Golden.SamplingIO, "final_latents"), Is.LessThanOrEqualTo(1e-3));
    }

    [Test]
    public void SampleWithEulerRunsToo()
    {
        RunOnGoldenSucceeds("sample", Golden.SamplingIO, "--steps", "4", "--shift", "3", "--guidance", "5", "--solver", "euler");
        using var file = SafetensorsFile.Open(Output);
        using var golden = Golden.Open(Golden.SamplingIO);
        Assert.That(file.Info("final_latents").Shape, Is.EqualTo(golden.Info("noise").Shape));
    }

    [Test]
    public void CudaRequestedOnACpuMachine()
    {
        Assume.That(cuda.is_available(), Is.False, "this machine has CUDA");
        var r = RunOnGoldenWeights("forward", Golden.Path(Golden.ForwardIO), "-o", Output, "--device", "cuda");
        Assert.That(r.ExitCode, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(r.Err, Does.StartWith("error: CUDA was requested"));
        Assert.That(File.Exists(Output), Is.False);
    }

    [Test]
    public void InputsLackingATensor()
    {
        var r = RunOnGoldenWeights("forward", Golden.Path(Golden.SamplingIO), "-o", Output);
        Assert.That(r.ExitCode, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(r.Err, Does.Contain("tensor 'x' is missing"));
    }

    [Test]
    public void InputsOfTheWrongShape()
    {
        string inputs = Temp.PathTo("inputs.safetensors");
        using (var scope = NewDisposeScope())
            SafetensorsWriter.Save(inputs, new Dictionary<string, Tensor>
            {
                ["x"] = zeros(new long[] { 1, 8, 3, 4, 6 }), ["timestep"] = tensor(new float[] { 500 }), ["context"] = zeros(1, 9, 48),
            });
        var r = RunOnGoldenWeights("forward", inputs, "-o", Output);
        Assert.That(r.ExitCode, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(r.Err, Does.Contain("16 channels"));
    }

    [Test]
    public void OutputIntoAMissingFolder()
    {
        var r = RunOnGoldenWeights("forward", Golden.Path(Golden.ForwardIO), "-o", Temp.PathTo("no", "such", "out.safetensors"));
        Assert.That(r.ExitCode, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(r.Err, Does.Contain("does not exist"));
    }
}
