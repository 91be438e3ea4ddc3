using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static Nabla.Kernels.Cpu.Lanes512;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// Convolution vectorised along output channels, for layers with horizontal stride 1, many output channels and many
/// taps, on CPUs with 512-bit vectors. Same layouts and contract as <see cref="Convolution"/>; arguments are assumed
/// checked there.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="DirectConvolution"/> puts L = Vector512&lt;T&gt;.Count output columns in a vector, which wastes lanes
/// when the output width is not a multiple of L (2 of every 16 at LeNet's 14 columns). Here a vector holds L output
/// channels instead, so when the group's output channels are a multiple of 2L every lane is used whatever the width; the
/// price is a transpose per tile (in registers, <see cref="Lanes512.Transpose{T}"/>) to put results back in NCHW order.
/// The input is read in place from the same zero-bordered copy as <see cref="DirectConvolution"/> (its Layout, with
/// slots of 14 columns), so padding costs nothing in the inner loops.
/// </para>
/// <para>
/// Forward: a tile is 2L output channels × 14 consecutive positions of one output row = 28 vector accumulators; each
/// tap costs 2 weight loads (packed so that a tap's 2L weights are adjacent), 14 input broadcasts and 28 FMAs. Input
/// gradient (stride 1): the forward kernel on dy with the kernel flipped, as in <see cref="DirectConvolution"/>.
/// Weight gradient: dw[o, j] = Σ_{n, oh, ow} dy[n, o, oh, ow] · x_pad[n, tap j's input for (oh, ow)]; dy is transposed to
/// position-major rows of 2L channels, and a tile is 2L channels × 12 taps = 24 accumulators summed over the positions
/// of a block of images (2 dy loads, 12 input broadcasts and 24 FMAs per position), added into a tap-major sum that is
/// transposed into dw at the end. Unlike the direct weight gradient, no lane past the output row is ever read.
/// </para>
/// </remarks>
internal static unsafe class ChannelConvolution
{
    /// <summary>Output positions per forward tile: with 2 channel vectors, 28 accumulators of the 32 vector registers.</summary>
    private const int Positions = 14;

    /// <summary>Kernel taps per weight-gradient tile: with 2 channel vectors, 24 accumulators.</summary>
    private const int WeightTaps = 12;

    /// <summary>
    /// Fewest taps (Cg·KH·KW) for which this kernel is preferred: a tile's transposes cost about as much as a few dozen
    /// taps of its multiply-adds.
    /// </summary>
    private const int MinTaps = 64;

    /// <summary>Padded input and transposed dy of the images the weight gradient sums at once: they are re-read for every tile, so keep them in L2.</summary>
    private const int WeightBlockBytes = 512 * 1024;

    /// <summary>Output channels per tile: two vectors.</summary>
    private static int BlockChannels<T>() where T : unmanaged => 2 * Vector512<T>.Count;

    /// <summary>
    /// True when the kernels accept <paramref name="g"/>: horizontal stride 1 keeps a tile's input contiguous, and the
    /// group's output channels fill whole blocks of 2L (the input gradient: the group's input channels).
    /// </summary>
    public static bool Accepts<T>(in ConvGeometry g)
        where T : unmanaged
        => g.StrideW == 1 && g.GroupOutChannels % BlockChannels<T>() == 0;

    /// <summary>
    /// Whether this kernel should run the forward pass of <paramref name="g"/>: enough taps to pay for the transposes,
    /// and fewer wasted columns than <see cref="DirectConvolution"/>'s vectors would compute (else that one does better).
    /// </summary>
    public static bool PrefersForward<T>(in ConvGeometry g)
        where T : unmanaged
    {
        if (!Suits<T>(g)) return false;
        int ow = g.OutWidth, lanes = Vector512<T>.Count;
        return DirectConvolution.CeilDiv(ow, Positions) * Positions < DirectConvolution.CeilDiv(ow, lanes) * lanes;
    }

    /// <summary>Whether this kernel should run the weight gradient of <paramref name="g"/>: enough taps to pay for the transposes.</summary>
    public static bool PrefersBackwardWeight<T>(in ConvGeometry g)
        where T : unmanaged
        => Suits<T>(g);

