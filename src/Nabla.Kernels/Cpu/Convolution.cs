using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Nabla.Kernels.Cpu;

/// <summary>The kernels a convolution pass can go to (see <see cref="Convolution"/>'s dispatch).</summary>
internal enum ConvAlgorithm { Channel, Direct, Winograd, Im2Col }

/// <summary>
/// 2-D convolution (PyTorch's <c>Conv2d</c>: cross-correlation, zero padding, stride, dilation, groups) on contiguous
/// NCHW arrays. Shapes: x [N, C, H, W], w [O, C/groups, KH, KW], bias [O], y [N, O, OH, OW]; each array starts at its
/// offset. Every method overwrites its output.
/// </summary>
/// <remarks>
/// This class checks arguments (the kernels index with raw pointers) and picks an algorithm per call, for layers with
/// horizontal stride 1 on AVX-512: <see cref="ChannelConvolution"/> (vectorised along output channels) for wide layers
/// whose output rows would leave vector lanes idle, or <see cref="DirectConvolution"/> (vectorised along output rows);
/// neither builds an im2col matrix. Otherwise, for float32 stride-1 3×3 and 5×5 layers with enough channels and tiles,
/// <see cref="WinogradConvolution"/> (forward, input gradient and, for 5×5, the weight gradient: 2.8–4× fewer
/// multiplications); else <see cref="Im2ColConvolution"/>, which handles every geometry on every CPU.
/// None allocates per call beyond small bookkeeping: scratch comes from <see cref="System.Buffers.ArrayPool{T}"/>.
/// </remarks>
internal static class Convolution
{
    /// <summary>y = conv(x, w) + bias; <paramref name="bias"/> may be null.</summary>
    public static void Forward<T>(ConvGeometry g, T[] x, int xOff, T[] w, int wOff, T[]? bias, int biasOff, T[] y, int yOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        CheckInput(g, x, xOff, "x");
        CheckWeight(g, w, wOff, "w");
        if (bias is not null) CheckLength(bias, biasOff, g.OutChannels, "bias");
        CheckOutput(g, y, yOff, "y");
        switch (ForwardAlgorithm<T>(g))
        {
            case ConvAlgorithm.Channel: ChannelConvolution.Forward(g, x, xOff, w, wOff, bias, biasOff, y, yOff, threads); break;
            case ConvAlgorithm.Direct: DirectConvolution.Forward(g, x, xOff, w, wOff, bias, biasOff, y, yOff, threads); break;
            case ConvAlgorithm.Winograd:
                WinogradConvolution.Forward(g, (float[])(object)x, xOff, (float[])(object)w, wOff, (float[]?)(object?)bias, biasOff, (float[])(object)y, yOff, threads);
                break;
            default: Im2ColConvolution.Forward(g, x, xOff, w, wOff, bias, biasOff, y, yOff, threads); break;
        }
    }

    /// <summary>dx = ∂⟨conv(x, w), dy⟩/∂x: the transpose of <see cref="Forward{T}"/> in x.</summary>
    public static void BackwardInput<T>(ConvGeometry g, T[] dy, int dyOff, T[] w, int wOff, T[] dx, int dxOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        CheckOutput(g, dy, dyOff, "dy");
        CheckWeight(g, w, wOff, "w");
        CheckInput(g, dx, dxOff, "dx");
        switch (BackwardInputAlgorithm<T>(g))
        {
            case ConvAlgorithm.Channel: ChannelConvolution.BackwardInput(g, dy, dyOff, w, wOff, dx, dxOff, threads); break;
            case ConvAlgorithm.Direct: DirectConvolution.BackwardInput(g, dy, dyOff, w, wOff, dx, dxOff, threads); break;
            case ConvAlgorithm.Winograd:
                WinogradConvolution.BackwardInput(g, (float[])(object)dy, dyOff, (float[])(object)w, wOff, (float[])(object)dx, dxOff, threads);
                break;
            default: Im2ColConvolution.BackwardInput(g, dy, dyOff, w, wOff, dx, dxOff, threads); break;
        }
    }

