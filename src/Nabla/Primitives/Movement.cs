using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Primitives;

/// <summary>y = x viewed with another shape (same elements in row-major order). x̄ = ȳ reshaped back.</summary>
internal sealed class Reshape(int[] from, int[] to) : Function
{
    public override string Name => "Reshape";

    public static Tensor Apply(Tensor x, int[] shape)
    {
        var src = x.IsContiguous ? x : x.Contiguous();
        var y = new Tensor(src.Storage, new Layout(shape, Layout.ContiguousStrides(shape), src.Layout.Offset), src.Device);
        return Record(y, () => new Reshape(src.Shape, shape), src);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [dy.Reshape(from)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => dx[0]!.Reshape(to);
}

/// <summary>y = x with its dimensions reordered (a view). x̄ = ȳ permuted by the inverse permutation.</summary>
internal sealed class Permute(int[] dims) : Function
{
    public override string Name => "Permute";

    public static Tensor Apply(Tensor x, int[] dims)
    {
        var y = new Tensor(x.Storage, x.Layout.Permute(dims), x.Device);
        return Record(y, () => new Permute(dims), x);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy)
    {
        var inverse = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++) inverse[dims[i]] = i;
        return [dy.Permute(inverse)];
    }

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => dx[0]!.Permute(dims);
}

/// <summary>y = x repeated along size-1 (or new leading) dimensions, as a stride-0 view. x̄ = ȳ summed back (fan-out).</summary>
internal sealed class Expand(int[] from, int[] to) : Function
{
    public override string Name => "Expand";

    public static Tensor Apply(Tensor x, int[] shape)
    {
        var y = new Tensor(x.Storage, new Layout(shape, x.BroadcastStrides(shape), x.Layout.Offset), x.Device);
        return Record(y, () => new Expand(x.Shape, shape), x);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [dy.SumTo(from)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => dx[0]!.Expand(to);
}

/// <summary>y = x[start:end:step] along one axis (a view). Its adjoint writes ȳ into zeros of x's shape.</summary>
internal sealed class Slice(int axis, int start, int count, int step) : Function
{
    public override string Name => "Slice";

    public static Tensor Apply(Tensor x, int axis, int start, int count, int step)
    {
        var l = x.Layout;
        var shape = (int[])l.Shape.Clone();
        var strides = (int[])l.Strides.Clone();
        shape[axis] = count;
        strides[axis] *= step;
        int offset = l.Offset + (count > 0 ? start * l.Strides[axis] : 0);
        var y = new Tensor(x.Storage, new Layout(shape, strides, offset), x.Device);
        return Record(y, () => new Slice(axis, start, count, step), x);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [SliceAdjoint.Apply(dy, Inputs[0].Shape, axis, start, count, step)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => Apply(dx[0]!, axis, start, count, step);
}

/// <summary>The adjoint of <see cref="Slice"/>: y = zeros(shape) with y[start:end:step] = x along the axis.</summary>
internal sealed class SliceAdjoint(int axis, int start, int count, int step) : Function
{
    public override string Name => "SliceAdjoint";

    public static Tensor Apply(Tensor x, int[] shape, int axis, int start, int count, int step)
    {
        var y = Tensor.Empty(shape, x.DType, x.Device);
        var window = Slice.Apply(y, axis, start, count, step);
        x.Device.Backend.Copy(x.View, window.View);
        return Record(y, () => new SliceAdjoint(axis, start, count, step), x);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [Slice.Apply(dy, axis, start, count, step)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => Apply(dx[0]!, y.Shape, axis, start, count, step);
}

/// <summary>y = a dense copy of x (identity for derivatives).</summary>
internal sealed class Copy : Function
{
    public override string Name => "Copy";

    public static Tensor Apply(Tensor x)
    {
        var y = x.UninitializedLike();
        x.Device.Backend.Copy(x.View, y.View);
        return Record(y, static () => new Copy(), x);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [dy];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => dx[0]!;
}

/// <summary>y = x converted to another dtype. Gradients convert back; integer targets cut the graph.</summary>
internal sealed class Cast(DType from) : Function
{
    public override string Name => "Cast";

    public static Tensor Apply(Tensor x, DType dtype)
    {
        var y = x.UninitializedLike(dtype);
        x.Device.Backend.Copy(x.View, y.View);
        return dtype.IsFloatingPoint() && x.DType.IsFloatingPoint() ? Record(y, () => new Cast(x.DType), x) : y;
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [dy.To(from)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => dx[0]!.To(y.DType);
}
