using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Tests.Autodiff;

/// <summary>
/// Exact gradients at points where the op is not differentiable. Finite differences are meaningless there, so each
/// test pins the convention (PyTorch's, and 002 eq (9.73) for ReLU) and checks reverse and forward mode agree on it.
/// </summary>
public class KinkTests
{
    private static Tensor F64(params double[] v) => Tensor.FromArray(v);

    /// <summary>The gradient of Σ f(x) at x, by reverse mode and by forward mode with v = 1 (for elementwise f).</summary>
    private static (double[] Reverse, double[] Forward) ElementwiseGrad(Func<Tensor, Tensor> f, Tensor x)
    {
        var leaf = x.Detach().RequireGrad();
        var reverse = f(leaf).Sum().Backward().Of(leaf).ToArray<double>();
        var forward = Autograd.Jvp(f, x, Tensor.OnesLike(x)).Tangent.ToArray<double>();
        return (reverse, forward);
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void Relu_gradient_is_zero_at_zero(DType dtype)
    {
        var x = F64(-1, 0, 1).To(dtype);
        var (reverse, forward) = ElementwiseGrad(t => t.Relu(), x);
        Assert.Equal([0.0, 0.0, 1.0], reverse);
        Assert.Equal([0.0, 0.0, 1.0], forward);
    }

    [Fact]
    public void Relu_of_negative_zero_has_zero_gradient()
    {
        var (reverse, _) = ElementwiseGrad(t => t.Relu(), F64(-0.0));
        Assert.Equal([0.0], reverse);
    }

    [Fact]
    public void Abs_gradient_is_sign_and_zero_at_zero()
    {
        var (reverse, forward) = ElementwiseGrad(t => t.Abs(), F64(-2, 0, 3));
        Assert.Equal([-1.0, 0.0, 1.0], reverse);
        Assert.Equal([-1.0, 0.0, 1.0], forward);
    }

    [Fact]
    public void Maximum_tie_splits_gradient_in_half()
    {
        var a = F64(1, 2, 3).RequireGrad();
        var b = F64(1, 5, 0).RequireGrad();
        var grads = a.Maximum(b).Sum().Backward();
        Assert.Equal([0.5, 0.0, 1.0], grads.Of(a).ToArray<double>());
        Assert.Equal([0.5, 1.0, 0.0], grads.Of(b).ToArray<double>());
    }

    [Fact]
    public void Minimum_tie_splits_gradient_in_half()
    {
        var a = F64(1, 2, 3).RequireGrad();
        var b = F64(1, 5, 0).RequireGrad();
        var grads = a.Minimum(b).Sum().Backward();
        Assert.Equal([0.5, 1.0, 0.0], grads.Of(a).ToArray<double>());
        Assert.Equal([0.5, 0.0, 1.0], grads.Of(b).ToArray<double>());
    }

    [Fact]
    public void Maximum_tie_forward_mode_uses_the_same_half_weights()
    {
        // ẏ = ½ȧ + ½ḃ at a tie.
        var (_, tangent) = Autograd.Jvp(x => x[0].Maximum(x[1]), [F64(2, 2), F64(2, 1)], [F64(1, 10), F64(3, 30)]);
        Assert.Equal([2.0, 10.0], tangent.ToArray<double>());
    }

    [Fact]
    public void Maximum_of_x_with_itself_has_gradient_one()
    {
        // Both operands are the same tensor: ½ + ½ = 1, as for the identity function.
        var x = F64(-1, 0, 2).RequireGrad();
        var g = x.Maximum(x).Sum().Backward().Of(x).ToArray<double>();
        Assert.Equal([1.0, 1.0, 1.0], g);
    }

    [Fact]
    public void Maximum_tie_against_broadcast_scalar_sums_the_halves()
    {
        // relu written as maximum(x, 0): at x = 0 half the gradient goes to x, the other half to the scalar 0.
        var x = F64(-1, 0, 0, 2).RequireGrad();
        var zero = Tensor.Scalar(0, DType.Float64).RequireGrad();
        var grads = x.Maximum(zero).Sum().Backward();
        Assert.Equal([0.0, 0.5, 0.5, 1.0], grads.Of(x).ToArray<double>());
        Assert.Equal(1.0 + 0.5 + 0.5, grads.Of(zero).Item());
    }

    [Fact]
    public void Max_reduction_ties_share_the_gradient_equally()
    {
        var x = F64(3, 1, 3, 3, 2).RequireGrad();
        var g = x.Max().Backward().Of(x).ToArray<double>();
        Assert.Equal([1.0 / 3, 0, 1.0 / 3, 1.0 / 3, 0], g);
    }

    [Fact]
    public void Max_reduction_along_axis_shares_per_row()
    {
        // Row 0 ties twice, row 1 has a unique maximum, row 2 is constant (all four tie).
        var x = Tensor.FromArray(new double[,] { { 5, 5, 1, 0 }, { 0, 1, 2, 3 }, { 7, 7, 7, 7 } }).RequireGrad();
        var w = F64(1, 10, 100);
        var g = (x.Max(1) * w).Sum().Backward().Of(x).ToArray<double>();
        Assert.Equal([0.5, 0.5, 0, 0, 0, 0, 0, 10, 25, 25, 25, 25], g);
    }

    [Fact]
    public void Max_reduction_with_keepDim_and_ties_over_two_axes()
    {
        var x = Tensor.FromArray(new double[] { 4, 1, 4, 4, 0, 2, 2, 1 }, 2, 2, 2).RequireGrad();
        // Max over axes 0 and 2 for each j: j=0 reads {4,1,0,2} → one winner; j=1 reads {4,4,2,1} → two winners.
        var y = x.Max([0, 2], keepDim: true);
        Assert.Equal([1, 2, 1], y.Shape);
        var g = y.Sum().Backward().Of(x).ToArray<double>();
        Assert.Equal([1.0, 0, 0.5, 0.5, 0, 0, 0, 0], g);
    }

    [Fact]
    public void Min_reduction_ties_share_the_gradient_equally()
    {
        var x = F64(0, 2, 0, 5).RequireGrad();
        var g = x.Min().Backward().Of(x).ToArray<double>();
        Assert.Equal([0.5, 0, 0.5, 0], g);
    }

    [Fact]
    public void Max_reduction_ties_in_forward_mode_average_the_tangents()
    {
        var (_, tangent) = Autograd.Jvp(t => t.Max(), F64(3, 1, 3), F64(10, 100, 20));
        Assert.Equal(15.0, tangent.Item(), 12);
    }

    [Fact]
    public void Clamp_passes_gradient_at_both_boundaries()
    {
        // PyTorch convention: gradient 1 where min ≤ x ≤ max, 0 strictly outside.
        var x = F64(-2, -1, 0, 1, 2);
        var (reverse, forward) = ElementwiseGrad(t => t.Clamp(-1, 1), x);
        Assert.Equal([0.0, 1.0, 1.0, 1.0, 0.0], reverse);
        Assert.Equal([0.0, 1.0, 1.0, 1.0, 0.0], forward);
    }

    [Fact]
    public void Clamp_with_one_bound_passes_gradient_at_that_bound()
    {
        Assert.Equal([0.0, 1.0, 1.0], ElementwiseGrad(t => t.Clamp(min: 0.5), F64(0, 0.5, 1)).Reverse);
        Assert.Equal([1.0, 1.0, 0.0], ElementwiseGrad(t => t.Clamp(max: 0.5), F64(0, 0.5, 1)).Reverse);
    }

    [Fact]
    public void Clamp_values_are_clipped()
    {
        Assert.Equal([-1.0, -1.0, 0.0, 0.5, 1.0], F64(-2, -1, 0, 0.5, 2).Clamp(-1, 1).ToArray<double>());
    }

    [Fact]
    public void Sign_and_step_have_zero_gradient_everywhere_including_zero()
    {
        var x = F64(-1, 0, 1);
        Assert.Equal([0.0, 0.0, 0.0], ElementwiseGrad(t => t.Sign(), x).Reverse);
        Assert.Equal([0.0, 0.0, 0.0], ElementwiseGrad(t => t.Step(), x).Reverse);
    }

    [Fact]
    public void Sqrt_gradient_at_zero_is_infinite()
    {
        var (reverse, _) = ElementwiseGrad(t => t.Sqrt(), F64(0, 4));
        Assert.Equal(double.PositiveInfinity, reverse[0]);
        Assert.Equal(0.25, reverse[1]);
    }

    [Fact]
    public void Pow_exponent_gradient_at_zero_base_is_zero_not_nan()
    {
        // ∂(aᵇ)/∂b = aᵇ·log a, taken as 0 where a = 0 (0·(−∞) would be NaN).
        var a = F64(0, 2).RequireGrad();
        var b = F64(2, 3).RequireGrad();
        var grads = a.Pow(b).Sum().Backward();
        Assert.Equal([0.0, 8 * Math.Log(2)], grads.Of(b).ToArray<double>());
        Assert.Equal([0.0, 12.0], grads.Of(a).ToArray<double>());
    }
}
