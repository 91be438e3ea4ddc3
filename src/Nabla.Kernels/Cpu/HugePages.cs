using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// Asks Linux to back a large, not yet touched array with transparent huge pages (2 MiB). The first write to a fresh
/// 4 KiB page costs a fault (≈ 12 µs on the VMs this was measured on); a huge page costs one fault for 512 of them.
/// </summary>
/// <remarks>
/// Advice only: nothing changes where the system does not allow it (THP "never"), on other operating systems, or for
/// the unaligned ends of the array. It calls madvise(2) in the C library the runtime already uses; no native
/// binary comes with Nabla.
/// </remarks>
internal static unsafe partial class HugePages
{
    private const nint HugePage = 2 * 1024 * 1024;
    private const int MadviseHugePage = 14;   // MADV_HUGEPAGE

    /// <summary>Below this many bytes an array spans too few whole huge pages to be worth a system call.</summary>
    public const long MinBytes = 4 * HugePage;

    public static void Advise<T>(T[] array) where T : unmanaged
    {
        long bytes = (long)array.Length * Unsafe.SizeOf<T>();
        if (bytes < MinBytes || !OperatingSystem.IsLinux()) return;
        // The array does not move while advised: large arrays are never compacted unless asked, and advice applies
        // to the address range, not to the object.
        fixed (T* p = array)
        {
            nint start = ((nint)p + HugePage - 1) & ~(HugePage - 1);
            nint end = ((nint)p + (nint)bytes) & ~(HugePage - 1);
            if (end <= start) return;
            try
            {
                _ = Madvise(start, (nuint)(end - start), MadviseHugePage);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // A C library without madvise (or not found under this name): the array just keeps 4 KiB pages.
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
