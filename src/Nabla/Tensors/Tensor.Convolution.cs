using Nabla.Kernels;

namespace Nabla;

public sealed partial class Tensor
{
    /// <summary>
    /// 2-D cross-correlation (no kernel flip) of this [N, C, H, W] input with weight [O, C/groups, KH, KW] and an
    /// optional bias [O]: PyTorch's <c>conv2d</c>. Output [N, O, OH, OW] with OH = ⌊(H + 2p − d(KH−1) − 1)/s⌋ + 1.
    /// </summary>
    public Tensor Conv2d(Tensor weight, Tensor? bias = null, (int H, int W)? stride = null, (int H, int W)? padding = null, (int H, int W)? dilation = null, int groups = 1)
    {
        if (Rank != 4) throw new ArgumentException($"Conv2d: expected input [N, C, H, W], got {ShapeString(Shape)}");
        if (weight.Rank != 4) throw new ArgumentException($"Conv2d: expected weight [O, C/groups, KH, KW], got {ShapeString(weight.Shape)}");
        CheckSameDevice(weight, "Conv2d");
        var (s, p, d) = (stride ?? (1, 1), padding ?? (0, 0), dilation ?? (1, 1));
        var g = new ConvGeometry(Shape[0], Shape[1], Shape[2], Shape[3], weight.Shape[0], weight.Shape[2], weight.Shape[3], s.H, s.W, p.H, p.W, d.H, d.W, groups);
        g.Validate();
        if (weight.Shape[1] != g.GroupInChannels)
            throw new ArgumentException($"Conv2d: weight {ShapeString(weight.Shape)} expects {weight.Shape[1] * groups} input channels, but the input {ShapeString(Shape)} has {Shape[1]}");
        if (bias is not null && (bias.Rank != 1 || bias.Count != weight.Shape[0]))
            throw new ArgumentException($"Conv2d: bias must be [{weight.Shape[0]}], got {ShapeString(bias.Shape)}");
        if (weight.DType != DType || (bias is not null && bias.DType != DType))
            throw new ArgumentException($"Conv2d: input, weight and bias dtypes differ ({DType}, {weight.DType}, {bias?.DType})");
        return Primitives.Conv2d.Apply(this, weight, bias, g);
    }

    private PoolGeometry Pool(string op, (int H, int W) kernel, (int H, int W)? stride, (int H, int W)? padding)
    {
        if (Rank != 4) throw new ArgumentException($"{op}: expected input [N, C, H, W], got {ShapeString(Shape)}");
        var s = stride ?? kernel;
        var p = padding ?? (0, 0);
        var g = new PoolGeometry(Shape[0], Shape[1], Shape[2], Shape[3], kernel.H, kernel.W, s.H, s.W, p.H, p.W);
        g.Validate();
        return g;
    }

    /// <summary>Max over KH×KW windows (stride defaults to the kernel size; padding counts as −∞). [N, C, H, W] → [N, C, OH, OW].</summary>
    public Tensor MaxPool2d((int H, int W) kernel, (int H, int W)? stride = null, (int H, int W)? padding = null) =>
        Primitives.MaxPool2d.Apply(this, Pool("MaxPool2d", kernel, stride, padding));

    /// <summary>Mean over KH×KW windows (zero padding counted, PyTorch's default). [N, C, H, W] → [N, C, OH, OW].</summary>
    public Tensor AvgPool2d((int H, int W) kernel, (int H, int W)? stride = null, (int H, int W)? padding = null) =>
        Primitives.AvgPool2d.Apply(this, Pool("AvgPool2d", kernel, stride, padding));
}
