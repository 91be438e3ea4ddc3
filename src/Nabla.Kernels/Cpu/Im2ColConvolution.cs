using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// The general convolution algorithm behind <see cref="Convolution"/>: im2col + <see cref="Gemm"/>, for every
/// geometry. Same layouts and contract as <see cref="Convolution"/>; arguments are assumed checked there.
/// </summary>
/// <remarks>
/// One work item is one (image, group) pair: its im2col matrix col has Cg·KH·KW rows, one per (c, kh, kw), and OH·OW
/// columns, one per output pixel, so that the group's slice of y (Og × OH·OW) is the group's weights (Og × Cg·KH·KW)
/// times col. Items are split into one contiguous chunk per thread; each chunk rents one col buffer from
/// <see cref="ArrayPool{T}"/>, so steady-state training touches no fresh memory. Only when there are fewer items than
/// threads do the GEMMs themselves get more than one thread.
/// </remarks>
internal static class Im2ColConvolution
{
    /// <summary>y = conv(x, w) + bias; <paramref name="bias"/> may be null.</summary>
    public static void Forward<T>(ConvGeometry g, T[] x, int xOff, T[] w, int wOff, T[]? bias, int biasOff, T[] y, int yOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new Sizes(g);
        var (outer, inner) = Convolution.Split(g.Batch * g.Groups, threads);
        CpuParallel.For(outer, outer, chunk =>
        {
            T[]? col = s.Pointwise ? null : ArrayPool<T>.Shared.Rent(s.ColRows * s.OutPlane);
            try
            {
                for (int item = Convolution.ChunkStart(chunk, outer, s.Items); item < Convolution.ChunkStart(chunk + 1, outer, s.Items); item++)
                {
                    int n = item / g.Groups, grp = item % g.Groups;
                    int xPos = xOff + (n * g.InChannels + grp * s.Cg) * s.InPlane;
                    int yPos = yOff + (n * g.OutChannels + grp * s.Og) * s.OutPlane;
                    int wPos = wOff + grp * s.Og * s.ColRows;
                    // y[n, group] (Og × OH·OW) = w[group] (Og × Cg·KH·KW) · col (Cg·KH·KW × OH·OW).
                    if (col is null)
                    {
                        MatMul(false, false, s.Og, s.OutPlane, s.ColRows, w, wPos, s.ColRows, x, xPos, s.InPlane, false, y, yPos, s.OutPlane, inner);
                    }
                    else
                    {
                        Im2Col(s, x.AsSpan(xPos, s.Cg * s.InPlane), col);
                        MatMul(false, false, s.Og, s.OutPlane, s.ColRows, w, wPos, s.ColRows, col, 0, s.OutPlane, false, y, yPos, s.OutPlane, inner);
                    }
                    if (bias is not null)
                    {
                        for (int o = 0; o < s.Og; o++)
                        {
                            Span<T> plane = y.AsSpan(yPos + o * s.OutPlane, s.OutPlane);
                            TensorPrimitives.Add(plane, bias[biasOff + grp * s.Og + o], plane);
                        }
                    }
                }
            }
            finally
            {
                if (col is not null) ArrayPool<T>.Shared.Return(col);
            }
        });
    }

    /// <summary>dx = ∂⟨conv(x, w), dy⟩/∂x: the transpose of <see cref="Forward{T}"/> in x.</summary>
    public static void BackwardInput<T>(ConvGeometry g, T[] dy, int dyOff, T[] w, int wOff, T[] dx, int dxOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new Sizes(g);
        var (outer, inner) = Convolution.Split(g.Batch * g.Groups, threads);
        CpuParallel.For(outer, outer, chunk =>
        {
            T[]? col = s.Pointwise ? null : ArrayPool<T>.Shared.Rent(s.ColRows * s.OutPlane);
            try
            {
                for (int item = Convolution.ChunkStart(chunk, outer, s.Items); item < Convolution.ChunkStart(chunk + 1, outer, s.Items); item++)
                {
                    int n = item / g.Groups, grp = item % g.Groups;
                    int dxPos = dxOff + (n * g.InChannels + grp * s.Cg) * s.InPlane;
                    int dyPos = dyOff + (n * g.OutChannels + grp * s.Og) * s.OutPlane;
                    int wPos = wOff + grp * s.Og * s.ColRows;
                    // dcol (Cg·KH·KW × OH·OW) = w[group]ᵀ · dy[n, group]; col2im then sums each entry back into the
                    // input pixel it was copied from. A pointwise conv's col is the input itself, so dcol is dx.
                    if (col is null)
                    {
                        MatMul(true, false, s.ColRows, s.OutPlane, s.Og, w, wPos, s.ColRows, dy, dyPos, s.OutPlane, false, dx, dxPos, s.InPlane, inner);
                    }
                    else
                    {
                        MatMul(true, false, s.ColRows, s.OutPlane, s.Og, w, wPos, s.ColRows, dy, dyPos, s.OutPlane, false, col, 0, s.OutPlane, inner);
                        Col2Im(s, col, dx.AsSpan(dxPos, s.Cg * s.InPlane));
                    }
                }
            }
            finally
            {
                if (col is not null) ArrayPool<T>.Shared.Return(col);
            }
        });
    }

