using Nabla.Autodiff;

namespace Nabla.Primitives;

/// <summary>
/// y = log softmax of x along an axis: x − log Σ exp(x), one kernel instead of the ten ops of its composition (max,
/// shift, exp, sum, log, …), which on a classifier's [64, 10] logits cost more in dispatch than in arithmetic: Zen 3,
/// forward 11.6 → 3.0 µs, cross-entropy forward and backward 27 → 17 µs (medians). With s = exp(y) the softmax:
/// x̄ = ȳ − s·Σ ȳ (sums along the axis); ẏ = ẋ − Σ s·ẋ.
/// </summary>
internal sealed class LogSoftmax(int axis) : Function
{
    public override string Name => "LogSoftmax";

    public static Tensor Apply(Tensor x, int axis)
    {
        var y = Tensor.Uninitialized(x.Shape, x.DType, x.Device);
        x.Device.Backend.LogSoftmax(x.View, axis, y.View);
        return Record(y, () => new LogSoftmax(axis), x);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [dy - y.Exp() * dy.Sum([axis], keepDim: true)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => dx[0]! - (y.Exp() * dx[0]!).Sum([axis], keepDim: true);
}
