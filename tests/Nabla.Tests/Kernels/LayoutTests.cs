using CsCheck;
using Nabla.Kernels;

namespace Nabla.Tests.Kernels;

/// <summary>
/// <see cref="Layout.IsRowMajor"/> decides when a fresh tensor may share another's layout; a wrong "yes" would make an
/// op's output be read through the input's strides or offset.
/// </summary>
public class LayoutTests
{
    [Fact]
    public void Row_major_means_the_contiguous_strides_and_offset_zero()
    {
        Assert.True(Layout.Contiguous([2, 3, 4]).IsRowMajor);
        Assert.True(Layout.Contiguous([]).IsRowMajor);
        Assert.True(new Layout([2, 3], [3, 1], 0).IsRowMajor);
        Assert.False(new Layout([2, 3], [3, 1], 5).IsRowMajor);      // a slice further on: contiguous, not at 0
        Assert.False(new Layout([3, 2], [1, 3], 0).IsRowMajor);      // a transpose
        // Contiguous, but a size-1 dimension's stride differs from what Contiguous would build (a reshape or a slice can
        // leave that): sharing it would be harmless for elementwise kernels but is not what the flag promises.
        var oddUnit = new Layout([2, 1, 3], [3, 7, 1], 0);
        Assert.True(oddUnit.IsContiguous);
        Assert.False(oddUnit.IsRowMajor);
    }

    [Fact]
    public void Contiguous_like_reuses_only_a_row_major_layout_of_the_same_shape()
    {
        var like = Layout.Contiguous([4, 5]);
        Assert.Same(like, Layout.Contiguous([4, 5], like));
        Assert.Same(like, Layout.Contiguous(like.Shape, like));
        Assert.NotSame(like, Layout.Contiguous([5, 4], like));
        var offset = new Layout([4, 5], [5, 1], 20);
        var fresh = Layout.Contiguous([4, 5], offset);
        Assert.NotSame(offset, fresh);
        Assert.Equal(0, fresh.Offset);
        Assert.Equal([5, 1], fresh.Strides);
    }

    [Fact]
    public void Reused_layouts_are_what_a_fresh_one_would_be() =>
        Gen.Int[1, 4].Array[0, 4].Select(Gen.Int[0, 3], Gen.Bool).Sample((shape, offset, transpose) =>
        {
            int[] strides = Layout.ContiguousStrides(shape);
            if (transpose && shape.Length >= 2) (strides[0], strides[^1]) = (strides[^1], strides[0]);
            var like = new Layout(shape, strides, offset);
            var result = Layout.Contiguous(shape, like);
            var fresh = Layout.Contiguous(shape);
            Assert.Equal(fresh.Strides, result.Strides);
            Assert.Equal(0, result.Offset);
            Assert.True(result.IsRowMajor);
        }, iter: 200);
}
