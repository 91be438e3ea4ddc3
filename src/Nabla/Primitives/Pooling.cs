using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Primitives;

/// <summary>
/// y = max over each pooling window (002 §10.3). The kernel records which input won each window; the gradient is
/// routed there (<see cref="MaxPool2dBackward"/>), and forward mode gathers the winners' tangents.
/// </summary>
internal sealed class MaxPool2d(PoolGeometry g, IndexBuffer argmax) : Function
{
    public override string Name => "MaxPool2d";

    public static Tensor Apply(Tensor x, PoolGeometry g)
    {
        x = x.Contiguous();
        var y = Tensor.Uninitialized([g.Batch, g.Channels, g.OutHeight, g.OutWidth], x.DType, x.Device);
        var (grad, tangent) = Needs(x);
        if (!grad && !tangent)
        {
            // Nothing will route a gradient or gather a tangent (inference): the winners need not be stored (LeNet
            // batch-1 inference on Zen 3, in-process A/B: 210–212 → 207–210 µs).
            x.Device.Backend.MaxPool2d(g, x.View, y.View, argmax: null);
            return y;
        }
        var argmax = x.Device.Backend.AllocateIndices(y.Count);
        x.Device.Backend.MaxPool2d(g, x.View, y.View, argmax);
        return Record(y, () => new MaxPool2d(g, argmax), x);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [MaxPool2dBackward.Apply(dy, g, argmax)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => GatherWinners(dx[0]!, g, argmax);

    /// <summary>out[n,c,i,j] = t[n,c, argmax[n,c,i,j]]: the adjoint of routing gradients to the winners.</summary>
    internal static Tensor GatherWinners(Tensor t, PoolGeometry g, IndexBuffer argmax)
    {
        var planes = t.Reshape(g.Batch * g.Channels, g.Height * g.Width);
        var index = Tensor.FromArray(Array.ConvertAll(argmax.Data, i => (long)i), g.Batch * g.Channels, g.OutHeight * g.OutWidth);
        return planes.Gather(1, index).Reshape(g.Batch, g.Channels, g.OutHeight, g.OutWidth);
    }
}

/// <summary>x̄ = ȳ routed to each window's winner (linear in ȳ); its adjoint gathers the winners.</summary>
internal sealed class MaxPool2dBackward(PoolGeometry g, IndexBuffer argmax) : Function
{
    public override string Name => "MaxPool2dBackward";

    public static Tensor Apply(Tensor dy, PoolGeometry g, IndexBuffer argmax)
    {
        dy = dy.Contiguous();
        var dx = Tensor.Uninitialized([g.Batch, g.Channels, g.Height, g.Width], dy.DType, dy.Device); // the kernel clears it
        dy.Device.Backend.MaxPool2dBackward(g, dy.View, argmax, dx.View);
        return Record(dx, () => new MaxPool2dBackward(g, argmax), dy);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor u) => [MaxPool2d.GatherWinners(u, g, argmax)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => Apply(dx[0]!, g, argmax);
}

/// <summary>y = mean over each window (divisor KH·KW). Linear, so ẏ = AvgPool(ẋ) and x̄ spreads ȳ evenly back.</summary>
internal sealed class AvgPool2d(PoolGeometry g) : Function
{
    public override string Name => "AvgPool2d";

    public static Tensor Apply(Tensor x, PoolGeometry g)
    {
        x = x.Contiguous();
        var y = Tensor.Uninitialized([g.Batch, g.Channels, g.OutHeight, g.OutWidth], x.DType, x.Device);
        x.Device.Backend.AvgPool2d(g, x.View, y.View);
        return Record(y, () => new AvgPool2d(g), x);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [AvgPool2dBackward.Apply(dy, g)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => Apply(dx[0]!, g);
}

/// <summary>The adjoint of <see cref="AvgPool2d"/>; its own adjoint is average pooling again.</summary>
internal sealed class AvgPool2dBackward(PoolGeometry g) : Function
{
    public override string Name => "AvgPool2dBackward";

    public static Tensor Apply(Tensor dy, PoolGeometry g)
    {
        dy = dy.Contiguous();
        var dx = Tensor.Uninitialized([g.Batch, g.Channels, g.Height, g.Width], dy.DType, dy.Device); // the kernel clears it
        dy.Device.Backend.AvgPool2dBackward(g, dy.View, dx.View);
        return Record(dx, () => new AvgPool2dBackward(g), dy);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor u) => [AvgPool2d.Apply(u, g)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => Apply(dx[0]!, g);
}
