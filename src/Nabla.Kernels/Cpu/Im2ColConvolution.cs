using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// The general convolution algorithm behind <see cref="Convolution"/>: im2col + <see cref="Gemm"/>, for every
/// geometry. Same layouts and contract as <see cref="Convolution"/>; arguments are assumed checked there.
/// </summary>
/// <remarks>
/// One work item is one (image, group) pair: its im2col matrix col has Cg·KH·KW rows, one per (c, kh, kw), and OH·OW
/// columns, one per output pixel, so that the group's slice of y (Og × OH·OW) is the group's weights (Og × Cg·KH·KW)
/// times col. Items are split into one contiguous chunk per thread; each chunk rents one col buffer (and, for horizontal
/// stride 1, one zero-bordered input buffer) from <see cref="ArrayPool{T}"/>, so steady-state training touches no fresh
/// memory. The weights, the A operand of every forward and input-gradient product, are packed once per call
/// (<see cref="Gemm.Share{T}"/>). Only when there are fewer items than threads do the GEMMs themselves get more than
/// one thread.
/// </remarks>
internal static unsafe class Im2ColConvolution
{
    /// <summary>y = conv(x, w) + bias; <paramref name="bias"/> may be null.</summary>
    public static void Forward<T>(ConvGeometry g, T[] x, int xOff, T[] w, int wOff, T[]? bias, int biasOff, T[] y, int yOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new Sizes(g);
        // y[n, group] (Og × OH·OW) = w[group] (Og × Cg·KH·KW) · col (Cg·KH·KW × OH·OW).
        ForEachItem(g, s, threads, ShareWeights(g, s, false, w, wOff, threads), (weights, scratch, n, grp, inner) =>
        {
            int xPos = xOff + (n * g.InChannels + grp * s.Cg) * s.InPlane;
            int yPos = yOff + (n * g.OutChannels + grp * s.Og) * s.OutPlane;
            if (scratch.Col is null)
            {
                Gemm.Multiply(weights, false, s.OutPlane, T.One, x, xPos, s.InPlane, T.Zero, y, yPos, s.OutPlane, inner);
            }
            else
            {
                scratch.Im2Col(x, xPos, inner);
                Gemm.Multiply(weights, false, s.OutPlane, T.One, scratch.Col, 0, s.OutPlane, T.Zero, y, yPos, s.OutPlane, inner);
            }
            if (bias is not null)
            {
                for (int o = 0; o < s.Og; o++)
                {
                    Span<T> plane = y.AsSpan(yPos + o * s.OutPlane, s.OutPlane);
                    TensorPrimitives.Add(plane, bias[biasOff + grp * s.Og + o], plane);
                }
            }
        });
    }

    /// <summary>dx = ∂⟨conv(x, w), dy⟩/∂x: the transpose of <see cref="Forward{T}"/> in x.</summary>
    public static void BackwardInput<T>(ConvGeometry g, T[] dy, int dyOff, T[] w, int wOff, T[] dx, int dxOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new Sizes(g);
        // dcol (Cg·KH·KW × OH·OW) = w[group]ᵀ · dy[n, group]; col2im then sums each entry back into the input pixel it
        // was copied from. A pointwise conv's col is the input itself, so dcol is dx.
        ForEachItem(g, s, threads, ShareWeights(g, s, true, w, wOff, threads), (weights, scratch, n, grp, inner) =>
        {
            int dxPos = dxOff + (n * g.InChannels + grp * s.Cg) * s.InPlane;
            int dyPos = dyOff + (n * g.OutChannels + grp * s.Og) * s.OutPlane;
            if (scratch.Col is null)
            {
                Gemm.Multiply(weights, false, s.OutPlane, T.One, dy, dyPos, s.OutPlane, T.Zero, dx, dxPos, s.InPlane, inner);
            }
            else
            {
                Gemm.Multiply(weights, false, s.OutPlane, T.One, dy, dyPos, s.OutPlane, T.Zero, scratch.Col, 0, s.OutPlane, inner);
                scratch.Col2Im(dx.AsSpan(dxPos, s.Cg * s.InPlane));
            }
        });
    }

