using System.Runtime.InteropServices;

namespace Turbo.Runtime.Native;

/// <summary>
/// Caps the instruction set of oneDNN, libtorch's CPU convolution library, at AVX (no AVX2, no AVX-512).
/// <para>
/// Why: on an AMD EPYC with AVX-512 (libtorch 2.10 in TorchSharp 0.107) oneDNN's float32 conv3d kernels return wrong
/// numbers: with AVX-512 most outputs of a 24→32-channel 3×3×3 convolution are off by ~0.25, sometimes NaN; with AVX2
/// the input gradient of a convolution to 3 channels (a VAE's last layer) is NaN. Its AVX kernels agree with float64.
/// Wan's VAE, the Shapes oracle and every training loop that convolves on the CPU depend on these kernels; the test
/// CpuConvolutionMatchesFloat64 guards them.
/// </para>
/// oneDNN reads <c>ONEDNN_MAX_CPU_ISA</c> from the process environment once, at its first primitive, so this has to
/// run before any tensor work; a value the user set is kept. .NET's Environment.SetEnvironmentVariable does not reach
/// native getenv on Unix, hence libc's setenv.
/// </summary>
static class OneDnnIsa
{
    const string Variable = "ONEDNN_MAX_CPU_ISA", Cap = "AVX";

    public static void CapAtAvx()
    {
        if (!OperatingSystem.IsLinux()) return;
        if (setenv(Variable, Cap, overwrite: 0) != 0)
            throw new InvalidOperationException($"could not set {Variable}={Cap} (errno {Marshal.GetLastPInvokeError()})");
    }

    [DllImport("libc", SetLastError = true)] static extern int setenv(string name, string value, int overwrite);
}
