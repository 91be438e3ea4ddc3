using System.Numerics;
using System.Runtime.CompilerServices;

namespace Nabla.Optim;

/// <summary>
/// The per-element Adam update shared by <see cref="Adam"/> (coupled L2, <c>l2</c>) and
/// <see cref="AdamW"/> (decoupled shrink factor, <c>shrink</c>), at update count <c>t</c>.
/// State: s0 = m (exp_avg), s1 = v (exp_avg_sq), s2 = v̂max (max_exp_avg_sq, AMSGrad only). The arithmetic follows
/// PyTorch's single-tensor implementation step by step, so float32 results agree to rounding.
/// </summary>
internal readonly struct AdamRule<T> : IFusedUpdate<T> where T : unmanaged, INumberBase<T>
{
    private readonly Vector<T> _beta1, _oneMinusBeta1, _beta2, _oneMinusBeta2, _eps, _stepSize, _bias2Sqrt, _l2, _shrink;
    private readonly bool _hasL2, _hasShrink, _amsGrad;

    public AdamRule(double lr, double beta1, double beta2, double eps, double l2, double shrink, bool amsGrad, long t)
    {
        double bias1 = 1 - Math.Pow(beta1, t);
        double bias2 = 1 - Math.Pow(beta2, t);
        _beta1 = FusedLoop.Splat<T>(beta1);
        _oneMinusBeta1 = FusedLoop.Splat<T>(1 - beta1);
        _beta2 = FusedLoop.Splat<T>(beta2);
        _oneMinusBeta2 = FusedLoop.Splat<T>(1 - beta2);
        _eps = FusedLoop.Splat<T>(eps);
        _stepSize = FusedLoop.Splat<T>(lr / bias1);
        _bias2Sqrt = FusedLoop.Splat<T>(Math.Sqrt(bias2));
        _l2 = FusedLoop.Splat<T>(l2);
        _shrink = FusedLoop.Splat<T>(shrink);
        _hasL2 = l2 != 0;
        _hasShrink = shrink != 1;
        _amsGrad = amsGrad;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> m, ref Vector<T> v, ref Vector<T> vMax)
    {
        if (_hasShrink) p *= _shrink;
        if (_hasL2) g += _l2 * p;
        m = _beta1 * m + _oneMinusBeta1 * g;
        v = _beta2 * v + _oneMinusBeta2 * (g * g);
        Vector<T> second = v;
        if (_amsGrad)
        {
            vMax = Vector.Max(vMax, v);
            second = vMax;
        }
        Vector<T> denom = Vector.SquareRoot(second) / _bias2Sqrt + _eps;
        p -= _stepSize * (m / denom);
    }
}
