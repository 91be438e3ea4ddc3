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
        return Function.Record(y, () => new Segment(segment), inputs);
    }

    private sealed class Segment(Func<Tensor[], Tensor> segment) : Function
    {
        public override string Name => "Checkpoint";

        internal override Tensor?[] Vjp(Tensor y, Tensor dy)
        {
            // Leaves are reused as they are (parameters keep their identity); recorded inputs become fresh leaves.
            var leaves = Inputs.Select(x => x.IsLeaf ? x : x.Detach().RequireGrad()).ToArray();
            var recomputed = RecomputeWithGrad(leaves);
            if (!recomputed.RequiresGrad) return new Tensor?[Inputs.Length];
            var grads = recomputed.Backward(dy);
            foreach (var (t, _) in grads.All)
                if (Array.IndexOf(leaves, t) < 0)
                    throw new InvalidOperationException("Checkpoint: the segment depends on a tensor that requires gradients but was not passed as an input; pass it (e.g. the module's parameters) to Checkpoint.Run");
            return leaves.Select((l, i) => Inputs[i].RequiresGrad ? grads[l] : null).ToArray();
        }

        private Tensor RecomputeWithGrad(Tensor[] leaves)
        {
            // The outer backward pass may be running under NoGrad; the recomputation must be recorded regardless.
            int depth = 0;
            while (!GradMode.IsEnabled)
            {
                GradMode.Restore();
                depth++;
            }
            try
            {
                return segment(leaves);
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
