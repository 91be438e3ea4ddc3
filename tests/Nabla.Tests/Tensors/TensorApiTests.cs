using Nabla.Kernels;

namespace Nabla.Tests.Tensors;

/// <summary>Creation, random generation, dtypes, printing and error messages of the public Tensor API.</summary>
public class TensorApiTests
{
    // ---------- creation ----------

    [Fact]
    public void Zeros_ones_and_full_have_the_requested_shape_dtype_and_value()
    {
        var z = Tensor.Zeros(2, 3);
        Assert.Equal([2, 3], z.Shape);
        Assert.Equal(DType.Float32, z.DType);
        Assert.All(z.ToArray<float>(), v => Assert.Equal(0f, v));

        var o = Tensor.Ones([4], DType.Float64);
        Assert.Equal(DType.Float64, o.DType);
        Assert.Equal([1.0, 1.0, 1.0, 1.0], o.ToArray<double>());

        var f = Tensor.Full([2, 2], -2.5);
        Assert.Equal([-2.5f, -2.5f, -2.5f, -2.5f], f.ToArray<float>());
        Assert.Equal([7L, 7L], Tensor.Full([2], 7, DType.Int64).ToArray<long>());

        var s = Tensor.Scalar(3.25, DType.Float64);
        Assert.Equal(0, s.Rank);
        Assert.Equal(1, s.Count);
        Assert.Equal(3.25, s.Item());
    }

    [Fact]
    public void Like_constructors_copy_shape_and_dtype()
    {
        var t = Tensor.Zeros([3, 1], DType.Float64);
        foreach (var like in new[] { Tensor.ZerosLike(t), Tensor.OnesLike(t), Tensor.FullLike(t, 9) })
        {
            Assert.Equal(t.Shape, like.Shape);
            Assert.Equal(DType.Float64, like.DType);
        }
        Assert.Equal([9.0, 9, 9], Tensor.FullLike(t, 9).ToArray<double>());
    }

    [Fact]
    public void Zero_sized_dimensions_are_allowed()
    {
        var e = Tensor.Zeros(2, 0, 3);
        Assert.Equal(0, e.Count);
        Assert.Empty(e.ToArray<float>());
        Assert.Equal([2, 3], e.Sum(1).Shape);
        Assert.Equal([0.0f, 0, 0, 0, 0, 0], e.Sum(1).ToArray<float>());
    }

    [Fact]
    public void Arange_follows_pytorch()
    {
        var ints = Tensor.Arange(5);
        Assert.Equal(DType.Int64, ints.DType);
        Assert.Equal([0L, 1, 2, 3, 4], ints.ToArray<long>());
        Assert.Equal([5.0, 3, 1], Tensor.Arange(5, 0, -2, DType.Float64).ToArray<double>());
        Assert.Equal([0.0, 0.3, 0.6, 0.9], Tensor.Arange(0, 1, 0.3, DType.Float64).ToArray<double>().Select(v => Math.Round(v, 12)));
        Assert.Empty(Tensor.Arange(3, 3, 1).ToArray<float>());
        Assert.Empty(Tensor.Arange(3, 0, 1).ToArray<float>());
        Assert.Throws<ArgumentException>(() => Tensor.Arange(0, 1, 0));
    }

    [Fact]
    public void Linspace_includes_both_ends_exactly()
    {
        Assert.Equal([0f, 0.25f, 0.5f, 0.75f, 1f], Tensor.Linspace(0, 1, 5).ToArray<float>());
        var l = Tensor.Linspace(-1, 0.3, 7, DType.Float64).ToArray<double>();
        Assert.Equal(-1.0, l[0]);
        Assert.Equal(0.3, l[^1]); // exactly, not −1 + 6·h
        Assert.Equal([2.0], Tensor.Linspace(2, 5, 1, DType.Float64).ToArray<double>());
        Assert.Empty(Tensor.Linspace(2, 5, 0).ToArray<float>());
        Assert.Throws<ArgumentException>(() => Tensor.Linspace(0, 1, -1));
    }

