using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Primitives;

/// <summary>
/// Per-example cross-entropy of logits x [N, C] at class indices t [N] (Int64, checked by the caller):
/// ℓᵢ = −log softmax(xᵢ)[tᵢ] (002 eq 8.10), computed as the log-softmax kernel and a gather, one graph node instead of
/// five (log-softmax, reshape, gather, reshape, negation), whose backward passes were nine small ops more: on a
/// classifier's [64, 10] logits each op costs more in dispatch than in arithmetic. With p = softmax(x):
/// x̄ᵢ = ℓ̄ᵢ·(pᵢ − onehot(tᵢ)); ℓ̇ᵢ = Σ_c p_ic·ẋ_ic − ẋᵢ[tᵢ]. Zen 3, in-process A/B, the mean loss over [64, 10] forward
/// and backward: 16.3–16.4 → 12.5–12.6 µs (medians; 28 → 31 µs when the backward still built a one-hot matrix).
/// </summary>
/// <param name="classes">The class indices as a column [N, 1], as the gather and the scatter read them.</param>
/// <param name="logProbs">The forward's log softmax(x), for the backward pass.</param>
internal sealed class CrossEntropy(Tensor classes, Tensor logProbs) : Function
{
    public override string Name => "CrossEntropy";

    public static Tensor Apply(Tensor logits, Tensor target)
    {
        int n = logits.Shape[0];
        var backend = logits.Device.Backend;
        var logProbs = Tensor.Uninitialized(logits.Shape, logits.DType, logits.Device);
        backend.LogSoftmax(logits.View, 1, logProbs.View);
        var classes = target.Reshape(n, 1);
        var picked = Tensor.Uninitialized([n, 1], logits.DType, logits.Device);
        backend.Gather(logProbs.View, classes.View, 1, picked.View);
        var loss = Tensor.Uninitialized([n], logits.DType, logits.Device);
        backend.Unary(UnaryOp.Neg, new View(picked.Storage, Layout.Contiguous([n])), loss.View);
        return Record(loss, () => new CrossEntropy(classes, logProbs), logits);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy)
    {
        var logits = Inputs[0];
        var column = dy.Reshape(-1, 1);
        if (GradMode.IsEnabled || logits.Tangent is not null || dy.Tangent is not null)
        {
            // Building a graph (create_graph) or carrying tangents (forward-over-reverse, a Hessian-vector product): p must
            // come from x through ops that record and push tangents, not from the saved log-probabilities.
            var onehot = classes.Reshape(-1).OneHot(logits.Shape[1], logits.DType);
            return [(logits.LogSoftmax(1).Exp() - onehot) * column];
        }
        // ℓ̄ᵢ·pᵢ from the forward's log-probabilities, then −ℓ̄ᵢ added at each row's class, into that fresh result.
        var dx = logProbs.Exp() * column;
        dx.Device.Backend.ScatterAdd((-column).View, classes.View, 1, dx.View);
        return [dx];
    }

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx)
    {
        var p = x[0].LogSoftmax(1).Exp();
        return (p * dx[0]!).Sum([1]) - dx[0]!.Gather(1, classes).Reshape(-1);
    }
}