    /// <summary>dw = ∂⟨conv(x, w), dy⟩/∂w.</summary>
    public static void BackwardWeight<T>(ConvGeometry g, T[] x, int xOff, T[] dy, int dyOff, T[] dw, int dwOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        CheckInput(g, x, xOff, "x");
        CheckOutput(g, dy, dyOff, "dy");
        CheckWeight(g, dw, dwOff, "dw");
        switch (BackwardWeightAlgorithm<T>(g))
        {
            case ConvAlgorithm.Channel: ChannelConvolution.BackwardWeight(g, x, xOff, dy, dyOff, dw, dwOff, threads); break;
            case ConvAlgorithm.Direct: DirectConvolution.BackwardWeight(g, x, xOff, dy, dyOff, dw, dwOff, threads); break;
            case ConvAlgorithm.Winograd:
                WinogradConvolution.BackwardWeight(g, (float[])(object)x, xOff, (float[])(object)dy, dyOff, (float[])(object)dw, dwOff, threads);
                break;
            default: Im2ColConvolution.BackwardWeight(g, x, xOff, dy, dyOff, dw, dwOff, threads); break;
        }
    }

    /// <summary>db[o] = Σ_{n, oh, ow} dy[n, o, oh, ow]: the bias gradient.</summary>
    public static void BackwardBias<T>(ConvGeometry g, T[] dy, int dyOff, T[] db, int dbOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        CheckOutput(g, dy, dyOff, "dy");
        CheckLength(db, dbOff, g.OutChannels, "db");
        int outPlane = g.OutHeight * g.OutWidth;
        var (outer, _) = Split(g.OutChannels, threads);
        CpuParallel.For(outer, outer, chunk =>
        {
            for (int o = ChunkStart(chunk, outer, g.OutChannels); o < ChunkStart(chunk + 1, outer, g.OutChannels); o++)
            {
                T sum = T.Zero;
                for (int n = 0; n < g.Batch; n++)
                    sum += TensorPrimitives.Sum<T>(dy.AsSpan(dyOff + (n * g.OutChannels + o) * outPlane, outPlane));
                db[dbOff + o] = sum;
            }
        });
    }

    /// <summary>
    /// Whether <see cref="DirectConvolution"/> should run <paramref name="g"/> (forward, or weight gradient). Its tiles
    /// span whole vectors of output columns and 6 or 8 output channels, so below half a vector of columns, or fewer than
    /// 4 channels per group (depthwise layers, the input gradient of an RGB layer), most of each tile is wasted and
    /// im2col does better.
    /// </summary>
    private static bool PreferDirect<T>(in ConvGeometry g)
        where T : unmanaged
        => DirectConvolution.IsAvailable<T>() && DirectConvolution.Accepts(g)
        && 2 * g.OutWidth >= Vector512<T>.Count && g.GroupOutChannels >= 4;

    /// <summary>
    /// The forward pass's algorithm: Winograd for the float32 5×5 layers it accepts with enough channels and tiles, then
    /// the AVX-512 kernels where they pay, then Winograd for the other float32 layers it accepts, else im2col.
    /// </summary>
    /// <remarks>
    /// A 5×5 Winograd tile does 2.8× fewer multiplications, which beats even the channel-vectorised AVX-512 kernel at
    /// full rate. Zen 5, in-process A/B, two threads, LeNet's conv2 (32→64 channels, 14×14) forward through Winograd
    /// instead: the training step (batch 64) 0.97–0.98 of the time in four runs; inference at batch 32 0.92, 64 0.90,
    /// 128 0.89, 256 0.97–1.0 (batch 1 has too few tiles and keeps the channel kernel). Its input and weight gradients
    /// stay with the AVX-512 kernels: through Winograd the step was 1.4 % and 8 % slower. 3×3 layers were not measured
    /// against the AVX-512 kernels and keep them.
    /// </remarks>
    internal static ConvAlgorithm ForwardAlgorithm<T>(in ConvGeometry g) where T : unmanaged
    {
        bool winograd = typeof(T) == typeof(float) && WinogradConvolution.PrefersForward(g);
        if (winograd && g.KernelH == 5) return ConvAlgorithm.Winograd;
        return ChannelConvolution.PrefersForward<T>(g) ? ConvAlgorithm.Channel
            : PreferDirect<T>(g) ? ConvAlgorithm.Direct
            : winograd ? ConvAlgorithm.Winograd
            : ConvAlgorithm.Im2Col;
    }

