namespace Nabla.Kernels.Cpu;

/// <summary>
/// The packed copies of weights kept for batch-1 products (<see cref="PackedB{T}"/>), on each weight's own storage
/// (<see cref="Storage.Derived"/>, one copy per view read): made on the first unrecorded one-row product that reads the
/// view, reused while the storage's <see cref="Storage.Version"/> is the one it was made from, made again after any
/// write. They die with the storage, so nothing is left behind by a model that is dropped.
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

    /// <summary>
    /// Most views of one storage kept packed at once: a weight is normally one view of its own storage, but layers built
    /// on slices of one tensor share it (each view then keeps its own copy rather than packing over another's).
    /// </summary>
    private const int MaxViews = 4;

    /// <summary>A packed view of the storage: which view (offset, leading dimension, shape) and the version it was packed from.</summary>
    private sealed record Entry<T>(long Version, int Offset, int Ldb, PackedB<T> Panels) where T : unmanaged
    {
        public bool Packs(int offset, int ldb, int k, int n) => Offset == offset && Ldb == ldb && Panels.K == k && Panels.N == n;
    }

    /// <summary>
    /// The panels of <paramref name="b"/> (op(B), k×n, a transposed view: a Linear weight W [n, k] read as Wᵀ), packed
    /// now if they are missing or stale; null when B is not such a view, is too large, or the CPU has no kernel for it.
    /// </summary>
    public static unsafe PackedB<T>? For<T>(View b, T[] data, int threads) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var l = b.Layout;
        if (l.Rank != 2) return null;
        int k = l.Shape[0], n = l.Shape[1], ldb = l.Strides[1], offset = l.Offset;
        if (l.Strides[0] != 1 || ldb < k || k == 0 || n == 0 || (long)n * k * sizeof(T) > MaxBytes) return null;
        var storage = b.Storage;
        // One read of the field: the entries are never changed once published, only replaced (another thread may do so
        // meanwhile, and at worst one of two new copies is not kept).
        var entries = storage.Derived as Entry<T>[] ?? [];
        int found = entries.Length - 1;
        while (found >= 0 && !entries[found].Packs(offset, ldb, k, n)) found--;
        if (found >= 0 && entries[found].Version == storage.Version) return entries[found].Panels;
        long version = storage.Version;   // before packing: a write meanwhile leaves the entry stale, not wrong
        // This view's stale copy is packed over: fresh pages would cost more than the packing itself (≈ 12 µs per 4 KiB
        // on first write on the VMs this was measured on). Zen 5, 784×256 on two threads: 170 → 11 µs. Only a write to
        // the storage makes a copy stale, and reading a weight while it is written is a race anyway.
        var panels = Gemm.PackWholeB(transB: true, n, k, data, offset, ldb, threads, reuse: found >= 0 ? entries[found].Panels : null);
        if (panels is null) return null;
        var entry = new Entry<T>(version, offset, ldb, panels);
        Entry<T>[] updated = found >= 0 ? [.. entries[..found], entry, .. entries[(found + 1)..]]
            : entries.Length < MaxViews ? [.. entries, entry] : [.. entries[1..], entry];
        Volatile.Write(ref storage.Derived, updated);
        return panels;
    }
}
