namespace Nabla.Autodiff;

/// <summary>
/// Gradient checkpointing (001 §17.2.2, last paragraph): a segment runs without recording, so none of its
/// intermediates are kept; the backward pass recomputes the segment from its inputs and backpropagates through the
/// recomputation. Memory falls from the segment's intermediates to its inputs, at the cost of one more forward.
/// </summary>
public static class Checkpoint
{
    /// <summary>
    /// Runs <paramref name="segment"/> on <paramref name="inputs"/> as one checkpointed node. Every tensor the segment
    /// differentiates with respect to, parameters included, must be among the inputs (the segment may read them from
    /// its closure, as long as it is the same tensor); otherwise the backward pass reports it.
    /// </summary>
    public static Tensor Run(Func<Tensor[], Tensor> segment, params Tensor[] inputs)
    {
        Tensor y;
        using (Autograd.NoGrad()) y = segment(inputs);
        y = y.Detach();
        if (!GradMode.IsEnabled || inputs.Any(x => x.RequiresGrad || x.Tangent is not null))
            return Function.Record(y, () => new Segment(segment), inputs);
        // No input needs a gradient, but the segment may still read parameters from its closure: keep the node, so
        // the backward pass recomputes the segment and reports any such parameter instead of silently dropping it.
        y.Node = new Segment(segment) { Inputs = inputs };
        y.RequiresGrad = true;
        return y;
    }

    private sealed class Segment(Func<Tensor[], Tensor> segment) : Function
    {
        public override string Name => "Checkpoint";

        internal override Tensor?[] Vjp(Tensor y, Tensor dy)
        {
            // When the outer pass records itself (createGraph), recording is on here too; keep it for the inner pass,
            // so the gradients stay connected to the inputs for higher derivatives.
            bool createGraph = GradMode.IsEnabled;
            var recomputed = RecomputeWithGrad(Inputs);
            if (!recomputed.RequiresGrad) return new Tensor?[Inputs.Length];
            var grads = Backprop.Run(recomputed, dy, createGraph, stopAt: Inputs);
            foreach (var (t, _) in grads.All)
                if (Array.IndexOf(Inputs, t) < 0)
                    throw new InvalidOperationException("Checkpoint: the segment depends on a tensor that requires gradients but was not passed as an input; pass it (e.g. the module's parameters) to Checkpoint.Run");
            return Inputs.Select(x => x.RequiresGrad ? grads[x] : null).ToArray();
        }

        /// <summary>Reruns the segment on the original inputs with recording on, even inside a NoGrad backward pass.</summary>
        private Tensor RecomputeWithGrad(Tensor[] inputs)
        {
            int depth = 0;
            while (!GradMode.IsEnabled)
            {
                GradMode.Restore();
                depth++;
            }
            try
            {
                return segment(inputs);
            }
            finally
            {
                for (int i = 0; i < depth; i++) GradMode.Disable();
            }
        }

        internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) =>
            Autograd.Jvp(segment, x, x.Select((xi, i) => dx[i] ?? Tensor.ZerosLike(xi)).ToArray()).Tangent;
    }
}
