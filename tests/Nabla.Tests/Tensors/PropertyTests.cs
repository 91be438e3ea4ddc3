using CsCheck;
using Nabla.Kernels;

namespace Nabla.Tests.Tensors;

/// <summary>
/// Properties of broadcasting, views and reductions on random shapes (rank 0–4, sizes 1–4), checked against plain
/// index arithmetic on the row-major element arrays. CsCheck shrinks any failure to a small counterexample.
/// </summary>
public class PropertyTests
{
    private const int Iterations = 100;

    // ---------- generators ----------

    private static readonly Gen<int[]> AnyShape = Gen.Int[1, 4].Array[0, 4];

    private static readonly Gen<int[]> NonScalarShape = Gen.Int[1, 4].Array[1, 4];

    private static int Count(int[] shape) => shape.Aggregate(1, (p, d) => p * d);

    private static Gen<Tensor> TensorOf(int[] shape) =>
        Gen.Double[-10, 10].Array[Count(shape)].Select(v => Tensor.FromArray(v).Reshape(shape));

    /// <summary>Small integers as doubles: many ties, to exercise max/argmax tie handling.</summary>
    private static Gen<Tensor> TiedTensorOf(int[] shape) =>
        Gen.Int[-3, 3].Array[Count(shape)].Select(v => Tensor.FromArray(v.Select(i => (double)i).ToArray()).Reshape(shape));

    /// <summary>A shape that broadcasts to <paramref name="target"/>: some leading dimensions dropped, some others set to 1.</summary>
    private static Gen<int[]> BroadcastableTo(int[] target) =>
        Gen.Select(Gen.Int[0, target.Length], Gen.Bool.Array[target.Length],
            (drop, ones) => target.Skip(drop).Select((d, i) => ones[drop + i] ? 1 : d).ToArray());

    /// <summary>A random subset of the axes of a rank-r tensor (possibly empty, which means all axes).</summary>
    private static Gen<int[]> AxesOf(int rank) =>
        Gen.Bool.Array[rank].Select(m => Enumerable.Range(0, rank).Where(i => m[i]).ToArray());

    // ---------- index arithmetic ----------

    private static int[] Unravel(int flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        return idx;
    }

    private static int Ravel(int[] idx, int[] shape)
    {
        int flat = 0;
        for (int d = 0; d < shape.Length; d++) flat = flat * shape[d] + idx[d];
        return flat;
    }

    /// <summary>The element of an operand of shape <paramref name="shape"/> read at output index <paramref name="outIdx"/> under broadcasting.</summary>
    private static int BroadcastSource(int[] outIdx, int[] shape)
    {
        int lead = outIdx.Length - shape.Length;
        var idx = new int[shape.Length];
        for (int d = 0; d < shape.Length; d++) idx[d] = shape[d] == 1 ? 0 : outIdx[lead + d];
        return Ravel(idx, shape);
    }

    /// <summary>Values of a tensor of shape <paramref name="shape"/> whose element at index i is source[map(i)].</summary>
    private static double[] Gathered(double[] source, int[] shape, Func<int[], int> map) =>
        Enumerable.Range(0, Count(shape)).Select(i => source[map(Unravel(i, shape))]).ToArray();

    private static void Near(double expected, double actual, double scale)
    {
        if (Math.Abs(expected - actual) > 1e-12 * (1 + scale))
            throw new Xunit.Sdk.XunitException($"expected {expected:R}, got {actual:R}");
    }

    // ---------- broadcasting ----------

    private static readonly Gen<(Tensor A, Tensor B)> BroadcastPair =
        AnyShape.SelectMany(s => Gen.Select(BroadcastableTo(s), BroadcastableTo(s)))
            .SelectMany(p => Gen.Select(TensorOf(p.Item1), TensorOf(p.Item2)));

