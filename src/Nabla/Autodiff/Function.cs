namespace Nabla.Autodiff;

/// <summary>
/// A recorded application of a differentiable primitive: a node of the computational graph (001 §17.2.2).
/// Each primitive states, in one place, how to push a cotangent backwards (<see cref="Vjp"/>) and a tangent
/// forwards (<see cref="Jvp"/>). Both rules are written with differentiable tensor operations, so derivatives of
/// derivatives (Hessian-vector products, double backward) come for free.
/// </summary>
public abstract class Function
{
    /// <summary>The operands, as they were passed (with their tangents, which forward-over-reverse needs).</summary>
    internal Tensor[] Inputs { get; set; } = [];

    /// <summary>The primitive's name, as shown in graphs and error messages.</summary>
    public abstract string Name { get; }

    /// <summary>Given ȳ (the cotangent of <paramref name="y"/>), returns x̄ᵢ for each input; null entries mean zero.</summary>
    internal abstract Tensor?[] Vjp(Tensor y, Tensor dy);

    /// <summary>
    /// <see cref="Vjp"/> given a ȳ whose memory nothing will read after this call: no other cotangent, leaf gradient or
    /// graph tensor shares it, and <see cref="Backprop"/> hands it back to the pool afterwards unless a result refers to
    /// it. A rule may then write into ȳ instead of a fresh buffer (which the pool may hand out cold), and may return it so
    /// overwritten. By default, <see cref="Vjp"/>.
    /// </summary>
    internal virtual Tensor?[] VjpConsuming(Tensor y, Tensor dy) => Vjp(y, dy);

    /// <summary>Given ẋᵢ for each input (null for zero), returns ẏ. <paramref name="x"/> holds the inputs without tangents.</summary>
    internal abstract Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx);

    /// <summary>
    /// Connects <paramref name="y"/>, computed by this primitive from <paramref name="inputs"/>, to the graph when any
    /// input requires gradients, and computes its tangent when any input carries one.
    /// </summary>
    internal static Tensor Record(Tensor y, Func<Function> make, params ReadOnlySpan<Tensor> inputs)
    {
        var (grad, tangent) = Needs(inputs);
        return grad || tangent ? Attach(y, make(), inputs, grad, tangent) : y;
    }

    /// <summary>
    /// <see cref="Record(Tensor, Func{Function}, ReadOnlySpan{Tensor})"/> for a primitive whose node the caller has
    /// already made (elementwise ops read their kernel from it).
    /// </summary>
    internal static Tensor Record(Tensor y, Function f, params ReadOnlySpan<Tensor> inputs)
    {
        var (grad, tangent) = Needs(inputs);
        return grad || tangent ? Attach(y, f, inputs, grad, tangent) : y;
    }

    /// <summary>Whether a result of <paramref name="inputs"/> joins the graph (an input requires gradients and recording is on) and carries a tangent.</summary>
    internal static (bool Grad, bool Tangent) Needs(params ReadOnlySpan<Tensor> inputs)
    {
        bool grad = false, tangent = false;
        foreach (var x in inputs)
        {
            grad |= x.RequiresGrad;
            tangent |= x.Tangent is not null;
        }
        return (grad && GradMode.IsEnabled, tangent);
    }

    private static Tensor Attach(Tensor y, Function f, ReadOnlySpan<Tensor> inputs, bool grad, bool tangent)
    {
        f.Inputs = inputs.ToArray();
        if (grad)
        {
            y.Node = f;
            y.RequiresGrad = true;
        }
        if (tangent)
        {
            var primals = new Tensor[inputs.Length];
            var tangents = new Tensor?[inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
            {
                primals[i] = inputs[i].Primal();
                tangents[i] = inputs[i].Tangent;
            }
            y.Tangent = f.Jvp(primals, y, tangents);
        }
        return y;
    }

    public override string ToString() => Name;
}
