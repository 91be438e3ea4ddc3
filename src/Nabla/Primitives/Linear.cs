using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Primitives;

/// <summary>
/// y = x·Wᵀ + b for x [m, in], W [out, in], b [out] (PyTorch's <c>F.linear</c>, 002 Def 4.1.2 row by row): one
/// product that starts from the bias (the backend's AddMm), rather than a product and then a broadcast add that reads
/// y back and writes a second buffer. The MLP on Zen 3, in-process A/B against the two ops, two runs: batch-1
/// inference 13.1 → 11.1–11.3 µs, batch 256 834–843 → 809–828 µs, a training step (batch 64) 620–626 → 609–611 µs
/// (medians; the bias was then copied over y first: Gemm's Multiply with a bias says what adding it per tile gained).
/// Bilinear in (x, W) plus b:
/// x̄ = ȳ·W, W̄ = ȳᵀ·x, b̄ = Σ over rows of ȳ; ẏ = ẋ·Wᵀ + x·Ẇᵀ + ḃ.
/// <para>
/// With <c>relu</c>, y = max(x·Wᵀ + b, 0) (a Linear layer and the ReLU after it, see <see cref="Nn.Sequential.Forward"/>):
/// each tile of the product is rectified as it completes, instead of a second pass that reads z = x·Wᵀ + b back and
/// writes another buffer. The chain rule puts step(z) in front of the rules above: z̄ = ȳ·step(z), ż = step(z)·(…),
/// and step(z) = step(y), since y &gt; 0 exactly where z &gt; 0 (NaN on neither side), so the node keeps y, which the
/// next layer holds anyway, and no z is ever written (PyTorch's ReLU backward reads its output too). The MLP's training
/// step (batch 64) on Zen 3, in-process A/B against the two ops in training, three runs: 520–522 → 514–515 µs (medians).
/// </para>
/// </summary>
internal sealed class Linear(bool relu) : Function
{
    public override string Name => relu ? "LinearRelu" : "Linear";

    public static Tensor Apply(Tensor x, Tensor w, Tensor b) => Record(Product(x, w, b, relu: false), static () => new Linear(relu: false), x, w, b);

    /// <summary>max(x·Wᵀ + b, 0), one product, one node.</summary>
    public static Tensor ApplyRelu(Tensor x, Tensor w, Tensor b) => Record(Product(x, w, b, relu: true), static () => new Linear(relu: true), x, w, b);

    private static Tensor Product(Tensor x, Tensor w, Tensor b, bool relu)
    {
        var y = Tensor.Uninitialized([x.Shape[0], w.Shape[0]], x.DType, x.Device);
        // Unrecorded (inference), the weights will be read again as they are: the backend may keep them packed.
        bool inference = !Needs(x, w, b).Grad;
        // Wᵀ as a view of W's storage (the GEMM reads it transposed in place), built here rather than by w.T, which
        // would record a graph node that nothing uses.
        x.Device.Backend.AddMm(b.View, x.View, new View(w.Storage, w.Layout.Permute(1, 0)), y.View, relu, reusesB: inference);
        return y;
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => Rules(dy, relu ? BinaryFunction.Apply(new MaskPositive(), dy, y) : dy);

    /// <summary>With a spent ȳ, z̄ = ȳ·step(y) overwrites ȳ (see <see cref="MaskPositive.IntoSpent"/>).</summary>
    internal override Tensor?[] VjpConsuming(Tensor y, Tensor dy) => Rules(dy, relu ? MaskPositive.IntoSpent(dy, y) : dy);

    /// <summary>x̄, W̄ and b̄ from z̄ (<paramref name="dz"/>: ȳ itself without ReLU, else ȳ masked by step(y)).</summary>
    private Tensor?[] Rules(Tensor dy, Tensor dz)
    {
        var (x, w, b) = (Inputs[0], Inputs[1], Inputs[2]);
        // W̄ = ȳᵀ·x comes out [out, in] row-major, the layout of W itself: the optimizer reads it with no copy.
        Tensor?[] dxs = [x.RequiresGrad ? dz.MatMul(w) : null, w.RequiresGrad ? dz.T.MatMul(x) : null, b.RequiresGrad ? dz.Sum([0]) : null];
        // A masked cotangent made here (not ȳ's memory) that no result refers to: unless it is part of a new graph
        // (create_graph), its memory goes back to the pool now, warm for the next gradient of its size.
        if (relu && !ReferenceEquals(dz.Storage, dy.Storage) && !GradMode.IsEnabled) dz.Device.Backend.Recycle(dz.Storage);
        return dxs;
    }

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx)
    {
        Tensor t = Tensor.ZerosLike(y);
        if (dx[0] is { } ddx) t = t + ddx.MatMul(x[1].T);
        if (dx[1] is { } ddw) t = t + x[0].MatMul(ddw.T);
        if (dx[2] is { } ddb) t = t + ddb;
        return relu ? BinaryFunction.Apply(new MaskPositive(), t, y) : t;
    }
}
