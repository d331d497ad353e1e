using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Turbo.Runtime.Native;

/// <summary>
/// Makes TorchSharp's native shim loadable before anything touches TorchSharp.
///
/// TorchSharp 0.107's libLibTorchSharp.so requires GLIBCXX_3.4.32 (GCC 13) for one symbol,
/// std::ios_base_library_init(). Where the process's libstdc++ lacks that version (Debian 12 stops at
/// 3.4.30), we (1) mark that version requirement weak in the shim's ELF version table (a two-byte edit,
/// written atomically) and (2) load a one-function library providing the symbol with global visibility.
/// Where libstdc++ is new enough, nothing is changed.
/// </summary>
public static class TorchLoader
{
    const string RequiredVersion = "GLIBCXX_3.4.32";
    const string ShimFileName = "libturbo_glibcxx_shim.so";
    const string TorchSharpNative = "libLibTorchSharp.so";
    static readonly object Gate = new();
    static bool _done;

    /// <summary>What was done, for diagnostics ("not needed", "patched + shim loaded", ...).</summary>
    public static string Status { get; private set; } = "not run";

    public static void EnsureLoadable()
    {
        lock (Gate)
        {
            if (_done) return;
            OneDnnIsa.CapAtAvx();
            if (!OperatingSystem.IsLinux()) { Status = "not needed (not Linux)"; _done = true; return; }
            PreloadLibTorchFromEnvironment();
            string? libstdcxx = LoadedLibStdCxx();
            if (libstdcxx is null || FileContains(libstdcxx, RequiredVersion))
            {
                Status = "not needed (libstdc++ has " + RequiredVersion + ")";
                _done = true;
                return;
            }
            string shim = Path.Combine(AppContext.BaseDirectory, ShimFileName);
            if (!File.Exists(shim))
                throw new InvalidOperationException(
                    $"{libstdcxx} lacks {RequiredVersion}, which TorchSharp needs, and {shim} is missing: rebuild with g++ installed.");
            foreach (string native in TorchSharpNativeCandidates())
                if (File.Exists(native)) MarkVersionWeak(native, RequiredVersion);
            if (dlopen(shim, RTLD_NOW | RTLD_GLOBAL) == IntPtr.Zero)
                throw new InvalidOperationException($"Could not load {shim}: {Marshal.PtrToStringAnsi(dlerror())}");
            Status = $"libstdc++ lacks {RequiredVersion}: version made weak, {ShimFileName} loaded";
            _done = true;
        }
    }

    /// <summary>
    /// TURBO_LIBTORCH names an existing PyTorch install's torch/lib: load its CUDA libtorch first, with global
    /// visibility, so that TorchSharp binds to it (and so runs on the GPU) instead of a CPU build.
    /// </summary>
    static void PreloadLibTorchFromEnvironment()
    {
        if (Environment.GetEnvironmentVariable("TURBO_LIBTORCH") is not { Length: > 0 } dir) return;
        foreach (string lib in new[] { "libtorch_cuda.so", "libtorch.so" })
        {
            string path = Path.Combine(dir, lib);
            if (!File.Exists(path))
                throw new InvalidOperationException($"TURBO_LIBTORCH={dir}: {lib} not found there (expected a PyTorch torch/lib folder with CUDA)");
            if (dlopen(path, RTLD_NOW | RTLD_GLOBAL) == IntPtr.Zero)
                throw new InvalidOperationException($"Could not load {path}: {Marshal.PtrToStringAnsi(dlerror())}");
        }
    }

    static IEnumerable<string> TorchSharpNativeCandidates()
    {
        string baseDir = AppContext.BaseDirectory;
        yield return Path.Combine(baseDir, TorchSharpNative);
        yield return Path.Combine(baseDir, "runtimes", "linux-x64", "native", TorchSharpNative);
    }

    /// <summary>The libstdc++ this process already maps (the .NET runtime links it), else the usual path.</summary>
    static string? LoadedLibStdCxx()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash >= 0 && line.Contains("libstdc++.so")) return line[slash..].Trim();
            }
        }
        catch (IOException) { }
        foreach (string p in new[] { "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" })
            if (File.Exists(p)) return p;
        return null;
    }

    static bool FileContains(string path, string text)
    {
        byte[] needle = System.Text.Encoding.ASCII.GetBytes(text);
        return File.ReadAllBytes(path).AsSpan().IndexOf(needle) >= 0;
    }

    /// <summary>
    /// Sets VER_FLG_WEAK on the Vernaux entry naming <paramref name="version"/> in .gnu.version_r, so the
    /// dynamic loader accepts a libstdc++ without that version. Idempotent; rewrites the file atomically.
    /// </summary>
    public static bool MarkVersionWeak(string elfPath, string version)
    {
        byte[] elf = File.ReadAllBytes(elfPath);
        int? flagsOffset = FindVernauxFlags(elf, version);
        if (flagsOffset is null) return false;
        const ushort VerFlgWeak = 0x2;
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(flagsOffset.Value));
        if ((flags & VerFlgWeak) != 0) return true;
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(flagsOffset.Value), (ushort)(flags | VerFlgWeak));
        string temp = elfPath + ".tmp-" + Environment.ProcessId;
        File.WriteAllBytes(temp, elf);
        File.Move(temp, elfPath, overwrite: true);
        return true;
    }

    /// <summary>File offset of vna_flags for the named version, or null. ELF64 little-endian only.</summary>
    static int? FindVernauxFlags(byte[] elf, string version)
    {
        var s = elf.AsSpan();
        if (elf.Length < 64 || s[0] != 0x7F || s[1] != (byte)'E' || s[4] != 2 || s[5] != 1) return null;
        long shoff = BinaryPrimitives.ReadInt64LittleEndian(s[0x28..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(s[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(s[0x3C..]);
        const uint ShtGnuVerneed = 0x6ffffffe;
        for (int i = 0; i < shnum; i++)
        {
            var sh = s[(int)(shoff + i * shentsize)..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed) continue;
            long verneedOff = BinaryPrimitives.ReadInt64LittleEndian(sh[0x18..]);
            int link = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
            long strOff = BinaryPrimitives.ReadInt64LittleEndian(s[(int)(shoff + link * shentsize + 0x18)..]);
            long vn = verneedOff;
            while (true)
            {
                int cnt = BinaryPrimitives.ReadUInt16LittleEndian(s[(int)(vn + 2)..]);
                long aux = vn + BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(vn + 8)..]);
                for (int a = 0; a < cnt; a++)
                {
                    uint name = BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(aux + 8)..]);
                    if (CString(s, (int)(strOff + name)) == version) return (int)(aux + 4);
                    aux += BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(aux + 12)..]);
                }
                uint next = BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(vn + 12)..]);
                if (next == 0) break;
                vn += next;
            }
        }
        return null;
    }

    static string CString(ReadOnlySpan<byte> s, int start)
    {
        int end = s[start..].IndexOf((byte)0);
        return System.Text.Encoding.ASCII.GetString(s.Slice(start, end));
    }

    const int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;
    [DllImport("libc", EntryPoint = "dlopen")] static extern IntPtr dlopen(string path, int flags);
    [DllImport("libc", EntryPoint = "dlerror")] static extern IntPtr dlerror();
}