    /// <summary>dw = ∂⟨conv(x, w), dy⟩/∂w = Σₙ dy[n, group] · col(x[n, group])ᵀ per group.</summary>
    /// <remarks>
    /// The sum over images runs one batch chunk per thread (<see cref="Convolution.SumOverBatch{T}"/>), so the result
    /// does not depend on scheduling.
    /// </remarks>
    public static void BackwardWeight<T>(ConvGeometry g, T[] x, int xOff, T[] dy, int dyOff, T[] dw, int dwOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new Sizes(g);
        int weightSize = g.OutChannels * s.ColRows;
        var (_, inner) = Convolution.Split(g.Batch, threads);
        Convolution.SumOverBatch(g.Batch, threads, dw, dwOff, weightSize, (target, targetOff, first, end) =>
        {
            T[]? col = s.Pointwise ? null : ArrayPool<T>.Shared.Rent(s.ColRows * s.OutPlane);
            try
            {
                for (int n = first; n < end; n++)
                {
                    for (int grp = 0; grp < g.Groups; grp++)
                    {
                        int xPos = xOff + (n * g.InChannels + grp * s.Cg) * s.InPlane;
                        int dyPos = dyOff + (n * g.OutChannels + grp * s.Og) * s.OutPlane;
                        int tPos = targetOff + grp * s.Og * s.ColRows;
                        // dw[group] (Og × Cg·KH·KW) += dy[n, group] (Og × OH·OW) · colᵀ (OH·OW × Cg·KH·KW).
                        if (col is null)
                        {
                            MatMul(false, true, s.Og, s.ColRows, s.OutPlane, dy, dyPos, s.OutPlane, x, xPos, s.InPlane, n != first, target, tPos, s.ColRows, inner);
                        }
                        else
                        {
                            Im2Col(s, x.AsSpan(xPos, s.Cg * s.InPlane), col);
                            MatMul(false, true, s.Og, s.ColRows, s.OutPlane, dy, dyPos, s.OutPlane, col, 0, s.OutPlane, n != first, target, tPos, s.ColRows, inner);
                        }
                    }
                }
            }
            finally
            {
                if (col is not null) ArrayPool<T>.Shared.Return(col);
            }
        });
    }

    /// <summary>The derived sizes every kernel needs, computed once per call rather than per row.</summary>
    private readonly struct Sizes
    {
        public readonly int Items, Cg, Og, Height, Width, InPlane, OutHeight, OutWidth, OutPlane, ColRows;
        public readonly int KernelH, KernelW, StrideH, StrideW, PadH, PadW, DilationH, DilationW;

        /// <summary>A 1×1, stride-1, unpadded conv: its col matrix is the input plane stack itself, so im2col is skipped.</summary>
        public readonly bool Pointwise;

        public Sizes(in ConvGeometry g)
        {
            Items = g.Batch * g.Groups;
            Cg = g.GroupInChannels;
            Og = g.GroupOutChannels;
            Height = g.Height;
            Width = g.Width;
            InPlane = g.Height * g.Width;
            OutHeight = g.OutHeight;
            OutWidth = g.OutWidth;
            OutPlane = OutHeight * OutWidth;
            ColRows = Cg * g.KernelH * g.KernelW;
            KernelH = g.KernelH;
            KernelW = g.KernelW;
            StrideH = g.StrideH;
            StrideW = g.StrideW;
            PadH = g.PadH;
            PadW = g.PadW;
            DilationH = g.DilationH;
            DilationW = g.DilationW;
            Pointwise = g.KernelH == 1 && g.KernelW == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0;
        }
    }

