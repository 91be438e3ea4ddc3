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
/// faulting the pages in again. Leases whose tensors reached generation 2 surface at the runtime's own full collections.
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

    private readonly Lock _gate = new();
    private readonly Dictionary<(Type Type, int Length), Bucket> _buckets = [];
    private long _rentedSinceCollect, _liveAtCollect, _freeBytes;

    /// <summary>Buffers handed out fresh (not reused) so far; for tests and diagnostics.</summary>
    public long FreshAllocations { get; private set; }

    /// <summary>Buffers handed out again after their previous storage died; for tests and diagnostics.</summary>
    public long Reuses { get; private set; }

    private sealed class Lease(Array data, long bytes)
    {
        public readonly Array Data = data;
        public readonly long Bytes = bytes;
        public readonly WeakReference<object> Owner = new(null!);
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
                lease = new Lease(GC.AllocateUninitializedArray<T>(length), bytes);
                FreshAllocations++;
            }
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
        GC.Collect(1, GCCollectionMode.Forced, blocking: true);
        long live = 0;
        int collections = GC.CollectionCount(0);
        foreach (var bucket in _buckets.Values)
        {
            bucket.CollectionsAtScan = collections;
            Reclaim(bucket);
            foreach (var lease in bucket.Leased) live += lease.Bytes;
        }
        _liveAtCollect = live;
        _rentedSinceCollect = 0;
    }
}
