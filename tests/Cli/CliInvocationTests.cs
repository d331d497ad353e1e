using System.CommandLine;
using System.Runtime.InteropServices;
using Turbo.Converter.Cli;

namespace Turbo.Tests.Cli;

/// <summary>How a command's failure reaches the user: one line and an exit code, whatever the tool.</summary>
public class CliInvocationTests
{
    static (int Code, string Err) RunThrowing(Exception failure)
    {
        var root = new RootCommand("test");
        var command = new Command("work");
        command.SetAction(new Func<ParseResult, int>(_ => throw failure));
        root.Subcommands.Add(command);
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = CliInvocation.Run(root, ["work"], output, error);
        return (code, error.ToString());
    }

    [Test]
    public void RunningOutOfGpuMemoryIsOneLineAndExitCodeFour()
    {
        // libtorch's message as TorchSharp raises it: the allocator's line, then its C++ stack trace
        var (code, err) = RunThrowing(new ExternalException(
            "CUDA out of memory. Tried to allocate 47.98 GiB. GPU 0 has a total capacity of 139.80 GiB of which 11.57 GiB is free.\n" +
            "Exception raised from malloc at CUDACachingAllocator.cpp:1574 (most recent call first):\nframe #0: ..."));
        Assert.That(code, Is.EqualTo(CliInvocation.OutOfMemoryExitCode));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(err, Does.StartWith("error: out of memory: CUDA out of memory. Tried to allocate 47.98 GiB"));
    }

    [Test]
    public void OtherLibtorchFailuresAreNotMistakenForMemory()
    {
        var failure = new ExternalException("shape '[2, 3]' is invalid for input of size 5");
        Assert.Throws<ExternalException>(() => RunThrowing(failure), "not a user error: the runtime's checks should have caught it first");
    }
}
