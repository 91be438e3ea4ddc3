using Nabla.Kernels;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>
/// The index-select kernel (whole slices copied) against the element-by-element definition, written out here in
/// loops: every axis position, repeated and unordered indices, strided sources, each dtype, one and two threads.
/// </summary>
public class IndexSelectKernelTests
{
    /// <summary>The larger shapes (≥ 64 KB picked) are split over two threads; [300, 257] with axis 0 is a batch of rows.</summary>
    [Theory]
    [InlineData(new[] { 300, 257 }, 0, DType.Float32)]
    [InlineData(new[] { 300, 257 }, 1, DType.Float32)]
    [InlineData(new[] { 40, 33, 50 }, 1, DType.Float64)]
    [InlineData(new[] { 40, 33, 50 }, 2, DType.Float32)]
    [InlineData(new[] { 7, 3, 5 }, 0, DType.Int64)]
    [InlineData(new[] { 6, 9 }, 1, DType.Bool)]
    [InlineData(new[] { 5 }, 0, DType.Float32)]
    public void Picks_the_slices_of_the_definition_on_one_and_two_threads(int[] shape, int axis, DType dtype)
    {
        var g = new Generator(3);
        var x = (Tensor.Randn(shape, g, DType.Float64) * 4).To(dtype);
        int size = shape[axis];
        // Every index once in reverse, then some again: order and repeats both kept.
        long[] picks = [.. Enumerable.Range(0, size).Reverse().Select(i => (long)i), 0, size - 1, size / 2, 0];
        var index = Tensor.FromArray(picks, picks.Length);

        var one = x.ToDevice(Device.CpuWithThreads(1)).IndexSelect(axis, index);
        var two = x.ToDevice(Device.CpuWithThreads(2)).IndexSelect(axis, index);
        int[] expectedShape = [.. shape];
        expectedShape[axis] = picks.Length;
        Assert.Equal(expectedShape, one.Shape);
        Assert.Equal(one.ToArray<double>(), two.ToArray<double>());

        var xs = x.ToArray<double>();
        var ys = one.ToArray<double>();
        int inner = shape.Skip(axis + 1).Aggregate(1, (p, d) => p * d), outer = xs.Length / (size * inner);
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < picks.Length; i++)
                for (int r = 0; r < inner; r++)
                    Assert.Equal(xs[(o * size + picks[i]) * inner + r], ys[(o * picks.Length + i) * inner + r]);
    }

    /// <summary>A transposed source and a narrowed one (offset, strides) read through their views, and a strided index.</summary>
    [Fact]
    public void Strided_sources_and_indices_are_read_through_their_views()
    {
        var g = new Generator(5);
        var x = Tensor.Randn([12, 20], g);
        var index = Tensor.FromArray(new long[] { 3, 9, 1, 9, 0, 11 }, 6).Narrow(0, 1, 4);   // 9, 1, 9, 0
        foreach (var view in new[] { x.T, x.Narrow(1, 4, 12), x.T.Narrow(0, 2, 7) })
        {
            var dense = view.Contiguous();
            for (int axis = 0; axis < 2; axis++)
            {
                if (view.Shape[axis] < 10) continue;
                Assert.Equal(dense.IndexSelect(axis, index).ToArray<float>(), view.IndexSelect(axis, index).ToArray<float>());
            }
        }
        var picked = x.IndexSelect(0, index).ToArray<float>();
        var rows = x.ToArray<float>();
        Assert.Equal(rows.AsSpan(9 * 20, 20).ToArray(), picked.AsSpan(0, 20).ToArray());
        Assert.Equal(rows.AsSpan(1 * 20, 20).ToArray(), picked.AsSpan(20, 20).ToArray());
    }

    /// <summary>
    /// The deferred form (a data loader's next batch) writes what the immediate one does, also from strided sources and
    /// along inner axes, on one thread (copied before it returns) and on two (copied in the helper's idle time or in Wait).
    /// </summary>
    [Theory]
    [InlineData(new[] { 300, 257 }, 0, DType.Float32)]
    [InlineData(new[] { 40, 33, 50 }, 1, DType.Float64)]
    [InlineData(new[] { 7, 3, 5 }, 0, DType.Int64)]
    [InlineData(new[] { 6, 9 }, 1, DType.Bool)]
    public void Begun_ahead_it_writes_what_the_immediate_form_does(int[] shape, int axis, DType dtype)
    {
        var g = new Generator(4);
        long[] picks = [.. Enumerable.Range(0, 40).Select(i => (long)((i * 7 + 3) % shape[axis]))];
        var index = Tensor.FromArray(picks, picks.Length);
        foreach (int threads in new[] { 1, 2 })
        {
            var device = Device.CpuWithThreads(threads);
            var x = (Tensor.Randn(shape, g, DType.Float64) * 4).To(dtype).ToDevice(device);
            foreach (var source in new[] { x, x.T.Contiguous().T })
            {
                var expected = source.IndexSelect(axis, index);
                var y = Tensor.Zeros(expected.Shape, dtype, device);
                var pending = device.Backend.BeginIndexSelect(source.View, index.View, axis, y.View);
                pending.Wait();
                Assert.Equal(expected.ToArray<double>(), y.ToArray<double>());
            }
        }
    }

    [Fact]
    public void Begun_ahead_a_bad_index_throws_at_once_and_writes_nothing()
    {
        var device = Device.CpuWithThreads(2);
        var x = Tensor.Ones([20, 1000]).ToDevice(device);
        var y = Tensor.Zeros([3, 1000]).ToDevice(device);
        var e = Assert.Throws<IndexOutOfRangeException>(() =>
            device.Backend.BeginIndexSelect(x.View, Tensor.FromArray(new long[] { 1, 2, 20 }, 3).View, 0, y.View));
        Assert.Contains("size 20", e.Message);
        Thread.Sleep(5);
        Assert.All(y.ToArray<float>(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void An_index_out_of_range_names_the_op_the_index_and_the_size()
    {
        var x = Tensor.Zeros(4, 3);
        var e = Assert.Throws<IndexOutOfRangeException>(() => x.IndexSelect(0, Tensor.FromArray(new long[] { 1, 4 }, 2)));
        Assert.Contains("IndexSelect", e.Message);
        Assert.Contains("4", e.Message);
        Assert.Contains("size 4", e.Message);
        Assert.Throws<ArgumentException>(() => x.IndexSelect(1, Tensor.FromArray(new[] { 1f }, 1)));
        Assert.Throws<ArgumentException>(() => x.IndexSelect(1, Tensor.FromArray(new long[] { 1, 0 }, 1, 2)));
    }

    [Fact]
    public void An_empty_index_gives_an_empty_result()
    {
        var y = Tensor.Ones(4, 3).IndexSelect(1, Tensor.FromArray(Array.Empty<long>(), 0));
        Assert.Equal([4, 0], y.Shape);
    }
}
