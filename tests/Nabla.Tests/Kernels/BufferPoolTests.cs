using System.Runtime.CompilerServices;
using Nabla.Kernels;
using Nabla.Kernels.Cpu;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>The CPU backend's recycling of large buffers: reuse only after the owner dies, zeros when asked for.</summary>
public class BufferPoolTests
{
    private const int Large = 1 << 16;   // 256 KiB of float: pooled

    // Not inlined, so the storage is unreachable once these return (no JIT-extended lifetime in the caller).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference<float[]> RentAndDrop(BufferPool pool, bool zeroed, float fill)
    {
        var storage = pool.Rent<float>(Large, DType.Float32, zeroed);
        storage.Data.AsSpan().Fill(fill);
        return new WeakReference<float[]>(storage.Data);
    }

    [Fact]
    public void A_buffer_is_reused_after_its_storage_dies_and_cleared_when_zeros_are_asked_for()
    {
        var pool = new BufferPool();
        var first = RentAndDrop(pool, zeroed: false, fill: 7f);
        GC.Collect();
        var again = pool.Rent<float>(Large, DType.Float32, zeroed: true);
        Assert.True(first.TryGetTarget(out var firstArray));
        Assert.Same(firstArray, again.Data);
        Assert.Equal(1, pool.Reuses);
        Assert.All(again.Data, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_live_storage_keeps_its_buffer()
    {
        var pool = new BufferPool();
        var live = pool.Rent<float>(Large, DType.Float32, zeroed: false);
        live.Data.AsSpan().Fill(3f);
        GC.Collect();
        var other = pool.Rent<float>(Large, DType.Float32, zeroed: false);
        Assert.NotSame(live.Data, other.Data);
        Assert.Equal(0, pool.Reuses);
        Assert.All(live.Data, v => Assert.Equal(3f, v));
        GC.KeepAlive(live);
    }

    [Fact]
    public void Small_buffers_are_not_pooled_and_sizes_do_not_mix()
    {
        var pool = new BufferPool();
        RentAndDrop(pool, zeroed: false, fill: 1f);
        GC.Collect();
        var small = pool.Rent<float>(16, DType.Float32, zeroed: true);
        var otherSize = pool.Rent<float>(Large + 1, DType.Float32, zeroed: true);
        Assert.Equal(16, small.Length);
        Assert.Equal(Large + 1, otherSize.Length);
        Assert.Equal(0, pool.Reuses);
        Assert.All(otherSize.Data, v => Assert.Equal(0f, v));
    }

    [Fact]
    public unsafe void Pooled_buffers_stay_where_they_are_through_compacting_collections()
    {
        // 32 KiB: below the large-object threshold, where an unpinned array is copied as it is promoted.
        var pool = new BufferPool();
        var storage = pool.Rent<float>(8192, DType.Float32, zeroed: false);
        storage.Data.AsSpan().Fill(5f);
        nint before = (nint)Unsafe.AsPointer(ref storage.Data[0]);
        for (int i = 0; i < 3; i++) GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        Assert.Equal(before, (nint)Unsafe.AsPointer(ref storage.Data[0]));
        Assert.All(storage.Data, v => Assert.Equal(5f, v));
    }

    // The storage is rented and kept alive through two full collections (promoted to generation 2), then dropped.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference<float[]> RentPromoteAndDrop(BufferPool pool, int length)
    {
        var storage = pool.Rent<float>(length, DType.Float32, zeroed: false);
        GC.Collect();
        GC.Collect();
        Assert.Equal(2, GC.GetGeneration(storage));
        return new WeakReference<float[]>(storage.Data);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RentAndDropOnce(BufferPool pool, int length) => pool.Rent<float>(length, DType.Float32, zeroed: false);

    [Fact]
    public void Buffers_whose_storages_died_in_generation_2_come_back_through_a_full_collection_of_the_pool()
    {
        // 5 MiB leases stuck in generation 2 (more than StuckBytes), then a loop renting and dropping 1 MiB buffers,
        // whose forced collections are generation 1: the pool must notice the stuck sum and collect fully.
        const int Stuck = 5 << 18, Churn = 1 << 18;
        NoCollection.Retry(() =>
        {
            var pool = new BufferPool();
            var stuck = RentPromoteAndDrop(pool, Stuck);
            int full = GC.CollectionCount(2);
            bool reused = false;
            for (int i = 0; i < 400 && !reused; i++)
            {
                RentAndDropOnce(pool, Churn);
                if (pool.Collections >= 3)
                {
                    var again = pool.Rent<float>(Stuck, DType.Float32, zeroed: false);
                    reused = stuck.TryGetTarget(out var array) && ReferenceEquals(array, again.Data);
                }
            }
            if (GC.CollectionCount(2) - full != pool.FullCollections) return false;   // another full collection could have freed it: retry
            Assert.True(reused, $"after {pool.Collections} collections ({pool.FullCollections} full) the stuck buffer was not handed out again");
            Assert.True(pool.FullCollections >= 1);
            return true;
        }, during: "(a full one, not the pool's) during the test");
    }

    [Fact]
    public void Tensors_built_on_recycled_buffers_compute_the_same_values()
    {
        // Ops that overwrite their outputs get dirty recycled buffers; zeros must still be zeros.
        var device = Device.CpuWithThreads(1);
        var g = new Generator(3);
        var a = Tensor.Randn([300, 300], g).ToDevice(device);
        var b = Tensor.Randn([300, 300], g).ToDevice(device);
        var expected = a.MatMul(b).Add(a).Relu().Sum().Item();
        for (int i = 0; i < 5; i++)
        {
            for (int j = 0; j < 20; j++) _ = (a * (j + 1.0)).Exp();   // garbage buffers of the same size
            GC.Collect();
            Assert.Equal(0.0, Tensor.Zeros([300, 300], DType.Float32, device).Abs().Sum().Item());
            Assert.Equal(expected, a.MatMul(b).Add(a).Relu().Sum().Item());
        }
    }

    [Fact]
    public void Huge_page_advice_leaves_an_array_usable_and_its_contents_intact()
    {
        var array = GC.AllocateUninitializedArray<float>((int)(HugePages.MinBytes / sizeof(float)) + 1001);
        HugePages.Advise(array);
        for (int i = 0; i < array.Length; i++) array[i] = i;
        HugePages.Advise(array);   // advising again, on touched pages, changes nothing
        for (int i = 0; i < array.Length; i += 997) Assert.Equal((float)i, array[i]);
        HugePages.Advise(new float[10]);   // too small: ignored
    }
}