    [Fact]
    public void Broadcast_binary_ops_agree_with_an_explicit_loop()
    {
        BroadcastPair.Sample(p =>
        {
            var (a, b) = p;
            int rank = Math.Max(a.Rank, b.Rank);
            var shape = new int[rank];
            for (int d = 0; d < rank; d++)
            {
                int da = d - (rank - a.Rank) is var ia && ia >= 0 ? a.Shape[ia] : 1;
                int db = d - (rank - b.Rank) is var ib && ib >= 0 ? b.Shape[ib] : 1;
                shape[d] = Math.Max(da, db);
            }
            double[] av = a.ToArray<double>(), bv = b.ToArray<double>();
            var ops = new (string Name, Func<Tensor, Tensor, Tensor> Op, Func<double, double, double> Scalar)[]
            {
                ("add", (x, y) => x + y, (x, y) => x + y),
                ("sub", (x, y) => x - y, (x, y) => x - y),
                ("mul", (x, y) => x * y, (x, y) => x * y),
                ("maximum", (x, y) => x.Maximum(y), Math.Max),
                ("where a>b", (x, y) => Tensor.Where(x.Gt(y), x, y), (x, y) => x > y ? x : y),
            };
            foreach (var (name, op, scalar) in ops)
            {
                var y = op(a, b);
                Assert.Equal(shape, y.Shape);
                var yv = y.ToArray<double>();
                for (int i = 0; i < yv.Length; i++)
                {
                    var idx = Unravel(i, shape);
                    double expected = scalar(av[BroadcastSource(idx, a.Shape)], bv[BroadcastSource(idx, b.Shape)]);
                    if (expected != yv[i]) throw new Xunit.Sdk.XunitException($"{name} at [{string.Join(", ", idx)}]: expected {expected}, got {yv[i]}");
                }
            }
        }, iter: Iterations);
    }

    [Fact]
    public void Broadcasting_is_symmetric_in_shape_and_commutative_ops_in_value()
    {
        BroadcastPair.Sample(p =>
        {
            var (a, b) = p;
            Assert.Equal((a + b).Shape, (b + a).Shape);
            Assert.Equal((a + b).ToArray<double>(), (b + a).ToArray<double>());
            Assert.Equal((a * b).ToArray<double>(), (b * a).ToArray<double>());
            Assert.Equal((a - b).ToArray<double>(), (-(b - a)).ToArray<double>());
        }, iter: Iterations);
    }

    [Fact]
    public void Arbitrary_shape_pairs_broadcast_both_ways_or_fail_both_ways()
    {
        // Unrelated shapes: a + b succeeds exactly when every right-aligned pair of sizes is equal or contains a 1,
        // and b + a then has the same shape; otherwise both directions throw.
        Gen.Select(AnyShape, AnyShape).Sample(p =>
        {
            var (sa, sb) = p;
            var a = Tensor.Zeros(sa, DType.Float64);
            var b = Tensor.Zeros(sb, DType.Float64);
            bool compatible = true;
            for (int k = 1; k <= Math.Min(sa.Length, sb.Length); k++)
            {
                int da = sa[^k], db = sb[^k];
                compatible &= da == db || da == 1 || db == 1;
            }
            if (compatible) Assert.Equal((a + b).Shape, (b + a).Shape);
            else
            {
                Assert.Throws<ArgumentException>(() => a + b);
                Assert.Throws<ArgumentException>(() => b + a);
            }
        }, iter: Iterations);
    }

    // ---------- views and copies ----------

    private static readonly Gen<(Tensor X, int[] Perm)> Permuted =
        NonScalarShape.SelectMany(s => Gen.Select(TensorOf(s), Gen.Shuffle(Enumerable.Range(0, s.Length).ToArray())));

    [Fact]
    public void Permute_then_contiguous_matches_index_arithmetic()
    {
        Permuted.Sample(p =>
        {
            var (x, perm) = p;
            var view = x.Permute(perm);
            var shape = perm.Select(d => x.Shape[d]).ToArray();
            Assert.Equal(shape, view.Shape);
            var expected = Gathered(x.ToArray<double>(), shape, idx =>
            {
                var src = new int[idx.Length];
                for (int i = 0; i < idx.Length; i++) src[perm[i]] = idx[i];
                return Ravel(src, x.Shape);
            });
            var copy = view.Contiguous();
            Assert.True(copy.IsContiguous);
            Assert.Equal(expected, copy.ToArray<double>());
            Assert.Equal(expected, view.ToArray<double>());
        }, iter: Iterations);
    }

    [Fact]
    public void Transpose_then_contiguous_matches_index_arithmetic()
    {
        NonScalarShape.SelectMany(s => Gen.Select(TensorOf(s), Gen.Int[0, s.Length - 1], Gen.Int[0, s.Length - 1])).Sample(p =>
        {
            var (x, d0, d1) = p;
            var shape = (int[])x.Shape.Clone();
            (shape[d0], shape[d1]) = (shape[d1], shape[d0]);
            var expected = Gathered(x.ToArray<double>(), shape, idx =>
            {
                var src = (int[])idx.Clone();
                (src[d0], src[d1]) = (src[d1], src[d0]);
                return Ravel(src, x.Shape);
            });
            var t = x.Transpose(d0, d1).Contiguous();
            Assert.Equal(shape, t.Shape);
            Assert.Equal(expected, t.ToArray<double>());
        }, iter: Iterations);
    }

