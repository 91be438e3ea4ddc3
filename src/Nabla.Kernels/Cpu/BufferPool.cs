using System.Runtime.CompilerServices;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// Recycles the large buffers of tensors that nothing references any more, so a training loop that allocates the
/// same activation and gradient sizes every step reuses memory instead of asking the operating system for fresh pages.
/// </summary>
/// <remarks>
/// <para>
/// Why: a fresh page costs a fault on first write (≈ 12 µs per 4 KiB on the machines this was tuned on, where a
/// float32 64×32×28×28 activation is 1 600 pages), and large arrays live in the large-object heap, which is swept only by
/// full collections. A buffer reused from here is already mapped and usually still in cache.
/// </para>
/// <para>
/// How, without asking users to dispose tensors: each buffer handed out (a lease) remembers its storage object through
/// a weak reference. Once the garbage collector finds the storage unreachable, the weak reference clears and the buffer
/// can be handed out again. Leases are checked lazily, on a request for the same size after a collection. When a request
/// finds no free buffer and the pool has handed out much memory since its last collection (more than the live buffers
/// it found then, and at least <see cref="MinCollectBytes"/>), it runs a generation-1 collection so that the dead
/// leases surface: that costs about a millisecond (tensors hold no references inside their buffers), far less than
/// faulting the pages in again. Leases whose tensors reached generation 2 surface at full collections: the runtime's
/// own, or the pool's when such leases pile up (<see cref="StuckBytes"/>).
/// </para>
/// <para>
/// Buffers are allocated pinned (on the pinned-object heap): the pool keeps every buffer it hands out, so each one
/// lives long, and one below the large-object threshold (85 000 bytes: an MLP's activations) would otherwise be copied
/// by the collector from generation 0 to 1 and from 1 to 2, each copy into pages never touched before. The MLP's first
/// training epoch (bench/run.sh's workload, Zen 5, four fresh processes each, alternated): 14.8–15.8 K page faults →
/// 6.2–6.5 K, 239–244 → 223–230 ms, RSS 318–323 → 298 MiB; the second epoch unchanged (210–214 → 211–221 ms). In
/// docs/benchmarks.md the first epoch went from 0.251 to 0.219 s (0.54 → 0.47 of PyTorch's).
/// </para>
/// <para>
/// Only buffers of at least <see cref="MinBytes"/> are pooled; smaller ones are cheap in generation 0. Free buffers are
/// kept up to <see cref="MaxFreeBytes"/>; beyond that a returned buffer is left to the garbage collector. A pooled buffer
/// must never escape its storage (arrays handed to users, e.g. by ToArray, are allocated apart).
/// </para>
/// </remarks>
internal sealed class BufferPool
{
    /// <summary>
    /// Smallest buffer pooled (16 KiB). It was 64 KiB, which left an MLP's [64, 128] activations and their gradients
    /// (32 KiB each) to generation 0: 175 KB of fresh, zeroed heap per training step (a fifth of the L2 cache), now
    /// 55 KB; the step itself moved by less than 1 % (528 vs 530 µs, in-process A/B).
    /// </summary>
    public const long MinBytes = 16 * 1024;

    /// <summary>
    /// Least memory handed out between two of the pool's collections. Measured on the MLP epoch of bench/run.sh:
    /// 16 or 32 MiB 0.61–0.67 s, 64 MiB 0.75 s, 160 MiB 1.15 s (rarer collections leave more buffers unfound, so more
    /// are allocated fresh); the CNN epoch moved by less than the noise.
    /// </summary>
    public const long MinCollectBytes = 32L * 1024 * 1024;
    public const long MaxFreeBytes = 1024L * 1024 * 1024;

