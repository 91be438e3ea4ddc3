using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Primitives;

/// <summary>
/// y = x ⋆ w + b, the 2-D cross-correlation of 002 Def 10.1.3 with channels, padding, stride, dilation and groups.
/// It is bilinear in (x, w), so its two gradients are themselves linear primitives (<see cref="Conv2dInputGrad"/>,
/// <see cref="Conv2dWeightGrad"/>) whose own VJPs close the family: any order of derivative stays in these three.
/// </summary>
internal sealed class Conv2d(ConvGeometry g) : Function
{
    public override string Name => "Conv2d";

    public static Tensor Apply(Tensor x, Tensor w, Tensor? b, ConvGeometry g)
    {
        x = x.Contiguous();
        w = w.Contiguous();
        // The convolution kernels overwrite their whole output, so it is not zeroed first (a 64×32×28×28 float output
        // is 6.4 MB of memset: ≈ 1.3 % of a LeNet training step in a profile).
        var y = Tensor.Uninitialized([g.Batch, g.OutChannels, g.OutHeight, g.OutWidth], x.DType, x.Device);
        x.Device.Backend.Conv2d(g, x.View, w.View, b?.Contiguous().View, y.View);
        return b is null ? Record(y, () => new Conv2d(g), x, w) : Record(y, () => new Conv2d(g), x, w, b);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy)
    {
        var (x, w) = (Inputs[0], Inputs[1]);
        var grads = new Tensor?[Inputs.Length];
        if (x.RequiresGrad) grads[0] = Conv2dInputGrad.Apply(dy, w, g);
        if (w.RequiresGrad) grads[1] = Conv2dWeightGrad.Apply(x, dy, g);
        if (Inputs.Length == 3 && Inputs[2].RequiresGrad) grads[2] = dy.Sum([0, 2, 3]);
        return grads;
    }

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx)
    {
        Tensor t = Tensor.ZerosLike(y);
        if (dx[0] is { } ddx) t = t + Apply(ddx, x[1], null, g);
        if (dx[1] is { } ddw) t = t + Apply(x[0], ddw, null, g);
        if (dx.Length == 3 && dx[2] is { } ddb) t = t + ddb.Reshape(1, -1, 1, 1);
        return t;
    }
}

/// <summary>x̄ = Jₓᵀ ȳ of <see cref="Conv2d"/>: a transposed convolution of ȳ with w. Bilinear in (ȳ, w).</summary>
internal sealed class Conv2dInputGrad(ConvGeometry g) : Function
{
    public override string Name => "Conv2dInputGrad";

    public static Tensor Apply(Tensor dy, Tensor w, ConvGeometry g)
    {
        dy = dy.Contiguous();
        w = w.Contiguous();
        var dx = Tensor.Uninitialized([g.Batch, g.InChannels, g.Height, g.Width], dy.DType, dy.Device);
        dy.Device.Backend.Conv2dBackwardInput(g, dy.View, w.View, dx.View);
        return Record(dx, () => new Conv2dInputGrad(g), dy, w);
    }

    // ⟨InputGrad(dy, w), u⟩ = ⟨dy, Conv(u, w)⟩ = ⟨WeightGrad(u, dy), w⟩
    internal override Tensor?[] Vjp(Tensor y, Tensor u) =>
        [Inputs[0].RequiresGrad ? Conv2d.Apply(u, Inputs[1], null, g) : null, Inputs[1].RequiresGrad ? Conv2dWeightGrad.Apply(u, Inputs[0], g) : null];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx)
    {
        Tensor t = Tensor.ZerosLike(y);
        if (dx[0] is { } d0) t = t + Apply(d0, x[1], g);
        if (dx[1] is { } d1) t = t + Apply(x[0], d1, g);
        return t;
    }
}

/// <summary>w̄ = J_wᵀ ȳ of <see cref="Conv2d"/>: the correlation of x with ȳ. Bilinear in (x, ȳ).</summary>
internal sealed class Conv2dWeightGrad(ConvGeometry g) : Function
{
    public override string Name => "Conv2dWeightGrad";

    public static Tensor Apply(Tensor x, Tensor dy, ConvGeometry g)
    {
        x = x.Contiguous();
        dy = dy.Contiguous();
        var dw = Tensor.Uninitialized([g.OutChannels, g.GroupInChannels, g.KernelH, g.KernelW], x.DType, x.Device);
        x.Device.Backend.Conv2dBackwardWeight(g, x.View, dy.View, dw.View);
        return Record(dw, () => new Conv2dWeightGrad(g), x, dy);
    }

    // ⟨WeightGrad(x, dy), u⟩ = ⟨Conv(x, u), dy⟩ = ⟨x, InputGrad(dy, u)⟩
    internal override Tensor?[] Vjp(Tensor y, Tensor u) =>
        [Inputs[0].RequiresGrad ? Conv2dInputGrad.Apply(Inputs[1], u, g) : null, Inputs[1].RequiresGrad ? Conv2d.Apply(Inputs[0], u, null, g) : null];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx)
    {
        Tensor t = Tensor.ZerosLike(y);
        if (dx[0] is { } d0) t = t + Apply(d0, x[1], g);
        if (dx[1] is { } d1) t = t + Apply(x[0], d1, g);
        return t;
    }
}