    [Fact]
    public void Eye_is_square_or_rectangular_identity()
    {
        Assert.Equal([1f, 0, 0, 0, 1, 0, 0, 0, 1], Tensor.Eye(3).ToArray<float>());
        var r = Tensor.Eye(2, 3, DType.Float64);
        Assert.Equal([2, 3], r.Shape);
        Assert.Equal([1.0, 0, 0, 0, 1, 0], r.ToArray<double>());
        Assert.Equal([1.0, 0, 0, 1, 0, 0], Tensor.Eye(3, 2, DType.Float64).ToArray<double>());
    }

    [Fact]
    public void FromArray_2d_is_row_major_and_copies_its_input()
    {
        var data = new float[,] { { 1, 2, 3 }, { 4, 5, 6 } };
        var t = Tensor.FromArray(data);
        Assert.Equal([2, 3], t.Shape);
        Assert.Equal(DType.Float32, t.DType);
        Assert.Equal([1f, 2, 3, 4, 5, 6], t.ToArray<float>());
        data[0, 0] = 100;
        Assert.Equal(1f, t.ToArray<float>()[0]);

        var flat = new double[] { 1, 2, 3, 4 };
        var m = Tensor.FromArray(flat, 2, 2);
        flat[3] = -1;
        Assert.Equal([1.0, 2, 3, 4], m.ToArray<double>());
        Assert.Equal([4], Tensor.FromArray(flat).Shape); // default 1-D
        Assert.Equal(DType.Int64, Tensor.FromArray(new[] { 1, 2 }).DType);
        Assert.Equal(DType.Bool, Tensor.FromArray(new[] { true }).DType);
    }