    /// <summary>
    /// col[(c·KH + kh)·KW + kw, oh·OW + ow] = x[c, oh·sH − pH + kh·dH, ow·sW − pW + kw·dW], or 0 where that position
    /// falls in the padding. <paramref name="x"/> holds the group's Cg input planes.
    /// </summary>
    private static void Im2Col<T>(in Sizes s, ReadOnlySpan<T> x, Span<T> col)
        where T : unmanaged
    {
        int row = 0;
        for (int c = 0; c < s.Cg; c++)
        {
            ReadOnlySpan<T> plane = x.Slice(c * s.InPlane, s.InPlane);
            for (int kh = 0; kh < s.KernelH; kh++)
            {
                for (int kw = 0; kw < s.KernelW; kw++, row++)
                {
                    Span<T> dst = col.Slice(row * s.OutPlane, s.OutPlane);
                    int shiftW = kw * s.DilationW - s.PadW; // iw = ow·sW + shiftW
                    var (lo, hi) = InsideColumns(shiftW, s.StrideW, s.Width, s.OutWidth);
                    for (int oh = 0; oh < s.OutHeight; oh++)
                    {
                        Span<T> d = dst.Slice(oh * s.OutWidth, s.OutWidth);
                        int ih = oh * s.StrideH - s.PadH + kh * s.DilationH;
                        if ((uint)ih >= (uint)s.Height)
                        {
                            d.Clear();
                            continue;
                        }
                        d[..lo].Clear();
                        d[hi..].Clear();
                        ReadOnlySpan<T> src = plane.Slice(ih * s.Width, s.Width);
                        if (s.StrideW == 1)
                        {
                            src.Slice(lo + shiftW, hi - lo).CopyTo(d[lo..hi]);
                        }
                        else
                        {
                            for (int ow = lo; ow < hi; ow++) d[ow] = src[ow * s.StrideW + shiftW];
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Im2Col{T}"/>: zeroes the group's Cg input planes <paramref name="dx"/>, then adds every
    /// col entry into the input pixel it was read from (pixels under several kernel taps accumulate; padding is dropped).
    /// </summary>
    private static void Col2Im<T>(in Sizes s, ReadOnlySpan<T> col, Span<T> dx)
        where T : unmanaged, INumberBase<T>
    {
        dx.Clear();
        int row = 0;
        for (int c = 0; c < s.Cg; c++)
        {
            Span<T> plane = dx.Slice(c * s.InPlane, s.InPlane);
            for (int kh = 0; kh < s.KernelH; kh++)
            {
                for (int kw = 0; kw < s.KernelW; kw++, row++)
                {
                    ReadOnlySpan<T> srcRow = col.Slice(row * s.OutPlane, s.OutPlane);
                    int shiftW = kw * s.DilationW - s.PadW;
                    var (lo, hi) = InsideColumns(shiftW, s.StrideW, s.Width, s.OutWidth);
                    for (int oh = 0; oh < s.OutHeight; oh++)
                    {
                        int ih = oh * s.StrideH - s.PadH + kh * s.DilationH;
                        if ((uint)ih >= (uint)s.Height) continue;
                        ReadOnlySpan<T> src = srcRow.Slice(oh * s.OutWidth, s.OutWidth);
                        Span<T> d = plane.Slice(ih * s.Width, s.Width);
                        if (s.StrideW == 1)
                        {
                            Span<T> seg = d.Slice(lo + shiftW, hi - lo);
                            TensorPrimitives.Add(seg, src[lo..hi], seg);
                        }
                        else
                        {
                            for (int ow = lo; ow < hi; ow++) d[ow * s.StrideW + shiftW] += src[ow];
                        }
                    }
                }
            }
        }
    }

    /// <summary>The output columns [lo, hi) whose input column ow·stride + shift lies inside [0, width).</summary>
    private static (int Lo, int Hi) InsideColumns(int shift, int stride, int width, int outWidth)
    {
        int lo = shift >= 0 ? 0 : Math.Min(outWidth, (-shift + stride - 1) / stride);
        int hi = width - 1 - shift < 0 ? 0 : Math.Min(outWidth, (width - 1 - shift) / stride + 1);
        return (lo, Math.Max(lo, hi));
    }

    /// <summary>C = op(A)·op(B) (+ C when <paramref name="accumulate"/>), dispatched to the float or double <see cref="Gemm"/>.</summary>
    private static void MatMul<T>(bool transA, bool transB, int m, int n, int k, T[] a, int aOff, int lda, T[] b, int bOff, int ldb,
        bool accumulate, T[] c, int cOff, int ldc, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The JIT compiles one body per value type T, so only the matching branch survives.
        if (typeof(T) == typeof(float))
        {
            Gemm.Multiply(transA, transB, m, n, k, 1f, (float[])(object)a, aOff, lda, (float[])(object)b, bOff, ldb,
                accumulate ? 1f : 0f, (float[])(object)c, cOff, ldc, threads);
        }
        else if (typeof(T) == typeof(double))
        {
            Gemm.Multiply(transA, transB, m, n, k, 1.0, (double[])(object)a, aOff, lda, (double[])(object)b, bOff, ldb,
                accumulate ? 1.0 : 0.0, (double[])(object)c, cOff, ldc, threads);
        }
        else
        {
            throw new NotSupportedException($"Conv2d is implemented for float and double, not {typeof(T).Name}.");
        }
    }
}