    // Longer dimensions here (up to 7) so that strided slices keep several elements.
    private static readonly Gen<(Tensor X, int Axis, int Start, int End, int Step)> Sliced =
        Gen.Int[1, 7].Array[1, 3].SelectMany(s => Gen.Int[0, s.Length - 1].SelectMany(axis =>
            Gen.Int[0, s[axis]].SelectMany(start =>
                Gen.Select(TensorOf(s), Gen.Int[start, s[axis]], Gen.Int[1, 3],
                    (x, end, step) => (x, axis, start, end, step)))));

    [Fact]
    public void Slice_then_contiguous_matches_index_arithmetic()
    {
        Sliced.Sample(p =>
        {
            var (x, axis, start, end, step) = p;
            var shape = (int[])x.Shape.Clone();
            shape[axis] = (end - start + step - 1) / step;
            var view = x.Slice(axis, start, end, step);
            Assert.Equal(shape, view.Shape);
            var expected = Gathered(x.ToArray<double>(), shape, idx =>
            {
                var src = (int[])idx.Clone();
                src[axis] = start + idx[axis] * step;
                return Ravel(src, x.Shape);
            });
            Assert.Equal(expected, view.Contiguous().ToArray<double>());
        }, iter: Iterations);
    }

    [Fact]
    public void Expand_then_contiguous_matches_index_arithmetic()
    {
        AnyShape.SelectMany(s => BroadcastableTo(s).SelectMany(small => TensorOf(small).Select(x => (x, s)))).Sample(p =>
        {
            var (x, target) = p;
            var view = x.Expand(target);
            Assert.Equal(target, view.Shape);
            var expected = Gathered(x.ToArray<double>(), target, idx => BroadcastSource(idx, x.Shape));
            Assert.Equal(expected, view.Contiguous().ToArray<double>());
        }, iter: Iterations);
    }

    [Fact]
    public void Slice_of_a_permuted_view_composes_the_index_maps()
    {
        Permuted.SelectMany(p => Gen.Int[0, p.X.Rank - 1].SelectMany(axis =>
            Gen.Int[0, p.X.Shape[p.Perm[axis]] - 1].Select(start => (p.X, p.Perm, axis, start)))).Sample(q =>
        {
            var (x, perm, axis, start) = q;
            var view = x.Permute(perm).Slice(axis, start, x.Shape[perm[axis]], 2);
            var expected = Gathered(x.ToArray<double>(), view.Shape, idx =>
            {
                var src = new int[idx.Length];
                for (int i = 0; i < idx.Length; i++) src[perm[i]] = i == axis ? start + 2 * idx[i] : idx[i];
                return Ravel(src, x.Shape);
            });
            Assert.Equal(expected, view.Contiguous().ToArray<double>());
        }, iter: Iterations);
    }

    [Fact]
    public void Reshape_of_a_non_contiguous_view_equals_reshape_of_its_contiguous_copy()
    {
        Permuted.SelectMany(p => Gen.Shuffle(Enumerable.Range(0, p.X.Rank).ToArray()).Select(order => (p.X, p.Perm, order))).Sample(q =>
        {
            var (x, perm, order) = q;
            var view = x.Permute(perm);
            var target = order.Select(d => view.Shape[d]).ToArray(); // same element count, different dimensions
            var direct = view.Reshape(target);
            var viaCopy = view.Contiguous().Reshape(target);
            Assert.Equal(target, direct.Shape);
            Assert.Equal(viaCopy.ToArray<double>(), direct.ToArray<double>());
            Assert.Equal(view.Contiguous().ToArray<double>(), view.Reshape(-1).ToArray<double>());
        }, iter: Iterations);
    }

    // ---------- reductions ----------

    private static readonly Gen<Tensor> AnyNonScalar = NonScalarShape.SelectMany(TensorOf);

    [Fact]
    public void Sum_over_all_axes_equals_summing_one_axis_at_a_time()
    {
        AnyNonScalar.SelectMany(x => Gen.Shuffle(Enumerable.Range(0, x.Rank).ToArray()).Select(order => (x, order))).Sample(p =>
        {
            var (x, order) = p;
            var remaining = Enumerable.Range(0, x.Rank).ToList();
            var cur = x;
            foreach (int axis in order)
            {
                cur = cur.Sum(remaining.IndexOf(axis));
                remaining.Remove(axis);
            }
            Assert.Equal(0, cur.Rank);
            double scale = x.ToArray<double>().Sum(Math.Abs);
            Near(x.Sum().Item(), cur.Item(), scale);
            Near(x.ToArray<double>().Sum(), x.Sum().Item(), scale);
        }, iter: Iterations);
    }

