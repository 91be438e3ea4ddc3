namespace Nabla.Autodiff;

/// <summary>Entry points of automatic differentiation beyond <see cref="Tensor.Backward(Tensor?, bool)"/>.</summary>
public static class Autograd
{
    /// <summary>A scope in which operations are not recorded (<c>torch.no_grad()</c>): <c>using (Autograd.NoGrad()) { … }</c>.</summary>
    public static NoGradScope NoGrad() => new(active: true);

    /// <summary>
    /// Forward mode: evaluates f at x and the directional derivative J_f(x)·v in the same pass, each primitive
    /// pushing the tangent forward with its JVP rule.
    /// </summary>
    public static (Tensor Value, Tensor Tangent) Jvp(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        var (value, tangents) = Jvp(xs => f(xs[0]), [x], [v]);
        return (value, tangents);
    }

    /// <summary>Forward mode for several inputs: returns f(x) and Σᵢ ∂f/∂xᵢ · vᵢ.</summary>
    public static (Tensor Value, Tensor Tangent) Jvp(Func<Tensor[], Tensor> f, Tensor[] x, Tensor[] v)
    {
        if (x.Length != v.Length) throw new ArgumentException($"Jvp: {x.Length} inputs but {v.Length} tangents");
        var duals = new Tensor[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            if (!x[i].Shape.AsSpan().SequenceEqual(v[i].Shape))
                throw new ArgumentException($"Jvp: tangent {i} has shape {Tensor.ShapeString(v[i].Shape)} but its input has shape {Tensor.ShapeString(x[i].Shape)}");
            if (x[i].Tangent is not null) throw new NotSupportedException("Jvp: nested forward mode is not supported");
            duals[i] = new Tensor(x[i].Storage, x[i].Layout, x[i].Device) { RequiresGrad = x[i].RequiresGrad, Node = x[i].Node, Tangent = v[i].To(x[i].DType) };
        }
        var y = f(duals);
        var tangent = y.Tangent ?? Tensor.ZerosLike(y);
        return (y.Primal(), tangent);
    }

    /// <summary>The gradient of a scalar function, as a function of its value (reverse mode).</summary>
    public static Tensor Grad(Func<Tensor, Tensor> f, Tensor x)
    {
        var leaf = x.Detach().RequireGrad();
        return f(leaf).Backward().Of(leaf);
    }

    /// <summary>
    /// Hessian-vector product H_f(x)·v of a scalar function, by forward-over-reverse: the reverse pass runs on values
    /// that carry tangents, so the gradient comes out with its directional derivative ∇²f(x)·v attached. Costs about
    /// one extra gradient, never forms H.
    /// </summary>
    public static Tensor Hvp(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        var leaf = x.Detach().RequireGrad();
        var (_, hv) = Jvp(xs =>
        {
            var g = f(xs[0]).Backward().Of(xs[0]);
            return g;
        }, [leaf], [v]);
        return hv;
    }

    /// <summary>Hessian-vector product by reverse-over-reverse: differentiates ⟨∇f(x), v⟩ with a recorded backward pass.</summary>
    public static Tensor HvpReverse(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        var leaf = x.Detach().RequireGrad();
        var g = f(leaf).Backward(createGraph: true).Of(leaf);
        return (g * v.Detach()).Sum().Backward().Of(leaf);
    }

    /// <summary>Counts the recorded nodes behind <paramref name="output"/> and the tensor elements they keep alive (what checkpointing saves).</summary>
    public static (int Nodes, long SavedElements) GraphSize(Tensor output) => Backprop.Measure(output);
}
