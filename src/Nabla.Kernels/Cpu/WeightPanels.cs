namespace Nabla.Kernels.Cpu;

/// <summary>
/// The packed copy of a weight kept for batch-1 products (<see cref="PackedB{T}"/>), on the weight's own storage
/// (<see cref="Storage.Derived"/>): made on the first unrecorded one-row product that reads it, reused while the
/// storage's <see cref="Storage.Version"/> is the one it was made from, made again after any write. It dies with the
/// storage, so nothing is left behind by a model that is dropped.
/// </summary>
/// <remarks>
/// Zen 5, the MLP's batch-1 inference (784-256-128-10), in-process A/B against the unpacked dot products, three runs:
/// 4.65–4.74 → 3.29–3.38 µs (medians), and 6.40 → 5.19 µs in a process where this VM ran slow; with AVX-512 off
/// (the 256-bit kernels) 4.95–5.07 → 3.67–3.72 µs. LeNet's batch-1 inference (fc1: 3136×128) 2 % faster.
/// <para>
/// Only products the caller marks as reusing B take it (the backend's AddMm: an unrecorded Linear, i.e. inference), so
/// batch-1 training, whose weights change every step, never pays for packing. Packing again after a write costs a few
/// products' time (the same stream of B, plus a transpose): the MLP's three weights ≈ 15 µs against 3.3 µs per
/// inference. It is done on the first call after the write, not the second, so that every call of an unchanged
/// model gives the same bits (this path and the dot products sum in different orders).
/// </para>
/// </remarks>
internal static class WeightPanels
{
    /// <summary>
    /// Largest B kept packed (8 MiB): a copy doubles the weight's memory, and beyond the caches both paths stream B from
    /// memory at about the same rate.
    /// </summary>
    private const long MaxBytes = 8L << 20;

    private sealed class Entry<T>(long version, int offset, int ldb, PackedB<T> panels) where T : unmanaged
    {
        public readonly long Version = version;
        public readonly int Offset = offset, Ldb = ldb;
        public readonly PackedB<T> Panels = panels;
    }

    /// <summary>
    /// The panels of <paramref name="b"/> (op(B), k×n, a transposed view: a Linear weight W [n, k] read as Wᵀ), packed
    /// now if they are missing or stale; null when B is not such a view, is too large, or the CPU has no kernel for it.
    /// </summary>
    public static unsafe PackedB<T>? For<T>(View b, T[] data, int threads) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var l = b.Layout;
        if (l.Rank != 2) return null;
        int k = l.Shape[0], n = l.Shape[1], ldb = l.Strides[1];
        if (l.Strides[0] != 1 || ldb < k || k == 0 || n == 0 || (long)n * k * sizeof(T) > MaxBytes) return null;
        var storage = b.Storage;
        // One read of the field: another thread may replace the entry meanwhile, and each entry is complete when published.
        var entry = storage.Derived as Entry<T>;
        if (entry is not null && entry.Version == storage.Version && entry.Offset == l.Offset && entry.Ldb == ldb && entry.Panels.K == k && entry.Panels.N == n)
            return entry.Panels;
        long version = storage.Version;   // before packing: a write meanwhile leaves the entry stale, not wrong
        // A stale copy of the same shape is packed over: fresh pages would cost more than the packing itself (≈ 12 µs
        // per 4 KiB on first write on the VMs this was measured on). Zen 5, 784×256 on two threads: 170 → 11 µs.
        // Only a write to the weight makes a copy stale, and reading a weight while it is written is a race anyway.
        var panels = Gemm.PackWholeB(transB: true, n, k, data, l.Offset, ldb, threads, reuse: entry?.Panels);
        if (panels is not null) Volatile.Write(ref storage.Derived, new Entry<T>(version, l.Offset, ldb, panels));
        return panels;
    }
}
