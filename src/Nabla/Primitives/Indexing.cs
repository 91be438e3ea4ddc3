using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Primitives;

/// <summary>y[…i…] = x[…index[…i…]…] along an axis. x̄ = ȳ scatter-added into zeros; ẏ = gather(ẋ).</summary>
internal sealed class Gather(int axis, Tensor index) : Function
{
    public override string Name => "Gather";

    public static Tensor Apply(Tensor x, int axis, Tensor index)
    {
        var y = Tensor.Uninitialized(index.Shape, x.DType, x.Device);
        x.Device.Backend.Gather(x.View, index.View, axis, y.View);
        return Record(y, () => new Gather(axis, index), x);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [ScatterAdd.Apply(Tensor.ZerosLike(Inputs[0]), axis, index, dy)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => Apply(dx[0]!, axis, index);
}

/// <summary>
/// y = the slices of x at a 1-D index along an axis (<c>torch.index_select</c>). x̄ = ȳ scatter-added into zeros at
/// those slices (a slice picked twice gets both); ẏ = index_select(ẋ).
/// </summary>
internal sealed class IndexSelect(int axis, Tensor index) : Function
{
    public override string Name => "IndexSelect";

    public static Tensor Apply(Tensor x, int axis, Tensor index)
    {
        var shape = (int[])x.Shape.Clone();
        shape[axis] = index.Count;
        var y = Tensor.Uninitialized(shape, x.DType, x.Device);
        x.Device.Backend.IndexSelect(x.View, index.View, axis, y.View);
        return Record(y, () => new IndexSelect(axis, index), x);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy)
    {
        // The index spread over ȳ's shape (a stride-0 view, nothing copied), as scatter-add takes one index per element.
        var along = Enumerable.Repeat(1, dy.Rank).ToArray();
        along[axis] = index.Count;
        return [ScatterAdd.Apply(Tensor.ZerosLike(Inputs[0]), axis, index.Reshape(along).Expand(dy.Shape), dy)];
    }

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => Apply(dx[0]!, axis, index);
}

/// <summary>y = x with src added at index positions along an axis. x̄ = ȳ; s̄rc = gather(ȳ).</summary>
internal sealed class ScatterAdd(int axis, Tensor index) : Function
{
    public override string Name => "ScatterAdd";

    public static Tensor Apply(Tensor x, int axis, Tensor index, Tensor src)
    {
        var y = Copy.Apply(x.Detach());
        x.Device.Backend.ScatterAdd(src.View, index.View, axis, y.View);
        return Record(y, () => new ScatterAdd(axis, index), x, src);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [dy, Gather.Apply(dy, axis, index)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx)
    {
        var dbase = dx[0] ?? Tensor.ZerosLike(y);
        return dx[1] is { } ds ? Apply(dbase, axis, index, ds) : dbase;
    }
}

/// <summary>y = cond ? a : b (broadcast). ā = ȳ where cond, b̄ = ȳ elsewhere.</summary>
internal sealed class Where(Tensor cond) : Function
{
    public override string Name => "Where";

    public static Tensor Apply(Tensor cond, Tensor a, Tensor b)
    {
        a.CheckSameDevice(b, "Where");
        if (cond.DType != DType.Bool) cond = cond.Ne(0);
        var dtype = DTypeExtensions.Promote(a.DType, b.DType);
        if (a.DType != dtype) a = a.To(dtype);
        if (b.DType != dtype) b = b.To(dtype);
        var shape = Shapes.Broadcast(Shapes.Broadcast(cond.Shape, a.Shape, "Where"), b.Shape, "Where");
        var y = Tensor.Empty(shape, dtype, a.Device);
        a.Device.Backend.Where(cond.BroadcastView(shape), a.BroadcastView(shape), b.BroadcastView(shape), y.View);
        return Record(y, () => new Where(cond), a, b);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy)
    {
        var zero = Tensor.Scalar(0, dy.DType, dy.Device);
        return [Inputs[0].RequiresGrad ? Apply(cond, dy, zero).SumTo(Inputs[0].Shape) : null,
                Inputs[1].RequiresGrad ? Apply(cond, zero, dy).SumTo(Inputs[1].Shape) : null];
    }

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx)
    {
        var zero = Tensor.Scalar(0, y.DType, y.Device);
        return Apply(cond, dx[0] ?? zero, dx[1] ?? zero).Expand(y.Shape);
    }
}

/// <summary>y = the inputs joined along an axis. Each x̄ᵢ is its slice of ȳ; ẏ joins the tangents (zeros where absent).</summary>
internal sealed class Cat(int axis) : Function
{
    public override string Name => "Cat";

    public static Tensor Apply(Tensor[] xs, int axis)
    {
        var shape = (int[])xs[0].Shape.Clone();
        shape[axis] = xs.Sum(x => x.Shape[axis]);
        var y = Tensor.Uninitialized(shape, xs[0].DType, xs[0].Device);
        int offset = 0;
        foreach (var x in xs)
        {
            int n = x.Shape[axis];
            if (n > 0) x.Device.Backend.Copy(x.View, Slice.Apply(y, axis, offset, n, 1).View);
            offset += n;
        }
        return Record(y, () => new Cat(axis), xs);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy)
    {
        var result = new Tensor?[Inputs.Length];
        int offset = 0;
        for (int i = 0; i < Inputs.Length; i++)
        {
            int n = Inputs[i].Shape[axis];
            if (Inputs[i].RequiresGrad) result[i] = dy.Narrow(axis, offset, n);
            offset += n;
        }
        return result;
    }

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) =>
        Apply(x.Select((xi, i) => dx[i] ?? Tensor.ZerosLike(xi)).ToArray(), axis);
}