    /// <summary>The input gradient's algorithm (see <see cref="ForwardAlgorithm{T}"/>).</summary>
    internal static ConvAlgorithm BackwardInputAlgorithm<T>(in ConvGeometry g) where T : unmanaged
    {
        // The vectorised input gradients are forward passes over the transposed geometry, so that is the one to judge.
        if (DirectConvolution.AcceptsBackwardInput(g))
        {
            var transposed = DirectConvolution.Transposed(g);
            if (ChannelConvolution.PrefersForward<T>(transposed)) return ConvAlgorithm.Channel;
            if (PreferDirect<T>(transposed)) return ConvAlgorithm.Direct;
        }
        return typeof(T) == typeof(float) && WinogradConvolution.PrefersBackwardInput(g) ? ConvAlgorithm.Winograd : ConvAlgorithm.Im2Col;
    }

    /// <summary>The weight gradient's algorithm (see <see cref="ForwardAlgorithm{T}"/>).</summary>
    internal static ConvAlgorithm BackwardWeightAlgorithm<T>(in ConvGeometry g) where T : unmanaged
        => ChannelConvolution.PrefersBackwardWeight<T>(g) ? ConvAlgorithm.Channel
        : PreferDirect<T>(g) ? ConvAlgorithm.Direct
        : typeof(T) == typeof(float) && WinogradConvolution.PrefersBackwardWeight(g) ? ConvAlgorithm.Winograd
        : ConvAlgorithm.Im2Col;

    /// <summary>
    /// Splits <paramref name="items"/> independent work items over the thread budget: <c>Outer</c> chunks run in
    /// parallel, and when there are fewer items than threads the spare threads go to each GEMM (<c>Inner</c>).
    /// </summary>
    internal static (int Outer, int Inner) Split(int items, int threads)
    {
        int outer = Math.Max(1, Math.Min(items, threads));
        return (outer, Math.Max(1, threads / outer));
    }

    /// <summary>First item of chunk <paramref name="chunk"/> when <paramref name="items"/> are cut into <paramref name="chunks"/> near-equal runs.</summary>
    internal static int ChunkStart(int chunk, int chunks, int items) => (int)((long)chunk * items / chunks);

    /// <summary>
    /// A weight gradient summed over the batch: the items (images; Winograd's blocks of tiles) are cut into one chunk per
    /// thread; <paramref name="chunk"/> (target, target offset, first item, end item) overwrites its target with its
    /// chunk's sum. The first chunk writes straight into dw, the others into rented partial buffers added in at the end
    /// in chunk order, so the result does not depend on scheduling.
    /// </summary>
    internal static void SumOverBatch<T>(int batch, int threads, T[] dw, int dwOff, int weightSize, Action<T[], int, int, int> chunk)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, _) = Split(batch, threads);
        var partials = new T[outer - 1][];
        for (int i = 0; i < partials.Length; i++) partials[i] = ArrayPool<T>.Shared.Rent(weightSize);
        try
        {
            CpuParallel.For(outer, outer, c => chunk(c == 0 ? dw : partials[c - 1], c == 0 ? dwOff : 0,
                ChunkStart(c, outer, batch), ChunkStart(c + 1, outer, batch)));
            Span<T> result = dw.AsSpan(dwOff, weightSize);
            foreach (T[] partial in partials) TensorPrimitives.Add(result, partial.AsSpan(0, weightSize), result);
        }
        finally
        {
            foreach (T[] partial in partials) ArrayPool<T>.Shared.Return(partial);
        }
    }

    // The direct kernels index with raw pointers, so a short array must be caught here rather than by a bounds check.
    private static void CheckInput<T>(in ConvGeometry g, T[] a, int offset, string name) =>
        CheckLength(a, offset, (long)g.Batch * g.InChannels * g.Height * g.Width, name);

    private static void CheckWeight<T>(in ConvGeometry g, T[] a, int offset, string name) =>
        CheckLength(a, offset, (long)g.OutChannels * g.GroupInChannels * g.KernelH * g.KernelW, name);

    private static void CheckOutput<T>(in ConvGeometry g, T[] a, int offset, string name) =>
        CheckLength(a, offset, (long)g.Batch * g.OutChannels * g.OutHeight * g.OutWidth, name);

    private static void CheckLength<T>(T[] a, int offset, long needed, string name)
    {
        if (offset < 0 || offset + needed > a.Length)
            throw new ArgumentException($"Conv2d: {name} needs {needed} elements from offset {offset}, but its array holds {a.Length}.");
    }
}