    [Fact]
    public void Sum_with_keepDim_then_squeeze_equals_sum_without_keepDim()
    {
        AnyNonScalar.SelectMany(x => AxesOf(x.Rank).Select(axes => (x, axes))).Sample(p =>
        {
            var (x, axes) = p;
            var reduced = axes.Length == 0 ? Enumerable.Range(0, x.Rank).ToArray() : axes;
            var kept = x.Sum(axes, keepDim: true);
            Assert.Equal(x.Rank, kept.Rank);
            foreach (int a in reduced) Assert.Equal(1, kept.Shape[a]);
            var squeezed = kept;
            foreach (int a in reduced.OrderDescending()) squeezed = squeezed.Squeeze(a);
            var plain = x.Sum(axes);
            Assert.Equal(plain.Shape, squeezed.Shape);
            Assert.Equal(plain.ToArray<double>(), squeezed.ToArray<double>());
        }, iter: Iterations);
    }

    [Fact]
    public void Mean_is_sum_divided_by_the_number_of_reduced_elements()
    {
        AnyNonScalar.SelectMany(x => AxesOf(x.Rank).Select(axes => (x, axes))).Sample(p =>
        {
            var (x, axes) = p;
            int n = axes.Length == 0 ? x.Count : axes.Aggregate(1, (acc, a) => acc * x.Shape[a]);
            var mean = x.Mean(axes).ToArray<double>();
            var sum = x.Sum(axes).ToArray<double>();
            Assert.Equal(sum.Length, mean.Length);
            for (int i = 0; i < sum.Length; i++) Near(sum[i] / n, mean[i], Math.Abs(sum[i]));
        }, iter: Iterations);
    }

    private static readonly Gen<(Tensor X, int Axis)> TiedWithAxis =
        NonScalarShape.SelectMany(s => Gen.Select(TiedTensorOf(s), Gen.Int[0, s.Length - 1]));

    [Fact]
    public void Max_bounds_every_element_and_is_attained()
    {
        TiedWithAxis.Sample(p =>
        {
            var (x, axis) = p;
            var m = x.Max(axis, keepDim: true);
            double[] xv = x.ToArray<double>(), mv = m.ToArray<double>();
            var hit = new bool[mv.Length];
            for (int i = 0; i < xv.Length; i++)
            {
                var idx = Unravel(i, x.Shape);
                idx[axis] = 0;
                int j = Ravel(idx, m.Shape);
                Assert.True(xv[i] <= mv[j]);
                hit[j] |= xv[i] == mv[j];
            }
            Assert.All(hit, Assert.True);
            Assert.Equal(xv.Max(), x.Max().Item());
            Assert.Equal(xv.Min(), x.Min().Item());
        }, iter: Iterations);
    }

    [Fact]
    public void ArgMax_points_at_the_first_maximum()
    {
        TiedWithAxis.Sample(p =>
        {
            var (x, axis) = p;
            var idx = x.ArgMax(axis, keepDim: true);
            Assert.Equal(DType.Int64, idx.DType);
            Assert.Equal(x.Max(axis, keepDim: true).ToArray<double>(), x.Gather(axis, idx).ToArray<double>());
            // First occurrence: everything before the index along the axis is strictly smaller.
            double[] xv = x.ToArray<double>();
            long[] iv = idx.ToArray<long>();
            for (int j = 0; j < iv.Length; j++)
            {
                var at = Unravel(j, idx.Shape);
                at[axis] = (int)iv[j];
                double best = xv[Ravel(at, x.Shape)];
                for (int k = 0; k < iv[j]; k++)
                {
                    at[axis] = k;
                    Assert.True(xv[Ravel(at, x.Shape)] < best);
                }
            }
            Assert.Equal(x.Shape.Where((_, d) => d != axis), x.ArgMax(axis).Shape);
            long flat = (long)x.ArgMax().Item();
            Assert.Equal(x.Max().Item(), xv[flat]);
            Assert.Equal(Array.IndexOf(xv, xv.Max()), flat);
        }, iter: Iterations);
    }

    [Fact]
    public void Max_over_several_axes_equals_max_of_max_and_min_is_minus_max_of_minus()
    {
        AnyNonScalar.SelectMany(x => AxesOf(x.Rank).Select(axes => (x, axes))).Sample(p =>
        {
            var (x, axes) = p;
            var reduced = axes.Length == 0 ? Enumerable.Range(0, x.Rank).ToArray() : axes;
            var stepwise = x;
            foreach (int a in reduced.OrderDescending()) stepwise = stepwise.Max(a);
            Assert.Equal(x.Max(axes).ToArray<double>(), stepwise.ToArray<double>());
            Assert.Equal(x.Min(axes).ToArray<double>(), (-(-x).Max(axes)).ToArray<double>());
        }, iter: Iterations);
    }
}
