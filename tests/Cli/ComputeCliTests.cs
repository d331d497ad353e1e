using Turbo.Converter.Cli;
using Turbo.Runtime.IO;
using Turbo.Tests.Converter;
using static TorchSharp.torch;

namespace Turbo.Tests.Cli;

public class ComputeCliTests
{
    ScratchFolder _scratch = null!;

    [SetUp]
    public void CreateScratch() => _scratch = new ScratchFolder();

    [TearDown]
    public void DeleteScratch() => _scratch.Dispose();

    string DiffusersCheckpoint()
    {
        GoldenCopies.WithConfigBeside(_scratch.Sub("ckpt"), GoldenFiles.DiffusersWeights, GoldenFiles.DiffusersConfig);
        return _scratch.Sub("ckpt");
    }

    static double ErrorAgainstGolden(string written, string name, string golden, string goldenName)
    {
        using var ours = SafetensorsFile.Open(written);
        using var theirs = SafetensorsFile.Open(GoldenFiles.Path(golden));
        using var a = ours.Read(name);
        using var b = theirs.Read(goldenName);
        return ForwardParityTests.RelativeError(a, b);
    }

    [Test]
    public void ForwardWritesTheGoldenVelocity()
    {
        string output = _scratch.Sub("out.safetensors");
        var r = CliRunner.Run("forward", DiffusersCheckpoint(), "--inputs", GoldenFiles.Path(GoldenFiles.ForwardIO), "-o", output, "--device", "cpu");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        Assert.That(ErrorAgainstGolden(output, "out", GoldenFiles.ForwardIO, "out"), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void ForwardInBFloat16StaysClose()
    {
        string output = _scratch.Sub("out.safetensors");
        var r = CliRunner.Run("forward", DiffusersCheckpoint(), "--inputs", GoldenFiles.Path(GoldenFiles.ForwardIO), "-o", output, "--dtype", "bf16");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        Assert.That(ErrorAgainstGolden(output, "out", GoldenFiles.ForwardIO, "out"), Is.LessThanOrEqualTo(5e-2));
    }

    [Test]
    public void SampleReproducesTheGoldenUniPcLoop()
    {
        string output = _scratch.Sub("latents.safetensors");
        var r = CliRunner.Run("sample", DiffusersCheckpoint(), "--inputs", GoldenFiles.Path(GoldenFiles.SamplingIO),
            "--steps", "8", "--shift", "3", "--guidance", "5", "--solver", "unipc", "-o", output);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        Assert.That(ErrorAgainstGolden(output, "final_latents", GoldenFiles.SamplingIO, "final_latents"), Is.LessThanOrEqualTo(1e-3));
    }

    [Test]
    public void SampleWithEulerRunsToo()
    {
        string output = _scratch.Sub("latents.safetensors");
        var r = CliRunner.Run("sample", DiffusersCheckpoint(), "--inputs", GoldenFiles.Path(GoldenFiles.SamplingIO),
            "--steps", "4", "--shift", "3", "--guidance", "5", "--solver", "euler", "-o", output);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        using var file = SafetensorsFile.Open(output);
        using var golden = SafetensorsFile.Open(GoldenFiles.Path(GoldenFiles.SamplingIO));
        Assert.That(file.Info("final_latents").Shape, Is.EqualTo(golden.Info("noise").Shape));
    }

    [Test]
    public void CudaRequestedOnACpuMachine()
    {
        Assume.That(cuda.is_available(), Is.False, "this machine has CUDA");
        var r = CliRunner.Run("forward", DiffusersCheckpoint(), "--inputs", GoldenFiles.Path(GoldenFiles.ForwardIO),
            "-o", _scratch.Sub("out.safetensors"), "--device", "cuda");
        Assert.That(r.ExitCode, Is.EqualTo(TurboConvertCli.UserErrorExitCode));
        Assert.That(r.Err, Does.StartWith("error: CUDA was requested"));
        Assert.That(File.Exists(_scratch.Sub("out.safetensors")), Is.False);
    }

    [Test]
    public void InputsLackingATensor()
    {
        var r = CliRunner.Run("forward", DiffusersCheckpoint(), "--inputs", GoldenFiles.Path(GoldenFiles.SamplingIO),
            "-o", _scratch.Sub("out.safetensors"));
        Assert.That(r.ExitCode, Is.EqualTo(TurboConvertCli.UserErrorExitCode));
        Assert.That(r.Err, Does.Contain("tensor 'x' is missing"));
    }

    [Test]
    public void InputsOfTheWrongShape()
    {
        string inputs = _scratch.Sub("inputs.safetensors");
        using (var scope = NewDisposeScope())
            SafetensorsWriter.Save(inputs, new Dictionary<string, Tensor>
            {
                ["x"] = zeros(new long[] { 1, 8, 3, 4, 6 }), ["timestep"] = tensor(new float[] { 500 }), ["context"] = zeros(1, 9, 48),
            });
        var r = CliRunner.Run("forward", DiffusersCheckpoint(), "--inputs", inputs, "-o", _scratch.Sub("out.safetensors"));
        Assert.That(r.ExitCode, Is.EqualTo(TurboConvertCli.UserErrorExitCode));
        Assert.That(r.Err, Does.Contain("16 channels"));
    }

    [Test]
    public void OutputIntoAMissingFolder()
    {
        var r = CliRunner.Run("forward", DiffusersCheckpoint(), "--inputs", GoldenFiles.Path(GoldenFiles.ForwardIO),
            "-o", _scratch.Sub("no", "such", "out.safetensors"));
        Assert.That(r.ExitCode, Is.EqualTo(TurboConvertCli.UserErrorExitCode));
        Assert.That(r.Err, Does.Contain("does not exist"));
    }
}