    /// <summary>
    /// Growth of the leases alive at two of the pool's collections in a row, over their least sum since the last full
    /// collection, beyond which the pool's next collection is a full one (4 MiB).
    /// </summary>
    /// <remarks>
    /// A storage alive at two collections has been promoted to generation 2, where a generation-1 collection no longer
    /// looks: once it dies its buffer surfaces only at a full collection, which a loop whose memory all comes back
    /// through the pool may never cause, and the pool allocates afresh meanwhile. The weights and the optimizer's state
    /// keep that sum steady; it grows when such dead leases pile up (or when the program keeps more tensors for good,
    /// which then costs one full collection per 4 MiB). Pinning the buffers shifted LeNet's training (bench/run.sh's
    /// workload, Zen 5, fresh processes) so that the batch the loader prepares ahead was often alive at two collections:
    /// with generation-1 collections only, 133–224 buffers were allocated afresh in the first epoch (6 before pinning)
    /// and the heap grew by 46–56 MiB; with this rule, 26 in the first epoch and 2 in the second, and the heap 15 MiB
    /// smaller than before pinning (279 against 294 MiB). With 1 MiB: 11, and 3 MiB less, but the MLP's weights and
    /// momentum (1.9 MB) would then cost it a full collection, which hands back pages its first epoch maps again.
    /// </remarks>
    public const long StuckBytes = 4L * 1024 * 1024;

    private readonly Lock _gate = new();
    private readonly Dictionary<(Type Type, int Length), Bucket> _buckets = [];
    private long _rentedSinceCollect, _liveAtCollect, _freeBytes;

    /// <summary>The least sum of old leases (alive at two collections in a row) seen since the last full collection.</summary>
    private long _settledOldBytes;
    private bool _collectFully;

    /// <summary>Buffers handed out fresh (not reused) so far; for tests and diagnostics.</summary>
    public long FreshAllocations { get; private set; }

    /// <summary>Buffers handed out again after their previous storage died; for tests and diagnostics.</summary>
    public long Reuses { get; private set; }

    /// <summary>Collections the pool has run itself; for tests and diagnostics.</summary>
    public long Collections { get; private set; }

    /// <summary>Of <see cref="Collections"/>, the full ones (see <see cref="StuckBytes"/>); for tests and diagnostics.</summary>
    public long FullCollections { get; private set; }

    private sealed class Lease(Array data, long bytes)
    {
        public readonly Array Data = data;
        public readonly long Bytes = bytes;
        public readonly WeakReference<object> Owner = new(null!);

        /// <summary>The pool's <see cref="Collections"/> when the buffer was last handed out.</summary>
        public long Since;
    }

    private sealed class Bucket
    {
        public readonly Stack<Lease> Free = new();
        public readonly List<Lease> Leased = [];
        public int CollectionsAtScan = -1;
    }

    public CpuStorage<T> Rent<T>(int length, DType dtype, bool zeroed) where T : unmanaged
    {
        var (data, lease) = Take<T>(length, zeroed);
        var storage = new CpuStorage<T>(data, dtype);
        lease?.Owner.SetTarget(storage);
        return storage;
    }

    /// <summary>An index buffer (e.g. max pooling's winners), recycled like tensor storage once unreachable.</summary>
    public IndexBuffer RentIndices(int length)
    {
        var (data, lease) = Take<int>(length, zeroed: false);
        var buffer = new IndexBuffer(data);
        lease?.Owner.SetTarget(buffer);
        return buffer;
    }

    /// <summary>
    /// Hands <paramref name="storage"/>'s buffer out again at once, before the collector finds the storage dead, when
    /// the caller knows nothing will read or write it any more; a no-op for buffers the pool does not hold. The next
    /// request of that size gets it back while it is still in cache.
    /// </summary>
    public void Recycle<T>(CpuStorage<T> storage) where T : unmanaged
    {
        long bytes = (long)storage.Length * Unsafe.SizeOf<T>();
        if (bytes < MinBytes) return;
        lock (_gate)
        {
            if (!_buckets.TryGetValue((typeof(T), storage.Length), out var bucket)) return;
            var leased = bucket.Leased;
            for (int i = leased.Count - 1; i >= 0; i--)
            {
                var lease = leased[i];
                if (!ReferenceEquals(lease.Data, storage.Data)) continue;
                leased.RemoveAt(i);
                _rentedSinceCollect = Math.Max(0, _rentedSinceCollect - lease.Bytes);
                lease.Owner.SetTarget(null!);
                Free(bucket, lease);   // if not kept, the collector takes it with its storage
                return;
            }
        }
    }

