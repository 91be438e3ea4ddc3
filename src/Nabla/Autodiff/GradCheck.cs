using Nabla.Kernels;

namespace Nabla.Autodiff;

/// <summary>What <see cref="GradCheck.Check"/> found: the largest disagreement between analytic and numerical derivatives.</summary>
public sealed record GradCheckReport(bool Passed, double MaxVjpError, double MaxJvpError, string Detail)
{
    public override string ToString() => Detail;
}

/// <summary>
/// Gradient checking by central finite differences in float64 (002 §9.4 uses forward differences; central ones
/// have O(ε²) error instead of O(ε)). Works on any function of tensors, so users can check their own code.
/// </summary>
public static class GradCheck
{
    /// <summary>∂f/∂xᵢ for a scalar function by central differences: (f(x + εeᵢ) − f(x − εeᵢ)) / 2ε.</summary>
    public static Tensor NumericalGradient(Func<Tensor, Tensor> f, Tensor x, double eps = 1e-6)
    {
        var x0 = x.Detach().To(DType.Float64).ToArray<double>();
        var g = new double[x0.Length];
        for (int i = 0; i < x0.Length; i++) g[i] = Partial(v => f(v).Item(), x0, x.Shape, i, eps);
        return Tensor.FromArray(g).Reshape(x.Shape);
    }

    /// <summary>J·v by central differences: (f(x + εv) − f(x − εv)) / 2ε.</summary>
    public static Tensor NumericalJvp(Func<Tensor[], Tensor> f, Tensor[] x, Tensor[] v, double eps = 1e-6)
    {
        var plus = x.Select((xi, i) => xi.Detach().To(DType.Float64) + eps * v[i].To(DType.Float64)).ToArray();
        var minus = x.Select((xi, i) => xi.Detach().To(DType.Float64) - eps * v[i].To(DType.Float64)).ToArray();
        using var _ = Autograd.NoGrad();
        return (f(plus).To(DType.Float64) - f(minus).To(DType.Float64)) / (2 * eps);
    }

    private static double Partial(Func<Tensor, double> f, double[] x0, int[] shape, int i, double eps)
    {
        var p = (double[])x0.Clone();
        p[i] += eps;
        double fp = f(Tensor.FromArray(p).Reshape(shape));
        p[i] -= 2 * eps;
        double fm = f(Tensor.FromArray(p).Reshape(shape));
        return (fp - fm) / (2 * eps);
    }

    /// <summary>
    /// Compares the full Jacobian of f at float64 inputs three ways: reverse mode (one VJP per output element),
    /// forward mode (one JVP per input element) and central differences (two evaluations per input element).
    /// Passes when |analytic − numeric| ≤ atol + rtol·|numeric| everywhere. Meant for small inputs.
    /// </summary>
    public static GradCheckReport Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3)
    {
        var x = inputs.Select(t => t.Detach().To(DType.Float64)).ToArray();
        Tensor y0;
        using (Autograd.NoGrad()) y0 = f(x);
        int outputs = y0.Count;
        double maxVjp = 0, maxJvp = 0;
        string worst = "";
        for (int k = 0; k < x.Length; k++)
        {
            for (int j = 0; j < x[k].Count; j++)
            {
                // Column j of ∂y/∂x_k, numerically and by forward mode.
                var basis = x.Select((xi, i) => i == k ? Tensor.FromArray(Unit(xi.Count, j)).Reshape(xi.Shape) : Tensor.ZerosLike(xi)).ToArray();
                var numeric = NumericalJvp(f, x, basis, eps).Reshape(-1).ToArray<double>();
                var forward = Autograd.Jvp(f, x, basis).Tangent.To(DType.Float64).Reshape(-1).ToArray<double>();
                for (int o = 0; o < outputs; o++)
                    Track(ref maxJvp, ref worst, forward[o], numeric[o], atol, rtol, $"JVP of output {o} w.r.t. input {k} element {j}");
            }
        }
        for (int o = 0; o < outputs; o++)
        {
            // Row o of the Jacobian by one reverse pass with a one-hot cotangent.
            var leaves = x.Select(xi => xi.Detach().RequireGrad()).ToArray();
            var y = f(leaves);
            if (!y.RequiresGrad) continue;
            var grads = y.Backward(Tensor.FromArray(Unit(outputs, o)).Reshape(y.Shape).To(y.DType));
            for (int k = 0; k < x.Length; k++)
            {
                var g = grads.Of(leaves[k]).To(DType.Float64).Reshape(-1).ToArray<double>();
                for (int j = 0; j < g.Length; j++)
                {
                    var basis = x.Select((xi, i) => i == k ? Tensor.FromArray(Unit(xi.Count, j)).Reshape(xi.Shape) : Tensor.ZerosLike(xi)).ToArray();
                    double numeric = NumericalJvp(f, x, basis, eps).Reshape(-1).ToArray<double>()[o];
                    Track(ref maxVjp, ref worst, g[j], numeric, atol, rtol, $"VJP of output {o} w.r.t. input {k} element {j}");
                }
            }
        }
        bool passed = worst.Length == 0;
        return new GradCheckReport(passed, maxVjp, maxJvp,
            passed ? $"gradcheck passed (max |VJP − FD| = {maxVjp:g3}, max |JVP − FD| = {maxJvp:g3})" : $"gradcheck failed: {worst}");
    }

    /// <summary>Like <see cref="Check"/>, but throws with the first disagreement.</summary>
    public static void Assert(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3)
    {
        var report = Check(f, inputs, eps, atol, rtol);
        if (!report.Passed) throw new InvalidOperationException(report.Detail);
    }

    private static double[] Unit(int n, int i)
    {
        var e = new double[n];
        e[i] = 1;
        return e;
    }

    private static void Track(ref double max, ref string worst, double analytic, double numeric, double atol, double rtol, string where)
    {
        double err = Math.Abs(analytic - numeric);
        if (double.IsNaN(err)) err = analytic.Equals(numeric) ? 0 : double.PositiveInfinity;
        max = Math.Max(max, err);
        if (err > atol + rtol * Math.Abs(numeric) && worst.Length == 0)
            worst = $"{where}: analytic {analytic:g6}, numerical {numeric:g6}";
    }
}