    [Fact]
    public void FromArray_with_a_mismatched_shape_names_both_counts()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.FromArray(new float[] { 1, 2, 3 }, 2, 2));
        Assert.Contains("FromArray", e.Message);
        Assert.Contains("[2, 2]", e.Message);
        Assert.Contains("4", e.Message);
        Assert.Contains("3", e.Message);
    }

    // ---------- random generation ----------

    [Fact]
    public void Same_seed_gives_the_same_tensor_and_different_seeds_differ()
    {
        var a = Tensor.Randn([3, 4], new Generator(123));
        var b = Tensor.Randn([3, 4], new Generator(123));
        var c = Tensor.Randn([3, 4], new Generator(124));
        Assert.Equal(a.ToArray<float>(), b.ToArray<float>());
        Assert.NotEqual(a.ToArray<float>(), c.ToArray<float>());

        var g = new Generator(5);
        var first = Tensor.Rand([4], g).ToArray<float>();
        var second = Tensor.Rand([4], g).ToArray<float>();
        Assert.NotEqual(first, second); // the generator advances
    }

    [Fact]
    public void Generator_first_outputs_are_pinned()
    {
        // xoshiro256** seeded by SplitMix64; reference values computed with an independent implementation of the
        // published algorithms, so a change of algorithm or platform behaviour is caught.
        var g = new Generator(0);
        Assert.Equal(11091344671253066420UL, g.NextUInt64());
        Assert.Equal(13793997310169335082UL, g.NextUInt64());
        Assert.Equal(1900383378846508768UL, g.NextUInt64());

        Assert.Equal([0.08386297105988216, 0.3789802506626686, 0.6800434110281394, 0.9246929453253876],
            Tensor.Rand([4], new Generator(42), DType.Float64).ToArray<double>());
        // Box–Muller with u1 = 1 − U₁, u2 = U₂ (two uniforms per sample).
        Assert.Equal([-0.2790239910251981, 1.8997685786889567, 2.136306014732201],
            Tensor.Randn([3], new Generator(7), DType.Float64).ToArray<double>());
        Assert.Equal([2, 5, 1, 0, 3, 4], new Generator(3).Permutation(6)); // pinned from a run
    }

    [Fact]
    public void Float32_and_float64_draws_from_one_seed_agree_to_float_precision()
    {
        var d = Tensor.Randn([16], new Generator(9), DType.Float64).ToArray<double>();
        var f = Tensor.Randn([16], new Generator(9)).ToArray<float>();
        for (int i = 0; i < d.Length; i++) Assert.Equal((float)d[i], f[i]);
    }

    [Fact]
    public void Uniform_and_normal_respect_their_parameters()
    {
        var u = Tensor.Uniform([1000], -2, 3, new Generator(1), DType.Float64).ToArray<double>();
        Assert.All(u, v => Assert.InRange(v, -2, 3));
        Assert.InRange(u.Average(), 0.3, 0.7);
        var n = Tensor.Normal([4000], 10, 0.5, new Generator(2), DType.Float64).ToArray<double>();
        double mean = n.Average(), sd = Math.Sqrt(n.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, 9.95, 10.05);
        Assert.InRange(sd, 0.47, 0.53);
    }

    [Fact]
    public void Generator_state_round_trips()
    {
        var g = new Generator(77);
        g.NextUInt64();
        var saved = g.State;
        var expected = Enumerable.Range(0, 5).Select(_ => g.NextUInt64()).ToArray();
        var h = new Generator(0) { State = saved };
        Assert.Equal(expected, Enumerable.Range(0, 5).Select(_ => h.NextUInt64()).ToArray());
        Assert.Throws<ArgumentException>(() => h.State = [0, 0, 0, 0]);
    }

    [Fact]
    public void NextInt_and_permutation_stay_in_range()
    {
        var g = new Generator(8);
        var counts = new int[3];
        for (int i = 0; i < 3000; i++) counts[g.NextInt(3)]++;
        Assert.All(counts, c => Assert.InRange(c, 850, 1150));
        Assert.Equal(Enumerable.Range(0, 10), g.Permutation(10).Order());
        Assert.Throws<ArgumentOutOfRangeException>(() => g.NextInt(0));
    }

    // ---------- dtypes ----------

    [Fact]
    public void Float_to_integer_truncates_toward_zero_and_to_bool_tests_nonzero()
    {
        var x = Tensor.FromArray(new float[] { 1.7f, -1.7f, 2.5f, 0f });
        Assert.Equal([1L, -1, 2, 0], x.To(DType.Int64).ToArray<long>());
        Assert.Equal([true, true, true, false], x.To(DType.Bool).ToArray<bool>());
        Assert.Equal([1f, 0f], Tensor.FromArray(new[] { true, false }).To(DType.Float32).ToArray<float>());
        Assert.Equal([3.0, -4.0], Tensor.FromArray(new long[] { 3, -4 }).To(DType.Float64).ToArray<double>());
    }

    [Fact]
    public void Float64_to_float32_rounds_to_nearest()
    {
        Assert.Equal((double)0.1f, Tensor.FromArray(new[] { 0.1 }).To(DType.Float32).To(DType.Float64).Item());
        Assert.Equal(16777216.0, Tensor.FromArray(new[] { 16777217.0 }).To(DType.Float32).Item());
    }

    [Fact]
    public void To_the_same_dtype_returns_the_tensor_itself()
    {
        var x = Tensor.Zeros(2);
        Assert.Same(x, x.To(DType.Float32));
    }

    [Fact]
    public void Binary_ops_promote_like_pytorch()
    {
        var i = Tensor.FromArray(new long[] { 1, 2 });
        var f = Tensor.FromArray(new float[] { 0.5f, 0.5f });
        var d = Tensor.FromArray(new double[] { 0.25, 0.25 });
        Assert.Equal(DType.Float32, (i + f).DType);
        Assert.Equal(DType.Float64, (f + d).DType);
        Assert.Equal(DType.Int64, (i * 2).DType);       // integral Python-style scalar keeps int64
        Assert.Equal(DType.Float32, (i * 2.5).DType);   // a fractional scalar makes it float
        Assert.Equal(DType.Float32, (f * 2.0).DType);   // scalars do not widen float32
        var q = i / Tensor.FromArray(new long[] { 2, 2 });
        Assert.Equal(DType.Float32, q.DType);           // true division
        Assert.Equal([0.5f, 1f], q.ToArray<float>());
        Assert.Equal(DType.Bool, (f > 0.1).DType);
        Assert.Equal(DType.Float32, i.Exp().DType);
        Assert.Equal(DType.Float32, i.Mean().DType);
        Assert.Equal(DType.Int64, Tensor.FromArray(new[] { true, false, true }).Sum().DType);
        Assert.Equal(2.0, Tensor.FromArray(new[] { true, false, true }).Sum().Item());
    }

    // ---------- printing ----------

    public static TheoryData<string, Tensor> Printed => new()
    {
        { "tensor([1., 2., 3.])", Tensor.FromArray(new float[] { 1, 2, 3 }) },
        { "tensor([[1.5000, 2.0000]])", Tensor.FromArray(new float[,] { { 1.5f, 2f } }) },
        { "tensor([1., 2.], dtype=torch.float64)", Tensor.FromArray(new double[] { 1, 2 }) },
        { "tensor([[ 1., -2.],\n        [ 3.,  4.]])", Tensor.FromArray(new float[,] { { 1, -2 }, { 3, 4 } }) },
        { "tensor([[[0., 0.],\n         [0., 0.]],\n\n        [[0., 0.],\n         [0., 0.]]])", Tensor.Zeros(2, 2, 2) },
        { "tensor([ True, False])", Tensor.FromArray(new[] { true, false }) },
        { "tensor([  1, -20,   3])", Tensor.FromArray(new long[] { 1, -20, 3 }) },
        { "tensor(3.5000)", Tensor.Scalar(3.5) },
        { "tensor(2., dtype=torch.float64)", Tensor.Scalar(2, DType.Float64) },
        { "tensor([1.0000e-05, 1.0000e+00])", Tensor.FromArray(new float[] { 1e-5f, 1f }) },
        { "tensor([  0.1000, 100.0000])", Tensor.FromArray(new float[] { 0.1f, 100f }) },
        { "tensor([   nan,    inf, 1.5000])", Tensor.FromArray(new float[] { float.NaN, float.PositiveInfinity, 1.5f }) },
        { "tensor([])", Tensor.Zeros(0) },
        { "tensor([], size=(2, 0))", Tensor.Zeros(2, 0) },
        { "tensor([], dtype=torch.int64)", Tensor.Zeros([0], DType.Int64) },
        { "tensor([1.0000e+00, 2.0000e+03])", Tensor.FromArray(new float[] { 1, 2000 }) }, // integers, but max/min > 1000
        { "tensor([   1., 1000.])", Tensor.FromArray(new float[] { 1, 1000 }) },
        { "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])", Tensor.Arange(2000) }, // more than 1000 elements
        { "tensor([[0., 0.],\n        [0., 0.],\n        [0., 0.],\n        ...,\n        [0., 0.],\n        [0., 0.],\n        [0., 0.]])",
            Tensor.Zeros(501, 2) },
        { "tensor([1., 2.], requires_grad=True)", Tensor.FromArray(new float[] { 1, 2 }).RequireGrad() },
    };

    [Theory]
    [MemberData(nameof(Printed))]
    public void ToString_prints_like_pytorch(string expected, Tensor t) => Assert.Equal(expected, t.ToString());

    [Fact]
    public void ToString_names_the_recorded_operation()
    {
        var y = Tensor.FromArray(new float[] { 1, 2 }).RequireGrad() * 2;
        Assert.StartsWith("tensor([2., 4.], grad_fn=<Mul", y.ToString());
    }

    // ---------- error messages name the op and the shapes ----------

    [Fact]
    public void MatMul_shape_mismatch_names_op_and_both_shapes()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros(3, 4).MatMul(Tensor.Zeros(5, 2)));
        Assert.Contains("MatMul", e.Message);
        Assert.Contains("[3, 4]", e.Message);
        Assert.Contains("[5, 2]", e.Message);
    }

    [Fact]
    public void MatMul_batch_mismatch_and_scalar_operands_are_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3, 4).MatMul(Tensor.Zeros(3, 4, 5)));
        Assert.Contains("MatMul", e.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Scalar(1).MatMul(Tensor.Zeros(2)));
    }

    [Fact]
    public void Broadcast_failure_names_op_and_shapes()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3) + Tensor.Zeros(4));
        Assert.Contains("Add", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4]", e.Message);
        Assert.Contains("broadcast", e.Message);

        var m = Assert.Throws<ArgumentException>(() => Tensor.Zeros(3, 1).Mul(Tensor.Zeros(2, 4)));
        Assert.Contains("Mul", m.Message);
        Assert.Contains("[3, 1]", m.Message);
        Assert.Contains("[2, 4]", m.Message);
    }

    [Fact]
    public void Bad_reshape_names_the_shapes_and_counts()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3).Reshape(4, 2));
        Assert.Contains("Reshape", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4, 2]", e.Message);
        Assert.Contains("6", e.Message);
        Assert.Contains("8", e.Message);

        Assert.Contains("Reshape", Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3).Reshape(-1, 4)).Message);
        Assert.Contains("-1", Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3).Reshape(-1, -1)).Message);
    }

    [Fact]
    public void Out_of_range_axis_names_op_axis_and_rank()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros(2, 3).Sum(2));
        Assert.Contains("Sum", e.Message);
        Assert.Contains("dimension 2", e.Message);
        Assert.Contains("rank 2", e.Message);

        Assert.Contains("dimension -3", Assert.ThrowsAny<ArgumentException>(() => Tensor.Zeros(2, 3).Softmax(-3)).Message);
        Assert.Contains("Transpose", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros(2, 3).Transpose(0, 5)).Message);
        Assert.Contains("Unsqueeze", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros(2, 3).Unsqueeze(4)).Message);
        Assert.Contains("Select", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros(2, 3).Select(1, 3)).Message);
        Assert.Contains("Slice", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros(2, 3).Slice(1, 1, 5)).Message);
    }

    [Fact]
    public void Out_of_range_indices_name_the_op_index_and_size()
    {
        var e = Assert.Throws<IndexOutOfRangeException>(() => Tensor.Zeros(2, 2).Gather(1, Tensor.FromArray(new long[] { 2, 0 }, 2, 1)));
        Assert.Contains("Gather", e.Message);
        Assert.Contains("index 2", e.Message);
        Assert.Contains("size 2", e.Message);
        Assert.Contains("-1", Assert.Throws<IndexOutOfRangeException>(() => Tensor.Zeros(3).IndexSelect(0, Tensor.FromArray(new long[] { -1 }, 1))).Message);
        Assert.Contains("ScatterAdd", Assert.Throws<IndexOutOfRangeException>(() => Tensor.Zeros(3).ScatterAdd(0, Tensor.FromArray(new long[] { 7 }, 1), Tensor.Ones(1))).Message);
    }

    [Fact]
    public void Other_shape_errors_name_their_op()
    {
        Assert.Contains("Permute", Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3).Permute(0, 0)).Message);
        Assert.Contains("Expand", Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3).Expand(4, 3)).Message);
        Assert.Contains("Cat", Assert.Throws<ArgumentException>(() => Tensor.Cat([Tensor.Zeros(2, 3), Tensor.Zeros(2, 4)])).Message);
        Assert.Contains("Stack", Assert.Throws<ArgumentException>(() => Tensor.Stack([Tensor.Zeros(2), Tensor.Zeros(3)])).Message);
        Assert.Contains("Gather", Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3).Gather(1, Tensor.Zeros([2, 3], DType.Float32))).Message);
        Assert.Contains("Sum", Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3).Sum([1, -1])).Message);
        Assert.Contains("Item", Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(2).Item()).Message);
        Assert.Contains("OneHot", Assert.Throws<ArgumentException>(() => Tensor.FromArray(new long[] { 0, 3 }).OneHot(3)).Message);
        Assert.Contains("Split", Assert.Throws<ArgumentException>(() => Tensor.Zeros(5).Split([2, 2])).Message);
    }
}