    /// <summary>An array of <paramref name="length"/> elements, and its lease when pooled (the caller names the owner).</summary>
    private (T[] Data, Lease? Lease) Take<T>(int length, bool zeroed) where T : unmanaged
    {
        long bytes = (long)length * Unsafe.SizeOf<T>();
        if (bytes < MinBytes) return (zeroed ? new T[length] : GC.AllocateUninitializedArray<T>(length), null);

        Lease lease;
        lock (_gate)
        {
            var bucket = BucketFor(typeof(T), length);
            bool reused = TryTake(bucket, out lease!);
            if (!reused && _rentedSinceCollect >= Math.Max(MinCollectBytes, _liveAtCollect))
            {
                CollectAndReclaim();
                reused = TryTake(bucket, out lease!);
            }
            if (reused)
            {
                Reuses++;
            }
            else
            {
                lease = new Lease(GC.AllocateUninitializedArray<T>(length, pinned: true), bytes);
                FreshAllocations++;
            }
            lease.Since = Collections;
            bucket.Leased.Add(lease);
            _rentedSinceCollect += bytes;
        }
        var data = (T[])lease.Data;
        // Fresh arrays from AllocateUninitializedArray are not guaranteed zero either: clear whenever zeros are asked for.
        if (zeroed) Array.Clear(data);
        return (data, lease);
    }

    private Bucket BucketFor(Type type, int length)
    {
        if (!_buckets.TryGetValue((type, length), out var bucket)) _buckets[(type, length)] = bucket = new Bucket();
        return bucket;
    }

    /// <summary>A free buffer of the bucket's size, after moving the bucket's dead leases to its free list when a collection has run since the last look.</summary>
    private bool TryTake(Bucket bucket, out Lease lease)
    {
        int collections = GC.CollectionCount(0);
        if (bucket.Free.Count == 0 && bucket.CollectionsAtScan != collections)
        {
            bucket.CollectionsAtScan = collections;
            Reclaim(bucket);
        }
        if (!bucket.Free.TryPop(out lease!)) return false;
        _freeBytes -= lease.Bytes;
        return true;
    }

    private void Reclaim(Bucket bucket)
    {
        var leased = bucket.Leased;
        int kept = 0;
        for (int i = 0; i < leased.Count; i++)
        {
            var lease = leased[i];
            if (lease.Owner.TryGetTarget(out _)) { leased[kept++] = lease; continue; }
            Free(bucket, lease);   // if not kept, the collector takes it
        }
        leased.RemoveRange(kept, leased.Count - kept);
    }

    /// <summary>Puts a lease on its bucket's free list, unless that would keep more than <see cref="MaxFreeBytes"/>.</summary>
    private void Free(Bucket bucket, Lease lease)
    {
        if (_freeBytes + lease.Bytes > MaxFreeBytes) return;
        bucket.Free.Push(lease);
        _freeBytes += lease.Bytes;
    }

    private void CollectAndReclaim()
    {
        bool full = _collectFully;
        GC.Collect(full ? 2 : 1, GCCollectionMode.Forced, blocking: true);
        Collections++;
        if (full) FullCollections++;
        long live = 0, old = 0;
        int collections = GC.CollectionCount(0);
        foreach (var bucket in _buckets.Values)
        {
            bucket.CollectionsAtScan = collections;
            Reclaim(bucket);
            foreach (var lease in bucket.Leased)
            {
                live += lease.Bytes;
                // Handed out before the previous collection and alive at both: promoted to generation 2.
                if (lease.Since <= Collections - 2) old += lease.Bytes;
            }
        }
        _liveAtCollect = live;
        _rentedSinceCollect = 0;
        _settledOldBytes = full ? old : Math.Min(_settledOldBytes, old);
        _collectFully = old > _settledOldBytes + StuckBytes;
    }
}
