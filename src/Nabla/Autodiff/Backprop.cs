namespace Nabla.Autodiff;

/// <summary>
/// Reverse accumulation over the recorded graph (001 §17.2.2, 002 §9.3): visit the nodes in reverse topological
/// order, so each one's cotangent is complete (fan-out summed) before its VJP pushes it to the inputs.
/// </summary>
internal static class Backprop
{
    /// <summary>
    /// Backpropagates <paramref name="seed"/> from <paramref name="output"/>. With <paramref name="stopAt"/>, those
    /// tensors are treated as leaves even when they were computed: their gradients are returned and nothing flows
    /// past them (<c>torch.autograd.grad</c> with explicit inputs).
    /// </summary>
    public static Gradients Run(Tensor output, Tensor seed, bool createGraph, IReadOnlyCollection<Tensor>? stopAt = null)
    {
        var stop = stopAt is null ? null : new HashSet<Tensor>(stopAt, ReferenceEqualityComparer.Instance);
        var order = TopologicalOrder(output, stop);
        var cotangents = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [output] = seed };
        var leaves = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        using var scope = createGraph ? default : Autograd.NoGrad();
        for (int i = order.Count - 1; i >= 0; i--)
        {
            Tensor y = order[i];
            if (!cotangents.Remove(y, out var dy)) continue;
            if (y.Node is null || (stop is not null && stop.Contains(y)))
            {
                leaves[y] = dy;
                continue;
            }
            var f = y.Node;
            var dxs = f.Vjp(y, dy);
            for (int k = 0; k < f.Inputs.Length; k++)
            {
                var x = f.Inputs[k];
                var dx = dxs[k];
                if (dx is null || !x.RequiresGrad) continue;
                if (!ReferenceEquals(dx.Device, x.Device) && dx.Device.Type != x.Device.Type)
                    throw new InvalidOperationException($"{f.Name}: gradient computed on {dx.Device} for an input on {x.Device}");
                if (!dx.Shape.AsSpan().SequenceEqual(x.Shape))
                    throw new InvalidOperationException($"{f.Name}: VJP returned a gradient of shape {Tensor.ShapeString(dx.Shape)} for an input of shape {Tensor.ShapeString(x.Shape)}");
                cotangents[x] = cotangents.TryGetValue(x, out var acc) ? acc + dx : dx;
            }
        }
        return new Gradients(leaves, createGraph ? [] : Owned(leaves, order, seed));
    }

    /// <summary>
    /// The leaf gradients whose memory only the result refers to, each storage once: the ones
    /// <see cref="Gradients.Dispose"/> may hand back. Not the seed's, nor any graph tensor's (a VJP may pass on the
    /// cotangent it was given, or a view of it). With <c>createGraph</c> none: the gradients are part of a new graph.
    /// </summary>
    private static Tensor[] Owned(Dictionary<Tensor, Tensor> leaves, List<Tensor> order, Tensor seed)
    {
        var taken = new HashSet<Kernels.Storage>(ReferenceEqualityComparer.Instance) { seed.Storage };
        foreach (var t in order)
        {
            taken.Add(t.Storage);
            foreach (var x in t.Node?.Inputs ?? []) taken.Add(x.Storage);
        }
        var owned = new List<Tensor>(leaves.Count);
        foreach (var g in leaves.Values)
            if (taken.Add(g.Storage)) owned.Add(g);
        return [.. owned];
    }

    /// <summary>Tensors that require gradients and lead to <paramref name="output"/>, inputs before outputs (iterative DFS: deep graphs must not overflow the stack).</summary>
    private static List<Tensor> TopologicalOrder(Tensor output, HashSet<Tensor>? stop = null)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor T, int Next)>();
        stack.Push((output, 0));
        visited.Add(output);
        while (stack.Count > 0)
        {
            var (t, next) = stack.Pop();
            var inputs = stop is not null && stop.Contains(t) ? [] : t.Node?.Inputs ?? [];
            if (next < inputs.Length)
            {
                stack.Push((t, next + 1));
                var x = inputs[next];
                if (x.RequiresGrad && visited.Add(x)) stack.Push((x, 0));
            }
            else
            {
                order.Add(t);
            }
        }
        return order;
    }

    /// <summary>Number of recorded nodes reachable from <paramref name="output"/> and the elements they keep alive for the backward pass.</summary>
    public static (int Nodes, long SavedElements) Measure(Tensor output)
    {
        var order = TopologicalOrder(output);
        var saved = new HashSet<Kernels.Storage>(ReferenceEqualityComparer.Instance);
        int nodes = 0;
        foreach (var t in order)
        {
            if (t.Node is null) continue;
            nodes++;
            saved.Add(t.Storage);
            foreach (var x in t.Node.Inputs) saved.Add(x.Storage);
        }
        return (nodes, saved.Sum(s => (long)s.Length));
    }
}