    /// <summary>
    /// Runs <paramref name="item"/>(the group's weights, this thread's scratch, image, group, GEMM threads) for every
    /// (image, group) pair, cut into one contiguous chunk per thread; disposes <paramref name="weights"/> at the end.
    /// </summary>
    private static void ForEachItem<T>(ConvGeometry g, Sizes s, int threads, SharedA<T>[] weights, Action<SharedA<T>, Scratch<T>, int, int, int> item)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, inner) = Convolution.Split(g.Batch * g.Groups, threads);
        try
        {
            CpuParallel.For(outer, outer, chunk =>
            {
                var scratch = new Scratch<T>(s);
                try
                {
                    for (int i = Convolution.ChunkStart(chunk, outer, s.Items); i < Convolution.ChunkStart(chunk + 1, outer, s.Items); i++)
                        item(weights[i % g.Groups], scratch, i / g.Groups, i % g.Groups, inner);
                }
                finally
                {
                    scratch.Return();
                }
            });
        }
        finally
        {
            foreach (var shared in weights) shared.Dispose();
        }
    }

    /// <summary>
    /// Each group's weights as the A operand of its products, packed once per call (<see cref="Gemm.Share{T}"/>):
    /// w[group] (Og × Cg·KH·KW), or its transpose when <paramref name="transpose"/> (the input gradient's).
    /// </summary>
    private static SharedA<T>[] ShareWeights<T>(in ConvGeometry g, in Sizes s, bool transpose, T[] w, int wOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException($"Conv2d is implemented for float and double, not {typeof(T).Name}.");
        var shared = new SharedA<T>[g.Groups];
        for (int grp = 0; grp < g.Groups; grp++)
        {
            int wPos = wOff + grp * s.Og * s.ColRows;
            shared[grp] = transpose
                ? Gemm.Share(true, s.ColRows, s.OutPlane, s.Og, w, wPos, s.ColRows, threads)
                : Gemm.Share(false, s.Og, s.OutPlane, s.ColRows, w, wPos, s.ColRows, threads);
        }
        return shared;
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
            var scratch = new Scratch<T>(s);
            T[]? col = scratch.Col;
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
                            scratch.Im2Col(x, xPos, inner);
                            MatMul(false, true, s.Og, s.ColRows, s.OutPlane, dy, dyPos, s.OutPlane, col, 0, s.OutPlane, n != first, target, tPos, s.ColRows, inner);
                        }
                    }
                }
            }
            finally
            {
                scratch.Return();
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

        /// <summary>
        /// Whether im2col goes through a zero-bordered copy of the input (<see cref="Scratch{T}.Im2Col"/>): horizontal
        /// stride 1, so every col row segment is one contiguous run of a padded row, copied in whole vectors.
        /// </summary>
        public readonly bool Padded;

        /// <summary>Width and plane size of the zero-bordered input copy: W + 2·pW columns, H + 2·pH rows.</summary>
        public readonly int PaddedWidth, PaddedPlane;

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
            Padded = !Pointwise && g.StrideW == 1 && Vector256.IsHardwareAccelerated;
            PaddedWidth = g.Width + 2 * g.PadW;
            PaddedPlane = (g.Height + 2 * g.PadH) * PaddedWidth;
        }
    }

    /// <summary>Below this many col elements (64 KB of floats) one thread fills col alone.</summary>
    private const long ParallelIm2ColElements = 16 * 1024;

    /// <summary>
    /// One thread's im2col buffers for one call, rented from <see cref="ArrayPool{T}"/>: the col matrix (none for a
    /// pointwise conv) and, for horizontal stride 1, a zero-bordered copy of one image's group planes.
    /// </summary>
    private readonly struct Scratch<T> where T : unmanaged, INumberBase<T>
    {
        /// <summary>Elements past the end of each buffer that whole-vector copies may read or write (≥ one Vector256).</summary>
        private const int Slack = 16;

        private readonly Sizes _s;
        private readonly T[]? _padded;

        /// <summary>The col matrix: ColRows × OutPlane, then <see cref="Slack"/> elements; null for a pointwise conv.</summary>
        public readonly T[]? Col;

        public Scratch(in Sizes s)
        {
            _s = s;
            Col = s.Pointwise ? null : ArrayPool<T>.Shared.Rent(s.ColRows * s.OutPlane + Slack);
            if (s.Padded && Vector256<T>.IsSupported)
            {
                // Cleared once here: im2col writes only the interior, so the border stays zero from image to image
                // (col2im, which adds into the border, clears the whole buffer for each image itself).
                int length = s.Cg * s.PaddedPlane + Slack;
                _padded = ArrayPool<T>.Shared.Rent(length);
                Array.Clear(_padded, 0, length);
            }
        }

        /// <summary>
        /// Fills <see cref="Col"/> from the group's Cg input planes, x[xPos..] (see <see cref="Im2ColStrided{T}"/>). With
        /// more than one thread (fewer items than threads: batch-1 inference) the channels are split over them, since
        /// the other thread would otherwise wait (LeNet batch-1 inference on Zen 3, in-process A/B: 245 → 233 and 239 → 226 µs).
        /// </summary>
        public void Im2Col(T[] x, int xPos, int threads)
        {
            var s = _s;
            if (_padded is null)
            {
                Im2ColStrided(s, x.AsSpan(xPos, s.Cg * s.InPlane), Col);
                return;
            }
            T[] padded = _padded, col = Col!;
            int parts = (long)s.ColRows * s.OutPlane >= ParallelIm2ColElements ? Math.Min(threads, s.Cg) : 1;
            if (parts <= 1) Im2ColPadded(s, x, xPos, padded, col, 0, s.Cg);
            else CpuParallel.For(parts, parts, t => Im2ColPadded(s, x, xPos, padded, col, t * s.Cg / parts, (t + 1) * s.Cg / parts));
        }

        /// <summary>Overwrites the group's Cg input planes <paramref name="dx"/> with the adjoint of im2col applied to <see cref="Col"/>.</summary>
        public void Col2Im(Span<T> dx)
        {
            if (_padded is null) Col2ImStrided(_s, Col, dx);
            else Col2ImPadded(_s, Col!, _padded, dx);
        }

        public void Return()
        {
            if (Col is not null) ArrayPool<T>.Shared.Return(Col);
            if (_padded is not null) ArrayPool<T>.Shared.Return(_padded);
        }
    }

    /// <summary>
    /// <see cref="Im2ColStrided{T}"/> for horizontal stride 1, through a zero-bordered copy of the input: col row
    /// (c, kh, kw), output row oh, is then the contiguous run padded[c, oh·sH + kh·dH, kw·dW ..+ OW), so it is copied in
    /// whole vectors with no clearing. The last vector of a run may spill past OW into the next run's place (or into
    /// the slack after the matrix); runs are written in increasing order, so the next run overwrites the spill. Read
    /// for LeNet's second layer (OW = 14, 800 col rows) the row-by-row loop of spans spent ≈ 35 ns a run, more than
    /// the GEMM that follows.
    /// </summary>
    private static void Im2ColPadded<T>(in Sizes s, T[] x, int xPos, T[] padded, T[] col, int c0, int c1)
        where T : unmanaged
    {
        int v = Vector256<T>.Count, wp = s.PaddedWidth, outWidth = s.OutWidth;
        fixed (T* xs = &x[xPos], pp = padded, cp = col)
        {
            for (int c = c0; c < c1; c++)
                for (int ih = 0; ih < s.Height; ih++)
                    new ReadOnlySpan<T>(xs + (nint)c * s.InPlane + ih * s.Width, s.Width)
                        .CopyTo(new Span<T>(pp + (nint)c * s.PaddedPlane + (ih + s.PadH) * wp + s.PadW, s.Width));
            T* dst = cp + (nint)c0 * s.KernelH * s.KernelW * s.OutPlane;
            // The last run of a range that another thread continues must not spill into that thread's first run: its
            // last vector is stored under a mask instead.
            int rest = outWidth % v;
            T* guarded = c1 < s.Cg && rest != 0 ? cp + (nint)c1 * s.KernelH * s.KernelW * s.OutPlane - outWidth : null;
            for (int c = c0; c < c1; c++)
            {
                for (int kh = 0; kh < s.KernelH; kh++)
                {
                    for (int kw = 0; kw < s.KernelW; kw++)
                    {
                        T* src = pp + (nint)c * s.PaddedPlane + kh * s.DilationH * wp + kw * s.DilationW;
                        for (int oh = 0; oh < s.OutHeight; oh++, src += s.StrideH * wp, dst += outWidth)
                        {
                            if (dst == guarded)
                            {
                                int i = 0;
                                for (; i + v <= outWidth; i += v) Vector256.Store(Vector256.Load(src + i), dst + i);
                                Lanes256.StoreLanes(dst + i, Vector256.Load(src + i), Lanes256.TailMask<T>(rest));
                                continue;
                            }
                            for (int i = 0; i < outWidth; i += v) Vector256.Store(Vector256.Load(src + i), dst + i);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// <see cref="Col2ImStrided{T}"/> for horizontal stride 1, through the padded buffer: col row (c, kh, kw), output row
    /// oh, is added to the run padded[c, oh·sH + kh·dH, kw·dW ..+ OW) in vectors, the last one masked to the run (its
    /// other lanes add zero to whatever they cover); the interior is then copied out and the border dropped.
    /// </summary>
    private static void Col2ImPadded<T>(in Sizes s, T[] col, T[] padded, Span<T> dx)
        where T : unmanaged, INumberBase<T>
    {
        int v = Vector256<T>.Count, wp = s.PaddedWidth, outWidth = s.OutWidth;
        Vector256<T> tail = Lanes256.TailMask<T>(outWidth % v);
        Array.Clear(padded, 0, s.Cg * s.PaddedPlane);
        fixed (T* dxs = dx, pp = padded, cp = col)
        {
            T* src = cp;
            for (int c = 0; c < s.Cg; c++)
            {
                for (int kh = 0; kh < s.KernelH; kh++)
                {
                    for (int kw = 0; kw < s.KernelW; kw++)
                    {
                        T* dst = pp + (nint)c * s.PaddedPlane + kh * s.DilationH * wp + kw * s.DilationW;
                        for (int oh = 0; oh < s.OutHeight; oh++, dst += s.StrideH * wp, src += outWidth)
                        {
                            int i = 0;
                            for (; i + v <= outWidth; i += v) Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
                            if (i < outWidth)
                                Vector256.Store(Vector256.Load(dst + i) + Vector256.ConditionalSelect(tail, Vector256.Load(src + i), Vector256<T>.Zero), dst + i);
                        }
                    }
                }
            }
            for (int c = 0; c < s.Cg; c++)
                for (int ih = 0; ih < s.Height; ih++)
                    new ReadOnlySpan<T>(pp + (nint)c * s.PaddedPlane + (ih + s.PadH) * wp + s.PadW, s.Width)
                        .CopyTo(new Span<T>(dxs + (nint)c * s.InPlane + ih * s.Width, s.Width));
        }
    }

    /// <summary>
    /// col[(c·KH + kh)·KW + kw, oh·OW + ow] = x[c, oh·sH − pH + kh·dH, ow·sW − pW + kw·dW], or 0 where that position
    /// falls in the padding. <paramref name="x"/> holds the group's Cg input planes.
    /// </summary>
    private static void Im2ColStrided<T>(in Sizes s, ReadOnlySpan<T> x, Span<T> col)
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
    /// The adjoint of <see cref="Im2ColStrided{T}"/>: zeroes the group's Cg input planes <paramref name="dx"/>, then adds every
    /// col entry into the input pixel it was read from (pixels under several kernel taps accumulate; padding is dropped).
    /// </summary>
    private static void Col2ImStrided<T>(in Sizes s, ReadOnlySpan<T> col, Span<T> dx)
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