    private static bool Suits<T>(in ConvGeometry g)
        where T : unmanaged
        => DirectConvolution.IsAvailable<T>() && Accepts<T>(g) && g.GroupInChannels * g.KernelH * g.KernelW >= MinTaps;

    public static void Forward<T>(ConvGeometry g, T[] x, int xOff, T[] w, int wOff, T[]? bias, int biasOff, T[] y, int yOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var l = new DirectConvolution.Layout(g, Positions);
        DirectConvolution.RunForward(g, l, w, wOff, BlockChannels<T>(), threads, (packed, offsets, first, end) =>
            ForwardUnits(g, l, x, xOff, packed, bias, biasOff, y, yOff, offsets, first, end));
    }

    /// <summary>
    /// The input gradient as a forward pass over <see cref="DirectConvolution.Transposed"/>(g): for geometries that
    /// <see cref="DirectConvolution.AcceptsBackwardInput"/> accepts and whose transposed geometry this class accepts.
    /// </summary>
    public static void BackwardInput<T>(ConvGeometry g, T[] dy, int dyOff, T[] w, int wOff, T[] dx, int dxOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] flipped = DirectConvolution.FlippedWeights(g, w, wOff);
        try
        {
            Forward(DirectConvolution.Transposed(g), dy, dyOff, flipped, 0, null, 0, dx, dxOff, threads);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(flipped);
        }
    }

    /// <remarks>
    /// The sum over images runs one batch chunk per thread (<see cref="Convolution.SumOverBatch{T}"/>), so the result
    /// does not depend on scheduling.
    /// </remarks>
    public static void BackwardWeight<T>(ConvGeometry g, T[] x, int xOff, T[] dy, int dyOff, T[] dw, int dwOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Slots of one column: every output position is its own slot, and the padded width is just W + 2·pW.
        var l = new DirectConvolution.Layout(g, 1);
        int[] offsets = DirectConvolution.TapOffsets(g, l, DirectConvolution.CeilDiv(l.Taps, WeightTaps) * WeightTaps);
        try
        {
            Convolution.SumOverBatch(g.Batch, threads, dw, dwOff, g.OutChannels * l.Taps, (target, targetOff, first, end) =>
                WeightImages(g, l, x, xOff, dy, dyOff, target, targetOff, offsets, first, end));
        }
        finally
        {
            ArrayPool<int>.Shared.Return(offsets);
        }
    }

    private static void ForwardUnits<T>(ConvGeometry g, DirectConvolution.Layout l, T[] x, int xOff, T[] packed, T[]? bias, int biasOff,
        T[] y, int yOff, int[] offsets, int firstUnit, int endUnit)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lanes = Vector512<T>.Count, cb = 2 * lanes, og = g.GroupOutChannels, blocks = DirectConvolution.CeilDiv(og, cb), k = l.Taps;
        int outWidth = g.OutWidth, outPlane = g.OutHeight * outWidth;
        T[] padded = ArrayPool<T>.Shared.Rent(l.PaddedInput);
        Array.Clear(padded, 0, l.PaddedInput);
        Vector512<T>* acc = stackalloc Vector512<T>[2 * Positions];
        try
        {
            fixed (T* xp = padded, xs = x, wp = packed, yp = y, bp = bias)
            fixed (int* offp = offsets)
            {
                int paddedItem = -1;
                for (int unit = firstUnit; unit < endUnit; unit++)
                {
                    int item = unit / blocks, block = unit % blocks, n = item / g.Groups, grp = item % g.Groups;
                    if (item != paddedItem)
                    {
                        DirectConvolution.PadInput(g, l, xs + xOff + (n * g.InChannels + grp * g.GroupInChannels) * g.Height * g.Width, xp);
                        paddedItem = item;
                    }
                    int o0 = grp * og + block * cb;
                    Vector512<T> b0 = bp is null ? Vector512<T>.Zero : Vector512.Load(bp + biasOff + o0);
                    Vector512<T> b1 = bp is null ? Vector512<T>.Zero : Vector512.Load(bp + biasOff + o0 + lanes);
                    T* w = wp + (nint)(grp * blocks + block) * k * cb;
                    T* yBlock = yp + yOff + (nint)(n * g.OutChannels + o0) * outPlane;
                    for (int s = 0; s < l.Slots; s++)
                    {
                        ForwardTile(k, w, offp, xp + DirectConvolution.SlotInput(g, l, s), b0, b1, acc);
                        // acc[v·14 + p] holds channels [v·L, v·L + L) at position p: L×L transposes turn each channel's
                        // run of positions into a row segment of its output plane.
                        int ow0 = s % l.Chunks * Positions, count = Math.Min(Positions, outWidth - ow0);
                        T* dst = yBlock + s / l.Chunks * outWidth + ow0;
                        for (int v = 0; v < 2; v++)
                            for (int p0 = 0; p0 < count; p0 += lanes)
                                Transpose((T*)(acc + v * Positions + p0), lanes, Math.Min(lanes, count - p0), lanes,
                                    dst + (nint)v * lanes * outPlane + p0, outPlane);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(padded);
        }
    }

    /// <summary>
    /// acc[v·14 + p] = b_v + Σ_j w[j·2L + v·L .. + L) · x[offsets[j] + p], for v &lt; 2 and p &lt; 14: one tile of 2L output
    /// channels × 14 consecutive output positions over all <paramref name="k"/> taps, the accumulators starting at the bias.
    /// </summary>
    private static void ForwardTile<T>(int k, T* w, int* offsets, T* x, Vector512<T> b0, Vector512<T> b1, Vector512<T>* acc)
        where T : unmanaged
    {
        Vector512<T> a0 = b0, a1 = b0, a2 = b0, a3 = b0, a4 = b0, a5 = b0, a6 = b0;
        Vector512<T> a7 = b0, a8 = b0, a9 = b0, a10 = b0, a11 = b0, a12 = b0, a13 = b0;
        Vector512<T> c0 = b1, c1 = b1, c2 = b1, c3 = b1, c4 = b1, c5 = b1, c6 = b1;
        Vector512<T> c7 = b1, c8 = b1, c9 = b1, c10 = b1, c11 = b1, c12 = b1, c13 = b1;
        int lanes = Vector512<T>.Count;
        for (int j = 0; j < k; j++, w += 2 * lanes)
        {
            T* s = x + offsets[j];
            Vector512<T> w0 = Vector512.Load(w), w1 = Vector512.Load(w + lanes), b;
            b = Vector512.Create(s[0]); a0 = Fma(w0, b, a0); c0 = Fma(w1, b, c0);
            b = Vector512.Create(s[1]); a1 = Fma(w0, b, a1); c1 = Fma(w1, b, c1);
            b = Vector512.Create(s[2]); a2 = Fma(w0, b, a2); c2 = Fma(w1, b, c2);
            b = Vector512.Create(s[3]); a3 = Fma(w0, b, a3); c3 = Fma(w1, b, c3);
            b = Vector512.Create(s[4]); a4 = Fma(w0, b, a4); c4 = Fma(w1, b, c4);
            b = Vector512.Create(s[5]); a5 = Fma(w0, b, a5); c5 = Fma(w1, b, c5);
            b = Vector512.Create(s[6]); a6 = Fma(w0, b, a6); c6 = Fma(w1, b, c6);
            b = Vector512.Create(s[7]); a7 = Fma(w0, b, a7); c7 = Fma(w1, b, c7);
            b = Vector512.Create(s[8]); a8 = Fma(w0, b, a8); c8 = Fma(w1, b, c8);
            b = Vector512.Create(s[9]); a9 = Fma(w0, b, a9); c9 = Fma(w1, b, c9);
            b = Vector512.Create(s[10]); a10 = Fma(w0, b, a10); c10 = Fma(w1, b, c10);
            b = Vector512.Create(s[11]); a11 = Fma(w0, b, a11); c11 = Fma(w1, b, c11);
            b = Vector512.Create(s[12]); a12 = Fma(w0, b, a12); c12 = Fma(w1, b, c12);
            b = Vector512.Create(s[13]); a13 = Fma(w0, b, a13); c13 = Fma(w1, b, c13);
        }
        acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3; acc[4] = a4; acc[5] = a5; acc[6] = a6;
        acc[7] = a7; acc[8] = a8; acc[9] = a9; acc[10] = a10; acc[11] = a11; acc[12] = a12; acc[13] = a13;
        acc[14] = c0; acc[15] = c1; acc[16] = c2; acc[17] = c3; acc[18] = c4; acc[19] = c5; acc[20] = c6;
        acc[21] = c7; acc[22] = c8; acc[23] = c9; acc[24] = c10; acc[25] = c11; acc[26] = c12; acc[27] = c13;
    }

    /// <summary>Overwrites target's rows for all groups with the weight gradient summed over images [first, end).</summary>
    private static void WeightImages<T>(ConvGeometry g, DirectConvolution.Layout l, T[] x, int xOff, T[] dy, int dyOff, T[] target, int targetOff,
        int[] offsets, int first, int end)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lanes = Vector512<T>.Count, cb = 2 * lanes, og = g.GroupOutChannels, blocks = og / cb, k = l.Taps;
        int tapBlocks = DirectConvolution.CeilDiv(k, WeightTaps), positions = g.OutHeight * g.OutWidth;
        // Per image: the padded input, and dy as blocks of [position][2L channels] rows.
        int dyImage = positions * og;
        int images = Math.Clamp(WeightBlockBytes / ((l.PaddedInput + dyImage) * Unsafe.SizeOf<T>()), 1, end - first);
        // The group's sums, tap-major: row j holds the Og channels of tap j (rows past K take the padding taps' junk).
        int sumRows = tapBlocks * WeightTaps;
        T[] xs = ArrayPool<T>.Shared.Rent(images * l.PaddedInput), ds = ArrayPool<T>.Shared.Rent(images * dyImage);
        T[] sums = ArrayPool<T>.Shared.Rent(sumRows * og);
        int[] slotX = ArrayPool<int>.Shared.Rent(images * positions);
        Array.Clear(xs, 0, images * l.PaddedInput);
        Vector512<T>* acc = stackalloc Vector512<T>[2 * WeightTaps];
        try
        {
            fixed (T* xp = xs, dp = ds, sp = sums, tp = target, xsrc = x, dsrc = dy)
            fixed (int* offp = offsets, sxp = slotX)
            {
                for (int i = 0; i < images; i++)
                    for (int q = 0; q < positions; q++)
                        slotX[i * positions + q] = i * l.PaddedInput + DirectConvolution.SlotInput(g, l, q);
                for (int grp = 0; grp < g.Groups; grp++)
                {
                    Array.Clear(sums, 0, sumRows * og);
                    for (int n0 = first; n0 < end; n0 += images)
                    {
                        int count = Math.Min(images, end - n0);
                        for (int i = 0; i < count; i++)
                        {
                            int n = n0 + i;
                            DirectConvolution.PadInput(g, l, xsrc + xOff + (n * g.InChannels + grp * g.GroupInChannels) * g.Height * g.Width, xp + i * l.PaddedInput);
                            // Channel c of position q lands at block c / 2L, row i·positions + q, lane c % 2L.
                            T* src = dsrc + dyOff + (nint)(n * g.OutChannels + grp * og) * positions;
                            for (int c0 = 0; c0 < og; c0 += lanes)
                                for (int q0 = 0; q0 < positions; q0 += lanes)
                                    Transpose(src + (nint)c0 * positions + q0, positions, lanes, Math.Min(lanes, positions - q0),
                                        dp + ((nint)(c0 / cb * images + i) * positions + q0) * cb + c0 % cb, cb);
                        }
                        for (int b = 0; b < blocks; b++)
                        {
                            T* d = dp + (nint)b * images * positions * cb;
                            for (int tb = 0; tb < tapBlocks; tb++)
                            {
                                WeightTile(count * positions, d, sxp, xp, offp + tb * WeightTaps, acc);
                                T* row = sp + (nint)tb * WeightTaps * og + b * cb;
                                for (int t = 0; t < WeightTaps; t++, row += og)
                                {
                                    (Vector512.Load(row) + acc[t]).Store(row);
                                    (Vector512.Load(row + lanes) + acc[WeightTaps + t]).Store(row + lanes);
                                }
                            }
                        }
                    }
                    // dw[grp·Og + c, j] = sums[j, c]
                    for (int j0 = 0; j0 < k; j0 += lanes)
                        for (int c0 = 0; c0 < og; c0 += lanes)
                            Transpose(sp + (nint)j0 * og + c0, og, Math.Min(lanes, k - j0), lanes, tp + targetOff + (nint)(grp * og + c0) * k + j0, k);
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(xs);
            ArrayPool<T>.Shared.Return(ds);
            ArrayPool<T>.Shared.Return(sums);
            ArrayPool<int>.Shared.Return(slotX);
        }
    }

    /// <summary>
    /// acc[v·12 + t] = Σ_q dy[q·2L + v·L .. + L) · x[slotX[q] + taps[t]], for v &lt; 2 and t &lt; 12: one tile of 2L
    /// output channels × 12 taps of the weight gradient, summed over <paramref name="positions"/> output positions.
    /// </summary>
    private static void WeightTile<T>(int positions, T* dy, int* slotX, T* x, int* taps, Vector512<T>* acc)
        where T : unmanaged
    {
        nint t0 = taps[0]; nint t1 = taps[1]; nint t2 = taps[2]; nint t3 = taps[3]; nint t4 = taps[4]; nint t5 = taps[5];
        nint t6 = taps[6]; nint t7 = taps[7]; nint t8 = taps[8]; nint t9 = taps[9]; nint t10 = taps[10]; nint t11 = taps[11];
        Vector512<T> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector512<T> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector512<T> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        int lanes = Vector512<T>.Count;
        for (int q = 0; q < positions; q++, dy += 2 * lanes)
        {
            T* s = x + slotX[q];
            Vector512<T> d0 = Vector512.Load(dy), d1 = Vector512.Load(dy + lanes), b;
            b = Vector512.Create(s[t0]); a0 = Fma(d0, b, a0); c0 = Fma(d1, b, c0);
            b = Vector512.Create(s[t1]); a1 = Fma(d0, b, a1); c1 = Fma(d1, b, c1);
            b = Vector512.Create(s[t2]); a2 = Fma(d0, b, a2); c2 = Fma(d1, b, c2);
            b = Vector512.Create(s[t3]); a3 = Fma(d0, b, a3); c3 = Fma(d1, b, c3);
            b = Vector512.Create(s[t4]); a4 = Fma(d0, b, a4); c4 = Fma(d1, b, c4);
            b = Vector512.Create(s[t5]); a5 = Fma(d0, b, a5); c5 = Fma(d1, b, c5);
            b = Vector512.Create(s[t6]); a6 = Fma(d0, b, a6); c6 = Fma(d1, b, c6);
            b = Vector512.Create(s[t7]); a7 = Fma(d0, b, a7); c7 = Fma(d1, b, c7);
            b = Vector512.Create(s[t8]); a8 = Fma(d0, b, a8); c8 = Fma(d1, b, c8);
            b = Vector512.Create(s[t9]); a9 = Fma(d0, b, a9); c9 = Fma(d1, b, c9);
            b = Vector512.Create(s[t10]); a10 = Fma(d0, b, a10); c10 = Fma(d1, b, c10);
            b = Vector512.Create(s[t11]); a11 = Fma(d0, b, a11); c11 = Fma(d1, b, c11);
        }
        acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3; acc[4] = a4; acc[5] = a5;
        acc[6] = a6; acc[7] = a7; acc[8] = a8; acc[9] = a9; acc[10] = a10; acc[11] = a11;
        acc[12] = c0; acc[13] = c1; acc[14] = c2; acc[15] = c3; acc[16] = c4; acc[17] = c5;
        acc[18] = c6; acc[19] = c7; acc[20] = c8; acc[21] = c9; acc[22] = c10; acc[23] = c11;
    }
}
