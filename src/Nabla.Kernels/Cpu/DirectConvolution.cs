using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static Nabla.Kernels.Cpu.Lanes512;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// Convolution without an im2col matrix, for layers with horizontal stride 1 on CPUs with 512-bit vectors. Same
/// layouts and contract as <see cref="Convolution"/>; arguments are assumed checked there.
/// </summary>
/// <remarks>
/// <para>
/// Vectors run along output rows: L = Vector512&lt;T&gt;.Count consecutive output columns of one output row form one
/// "slot" (a row of OW columns is cut into ⌈OW/L⌉ slots; lanes past OW are computed and discarded). First one
/// image's input planes (one group's) are copied into a zero-bordered buffer, Wp columns wide and Hp = H + 2·pH rows
/// tall, with Wp large enough that a slot shifted right by any kernel column kw·dW still reads inside its row. Then
/// the input vector that kernel tap j = (c, kh, kw) multiplies for the slot at output row oh, columns [ow, ow + L) is
/// the single unaligned load at c·Hp·Wp + (oh·sH + kh·dH)·Wp + ow + kw·dW = slotBase + tapOffset[j]: im2col is read
/// in place instead of being built, and padding costs nothing in the inner loop.
/// </para>
/// <para>
/// Forward: a tile is 8 output channels × 2 slots = 16 vector accumulators; each tap costs 2 input loads, 8 weight
/// broadcasts and 16 FMAs. Input gradient (stride 1 only): the forward kernel run on dy with the kernel flipped and
/// in/out channels swapped. Weight gradient: a tile is 6 output channels × 4 taps = 24 vector accumulators summed over
/// all slots of a block of images (6 aligned dy loads, 4 input loads and 24 FMAs per slot), then reduced across lanes
/// four at a time.
/// </para>
/// <para>
/// The weight gradient zero-fills the dy lanes past OW but not the input lanes they multiply, which are real input
/// values from further along the row: an infinite or NaN input can therefore spread NaN to a few more weight
/// gradients (kernel columns near the edge) than PyTorch's would show. Finite inputs give exact results.
/// </para>
/// </remarks>
internal static unsafe class DirectConvolution
{
    /// <summary>Output channels per forward tile (each tile also covers 2 slots).</summary>
    private const int ForwardRows = 8;

    /// <summary>Output channels × kernel taps per weight-gradient tile; 4 taps is what <see cref="AddSums{T}"/> reduces at once.</summary>
    private const int WeightRows = 6, WeightTaps = 4;

    /// <summary>Padded input rows a thread walks per pass over the forward tiles: enough to stay in the 1 MB L2 with the weights.</summary>
    private const int ForwardBlockBytes = 256 * 1024;

    /// <summary>Padded input and dy of the images the weight gradient sums at once: they are re-read for every tile, so keep them in L2.</summary>
    private const int WeightBlockBytes = 512 * 1024;

    /// <summary>True when this CPU runs the kernels well: x86 with AVX-512 (the lane reductions use x86 shuffles).</summary>
    public static bool IsAvailable<T>()
        where T : unmanaged
        => Avx512F.IsSupported && Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported;

    /// <summary>True when <see cref="Forward{T}"/> and <see cref="BackwardWeight{T}"/> accept <paramref name="g"/>: horizontal stride 1 keeps a slot's input contiguous.</summary>
    public static bool Accepts(in ConvGeometry g) => g.StrideW == 1;

    /// <summary>True when <see cref="BackwardInput{T}"/> accepts <paramref name="g"/>: stride 1, and padding within the dilated kernel.</summary>
    public static bool AcceptsBackwardInput(in ConvGeometry g)
        => g.StrideH == 1 && g.StrideW == 1 && g.PadH <= g.DilationH * (g.KernelH - 1) && g.PadW <= g.DilationW * (g.KernelW - 1);

    public static void Forward<T>(ConvGeometry g, T[] x, int xOff, T[] w, int wOff, T[]? bias, int biasOff, T[] y, int yOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var l = new Layout(g, Vector512<T>.Count);
        RunForward(g, l, w, wOff, ForwardRows, threads, (packed, offsets, first, end) =>
            ForwardUnits(g, l, x, xOff, packed, bias, biasOff, y, yOff, offsets, first, end));
    }

    /// <summary>
    /// The frame of a forward pass, shared with <see cref="ChannelConvolution"/>: packs the weights in blocks of
    /// <paramref name="rows"/> output channels, computes the tap offsets for <paramref name="l"/>, and runs
    /// <paramref name="units"/>(packed, offsets, first, end) over the work units [0, N·groups·blocks) cut into one run per
    /// thread. Units are (image, group, channel block) triples, in that nesting, so that a thread re-pads its input only
    /// when the image or group changes; more units than images lets batch 1 use every thread.
    /// </summary>
    internal static void RunForward<T>(ConvGeometry g, Layout l, T[] w, int wOff, int rows, int threads, Action<T[], int[], int, int> units)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int blocks = CeilDiv(g.GroupOutChannels, rows), k = l.Taps;
        T[] packed = ArrayPool<T>.Shared.Rent(g.Groups * blocks * k * rows);
        int[] offsets = TapOffsets(g, l, k);
        try
        {
            PackWeights(g, w, wOff, packed, rows, threads);
            int count = g.Batch * g.Groups * blocks;
            var (outer, _) = Convolution.Split(count, threads);
            CpuParallel.For(outer, outer, chunk =>
                units(packed, offsets, Convolution.ChunkStart(chunk, outer, count), Convolution.ChunkStart(chunk + 1, outer, count)));
        }
        finally
        {
            ArrayPool<T>.Shared.Return(packed);
            ArrayPool<int>.Shared.Return(offsets);
        }
    }

    /// <summary>
    /// packed[((grp·blocks + b)·K + j)·R + r] = w[grp·Og + R·b + r, j], with R = <paramref name="rows"/> output channels
    /// per block (a multiple of 8): the R weights of one tap are adjacent. Rows past Og are zero (their results are
    /// dropped). Split over the threads by blocks: at batch 1 packing is a fifth of the layer's time.
    /// </summary>
    private static void PackWeights<T>(ConvGeometry g, T[] w, int wOff, T[] packed, int rows, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int items = g.Groups * CeilDiv(g.GroupOutChannels, rows), tasks = Math.Min(threads, items);
        CpuParallel.For(tasks, tasks, t =>
            PackBlocks(g, w, wOff, packed, rows, Convolution.ChunkStart(t, tasks, items), Convolution.ChunkStart(t + 1, tasks, items)));
    }

    /// <summary>
    /// <see cref="PackWeights{T}"/> for the (group, block) pairs [first, end): a whole block is an R×K transpose, done 8
    /// (float) or 4 (double) taps at a time in registers.
    /// </summary>
    private static void PackBlocks<T>(ConvGeometry g, T[] w, int wOff, T[] packed, int rows, int first, int end)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int og = g.GroupOutChannels, blocks = CeilDiv(og, rows), k = g.GroupInChannels * g.KernelH * g.KernelW;
        int v = Vector256<T>.Count;
        fixed (T* wp = w, pp = packed)
        {
            for (int gb = first; gb < end; gb++)
            {
                int grp = gb / blocks, o0 = gb % blocks * rows, valid = Math.Min(rows, og - o0);
                T* src = wp + wOff + (nint)(grp * og + o0) * k, dst = pp + (nint)gb * k * rows;
                int j = 0;
                if (valid == rows && Avx.IsSupported)
                {
                    for (; j + v <= k; j += v)
                        for (int r = 0; r < rows; r += v)
                            Transpose.Block(src + (nint)r * k + j, k, dst + (nint)j * rows + r, rows);
                }
                for (; j < k; j++)
                {
                    for (int r = 0; r < rows; r++) dst[(nint)j * rows + r] = r < valid ? src[(nint)r * k + j] : T.Zero;
                }
            }
        }
    }

    public static void BackwardInput<T>(ConvGeometry g, T[] dy, int dyOff, T[] w, int wOff, T[] dx, int dxOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] flipped = FlippedWeights(g, w, wOff);
        try
        {
            Forward(Transposed(g), dy, dyOff, flipped, 0, null, 0, dx, dxOff, threads);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(flipped);
        }
    }

    /// <summary>
    /// The weights of <see cref="Transposed"/>(g), rented from the shared pool: with stride 1,
    /// dx[c, ih, iw] = Σ_{o,kh,kw} dy[o, ih + pH − kh·dH, iw + pW − kw·dW] · w[o, c, kh, kw] is a forward convolution of
    /// dy (zero-padded by d·(k−1) − p) with taps kh' = KH−1−kh, kw' = KW−1−kw and the roles of input and output channels
    /// exchanged within each group.
    /// </summary>
    internal static T[] FlippedWeights<T>(in ConvGeometry g, T[] w, int wOff)
        where T : unmanaged
    {
        int og = g.GroupOutChannels, cg = g.GroupInChannels, kh = g.KernelH, kw = g.KernelW;
        T[] flipped = ArrayPool<T>.Shared.Rent(g.OutChannels * cg * kh * kw);
        // flipped[grp·Cg + c, o, i, j] = w[grp·Og + o, c, KH−1−i, KW−1−j]
        for (int grp = 0; grp < g.Groups; grp++)
            for (int o = 0; o < og; o++)
                for (int c = 0; c < cg; c++)
                    for (int i = 0; i < kh; i++)
                        for (int j = 0; j < kw; j++)
                            flipped[(((grp * cg + c) * og + o) * kh + i) * kw + j] =
                                w[wOff + (((grp * og + o) * cg + c) * kh + kh - 1 - i) * kw + kw - 1 - j];
        return flipped;
    }

    /// <remarks>
    /// The sum over images runs one batch chunk per thread (<see cref="Convolution.SumOverBatch{T}"/>), so the result
    /// does not depend on scheduling.
    /// </remarks>
    public static void BackwardWeight<T>(ConvGeometry g, T[] x, int xOff, T[] dy, int dyOff, T[] dw, int dwOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var l = new Layout(g, Vector512<T>.Count);
        int weightSize = g.OutChannels * l.Taps;
        int[] offsets = TapOffsets(g, l, CeilDiv(l.Taps, WeightTaps) * WeightTaps);
        try
        {
            Convolution.SumOverBatch(g.Batch, threads, dw, dwOff, weightSize, (target, targetOff, first, end) =>
                WeightImages(g, l, x, xOff, dy, dyOff, target, targetOff, offsets, first, end));
        }
        finally
        {
            ArrayPool<int>.Shared.Return(offsets);
        }
    }

    /// <summary>The geometry whose forward pass is the input gradient of a stride-1 <paramref name="g"/>.</summary>
    public static ConvGeometry Transposed(in ConvGeometry g) => new(
        g.Batch, g.OutChannels, g.OutHeight, g.OutWidth, g.InChannels, g.KernelH, g.KernelW,
        StrideH: 1, StrideW: 1,
        PadH: g.DilationH * (g.KernelH - 1) - g.PadH, PadW: g.DilationW * (g.KernelW - 1) - g.PadW,
        DilationH: g.DilationH, DilationW: g.DilationW, Groups: g.Groups);

    /// <summary>
    /// The padded-buffer and slot arithmetic shared by every kernel (see the class remarks): a slot is
    /// <c>SlotWidth</c> consecutive output columns of one row (a vector's lanes here, 14 columns in
    /// <see cref="ChannelConvolution"/>'s forward pass).
    /// </summary>
    internal readonly struct Layout
    {
        public readonly int SlotWidth, Chunks, PaddedWidth, PaddedPlane, PaddedInput, Taps, Slots;

        public Layout(in ConvGeometry g, int slotWidth)
        {
            SlotWidth = slotWidth;
            Chunks = CeilDiv(g.OutWidth, slotWidth);
            // A slot starting at column ow ≤ (Chunks − 1)·S reads up to column Chunks·S − 1 + (KW − 1)·dW.
            PaddedWidth = Math.Max(g.Width + 2 * g.PadW, Chunks * slotWidth + (g.KernelW - 1) * g.DilationW);
            // The last output row reads input row (OH − 1)·sH + (KH − 1)·dH ≤ H + 2·pH − 1.
            PaddedPlane = (g.Height + 2 * g.PadH) * PaddedWidth;
            PaddedInput = g.GroupInChannels * PaddedPlane;
            Taps = g.GroupInChannels * g.KernelH * g.KernelW;
            Slots = g.OutHeight * Chunks;
        }
    }

    /// <summary>
    /// Offsets into the padded input of taps j = (c·KH + kh)·KW + kw: c·Hp·Wp + kh·dH·Wp + kw·dW. Entries from Taps up to
    /// <paramref name="count"/> are 0, so a tile may run past the last tap harmlessly (its results are dropped).
    /// </summary>
    internal static int[] TapOffsets(in ConvGeometry g, in Layout l, int count)
    {
        int[] offsets = ArrayPool<int>.Shared.Rent(count);
        Array.Clear(offsets, 0, count);
        int j = 0;
        for (int c = 0; c < g.GroupInChannels; c++)
            for (int kh = 0; kh < g.KernelH; kh++)
                for (int kw = 0; kw < g.KernelW; kw++)
                    offsets[j++] = c * l.PaddedPlane + kh * g.DilationH * l.PaddedWidth + kw * g.DilationW;
        return offsets;
    }

    /// <summary>Offset of slot s's first input element, before adding a tap offset.</summary>
    internal static int SlotInput(in ConvGeometry g, in Layout l, int s) => s / l.Chunks * g.StrideH * l.PaddedWidth + s % l.Chunks * l.SlotWidth;

    /// <summary>
    /// Copies the group's Cg input planes of one image (from <paramref name="src"/>) into the interior of the padded
    /// buffer; the border is left as it is, which is zero because every buffer is cleared once when rented.
    /// </summary>
    internal static void PadInput<T>(in ConvGeometry g, in Layout l, T* src, T* dst)
        where T : unmanaged
    {
        for (int c = 0; c < g.GroupInChannels; c++)
            CopyRows(src + c * g.Height * g.Width, g.Width, dst + c * l.PaddedPlane + g.PadH * l.PaddedWidth + g.PadW, l.PaddedWidth, g.Height, g.Width);
    }

    private static void ForwardUnits<T>(ConvGeometry g, Layout l, T[] x, int xOff, T[] packed, T[]? bias, int biasOff,
        T[] y, int yOff, int[] offsets, int firstUnit, int endUnit)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int og = g.GroupOutChannels, blocks = CeilDiv(og, ForwardRows), k = l.Taps, outWidth = g.OutWidth, outPlane = g.OutHeight * outWidth;
        // Slots per pass: as many output rows as keep the input rows they read (times Cg planes) within ForwardBlockBytes.
        int rowBytes = g.GroupInChannels * l.PaddedWidth * Unsafe.SizeOf<T>();
        int passRows = Math.Max(1, (ForwardBlockBytes / rowBytes - (g.KernelH - 1) * g.DilationH) / g.StrideH);
        int passSlots = Math.Min(l.Slots, passRows * l.Chunks);
        T[] padded = ArrayPool<T>.Shared.Rent(l.PaddedInput);
        Array.Clear(padded, 0, l.PaddedInput);
        Vector512<T>* acc = stackalloc Vector512<T>[2 * ForwardRows];
        // The lanes a row's last slot keeps: those below OW − (Chunks − 1)·L.
        Vector512<T> tailMask = TailMask<T>(outWidth - (l.Chunks - 1) * l.SlotWidth);
        try
        {
            fixed (T* xp = padded, wp = packed, yp = y, xs = x)
            fixed (int* offp = offsets)
            {
                for (int unit = firstUnit; unit < endUnit;)
                {
                    // This thread's channel blocks [block0, block1) of one (image, group) item share one padded input;
                    // passes over slots go outside the blocks so that each pass's input rows serve them all.
                    int item = unit / blocks, block0 = unit % blocks, block1 = Math.Min(blocks, block0 + endUnit - unit);
                    unit += block1 - block0;
                    int n = item / g.Groups, grp = item % g.Groups;
                    PadInput(g, l, xs + xOff + (n * g.InChannels + grp * g.GroupInChannels) * g.Height * g.Width, xp);
                    for (int pass = 0; pass < l.Slots; pass += passSlots)
                    {
                        int passEnd = Math.Min(l.Slots, pass + passSlots);
                        for (int block = block0; block < block1; block++)
                        {
                            T* w = wp + (grp * blocks + block) * k * ForwardRows;
                            int rows = Math.Min(ForwardRows, og - block * ForwardRows);
                            int o0 = grp * og + block * ForwardRows;
                            T* yBlock = yp + yOff + (n * g.OutChannels + o0) * outPlane;
                            for (int s = pass; s < passEnd; s += 2)
                            {
                                // An odd slot count pairs the last slot with itself; it is stored once.
                                int s1 = Math.Min(s + 1, passEnd - 1);
                                ForwardTile(k, w, offp, xp + SlotInput(g, l, s), xp + SlotInput(g, l, s1), acc);
                                int out0 = SlotOutput(l, outWidth, s), out1 = SlotOutput(l, outWidth, s1);
                                bool whole0 = SlotIsWhole(l, outWidth, s), whole1 = SlotIsWhole(l, outWidth, s1);
                                for (int r = 0; r < rows; r++)
                                {
                                    Vector512<T> b = bias is null ? Vector512<T>.Zero : Vector512.Create(bias[biasOff + o0 + r]);
                                    T* plane = yBlock + r * outPlane;
                                    StoreLanes(plane + out0, acc[2 * r] + b, whole0, tailMask);
                                    if (s1 != s) StoreLanes(plane + out1, acc[2 * r + 1] + b, whole1, tailMask);
                                }
                            }
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(padded);
        }
    }

    /// <summary>Offset of slot s's first element in an output plane (row oh, column ow).</summary>
    private static int SlotOutput(in Layout l, int outWidth, int s) => s / l.Chunks * outWidth + s % l.Chunks * l.SlotWidth;

    /// <summary>Whether all L lanes of slot s lie inside its output row.</summary>
    private static bool SlotIsWhole(in Layout l, int outWidth, int s) => (s % l.Chunks + 1) * l.SlotWidth <= outWidth;

    /// <summary>
    /// acc[2r + q] = Σ_j w[j·8 + r] · x_q[offsets[j] .. + L) for r &lt; 8, q &lt; 2: one 8-channel × 2-slot tile of the
    /// forward product, over all <paramref name="k"/> taps.
    /// </summary>
    private static void ForwardTile<T>(int k, T* w, int* offsets, T* x0, T* x1, Vector512<T>* acc)
        where T : unmanaged
    {
        Vector512<T> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
        Vector512<T> a40 = default, a41 = default, a50 = default, a51 = default, a60 = default, a61 = default, a70 = default, a71 = default;
        for (int j = 0; j < k; j++, w += ForwardRows)
        {
            int o = offsets[j];
            Vector512<T> v0 = Vector512.Load(x0 + o), v1 = Vector512.Load(x1 + o);
            Vector512<T> b = Vector512.Create(w[0]);
            a00 = Fma(b, v0, a00); a01 = Fma(b, v1, a01);
            b = Vector512.Create(w[1]);
            a10 = Fma(b, v0, a10); a11 = Fma(b, v1, a11);
            b = Vector512.Create(w[2]);
            a20 = Fma(b, v0, a20); a21 = Fma(b, v1, a21);
            b = Vector512.Create(w[3]);
            a30 = Fma(b, v0, a30); a31 = Fma(b, v1, a31);
            b = Vector512.Create(w[4]);
            a40 = Fma(b, v0, a40); a41 = Fma(b, v1, a41);
            b = Vector512.Create(w[5]);
            a50 = Fma(b, v0, a50); a51 = Fma(b, v1, a51);
            b = Vector512.Create(w[6]);
            a60 = Fma(b, v0, a60); a61 = Fma(b, v1, a61);
            b = Vector512.Create(w[7]);
            a70 = Fma(b, v0, a70); a71 = Fma(b, v1, a71);
        }
        acc[0] = a00; acc[1] = a01; acc[2] = a10; acc[3] = a11; acc[4] = a20; acc[5] = a21; acc[6] = a30; acc[7] = a31;
        acc[8] = a40; acc[9] = a41; acc[10] = a50; acc[11] = a51; acc[12] = a60; acc[13] = a61; acc[14] = a70; acc[15] = a71;
    }

    /// <summary>Accumulates the weight gradient of images [first, end) into target (overwriting it).</summary>
    private static void WeightImages<T>(ConvGeometry g, Layout l, T[] x, int xOff, T[] dy, int dyOff, T[] target, int targetOff,
        int[] offsets, int first, int end)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int og = g.GroupOutChannels, k = l.Taps;
        int rowBlocks = CeilDiv(og, WeightRows), tapBlocks = CeilDiv(k, WeightTaps);
        // dy is copied too, to rows of Chunks·L with zeroed tails, so lanes past OW contribute nothing; the planes for
        // channels past Og in the last row block stay zero. Its rows start on 64-byte boundaries (one spare vector
        // leaves room to shift), so that the 6 dy loads of a slot never straddle cache lines; the input loads must,
        // being shifted by kw·dW.
        int dyRow = l.Chunks * l.SlotWidth, dyPlane = g.OutHeight * dyRow, dyImage = rowBlocks * WeightRows * dyPlane;
        int images = Math.Clamp(WeightBlockBytes / ((l.PaddedInput + dyImage) * Unsafe.SizeOf<T>()), 1, end - first);
        T[] xs = ArrayPool<T>.Shared.Rent(images * l.PaddedInput), ds = ArrayPool<T>.Shared.Rent(images * dyImage + l.SlotWidth);
        int[] slotDy = ArrayPool<int>.Shared.Rent(images * l.Slots), slotX = ArrayPool<int>.Shared.Rent(images * l.Slots);
        Array.Clear(xs, 0, images * l.PaddedInput);
        Array.Clear(ds, 0, images * dyImage + l.SlotWidth);
        Array.Clear(target, targetOff, g.OutChannels * k);
        Vector512<T>* acc = stackalloc Vector512<T>[WeightRows * WeightTaps];
        try
        {
            fixed (T* xp = xs, dpRaw = ds, tp = target, xsrc = x, dsrc = dy)
            fixed (int* offp = offsets, sdp = slotDy, sxp = slotX)
            {
                int align = (int)((64 - ((nint)dpRaw & 63)) & 63) / Unsafe.SizeOf<T>(); // the array is pinned, so this holds
                T* dp = dpRaw + align;
                for (int grp = 0; grp < g.Groups; grp++)
                {
                    for (int n0 = first; n0 < end; n0 += images)
                    {
                        int count = Math.Min(images, end - n0);
                        for (int i = 0; i < count; i++)
                        {
                            int n = n0 + i;
                            PadInput(g, l, xsrc + xOff + (n * g.InChannels + grp * g.GroupInChannels) * g.Height * g.Width, xp + i * l.PaddedInput);
                            // Row oh of channel o lands at (o·OH + oh)·dyRow: the group's Og·OH rows in one sweep.
                            CopyRows(dsrc + dyOff + (n * g.OutChannels + grp * og) * g.OutHeight * g.OutWidth, g.OutWidth,
                                dp + i * dyImage, dyRow, og * g.OutHeight, g.OutWidth);
                            for (int s = 0; s < l.Slots; s++)
                            {
                                slotDy[i * l.Slots + s] = i * dyImage + s / l.Chunks * dyRow + s % l.Chunks * l.SlotWidth;
                                slotX[i * l.Slots + s] = i * l.PaddedInput + SlotInput(g, l, s);
                            }
                        }
                        for (int rb = 0; rb < rowBlocks; rb++)
                        {
                            int rows = Math.Min(WeightRows, og - rb * WeightRows);
                            for (int tb = 0; tb < tapBlocks; tb++)
                            {
                                WeightTile(count * l.Slots, sdp, sxp, dp + rb * WeightRows * dyPlane, dyPlane, xp, offp + tb * WeightTaps, acc);
                                int taps = Math.Min(WeightTaps, k - tb * WeightTaps);
                                for (int r = 0; r < rows; r++)
                                {
                                    int at = targetOff + (grp * og + rb * WeightRows + r) * k + tb * WeightTaps;
                                    // Only the last tap block can be short; its extra taps read offset 0 and are dropped.
                                    if (taps == WeightTaps)
                                    {
                                        AddSums(tp + at, acc + r * WeightTaps);
                                    }
                                    else
                                    {
                                        for (int t = 0; t < taps; t++) tp[at + t] += Vector512.Sum(acc[r * WeightTaps + t]);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(xs);
            ArrayPool<T>.Shared.Return(ds);
            ArrayPool<int>.Shared.Return(slotDy);
            ArrayPool<int>.Shared.Return(slotX);
        }
    }

    /// <summary>
    /// acc[4r + t] = Σ_s dy_r[slotDy[s] .. + L) ⊙ x[slotX[s] + taps[t] .. + L) for r &lt; 6, t &lt; 4, where dy_r is
    /// dy + r·dyPlane: one 6-channel × 4-tap tile of the weight gradient, still spread across lanes.
    /// </summary>
    private static void WeightTile<T>(int slots, int* slotDy, int* slotX, T* dy, int dyPlane, T* x, int* taps, Vector512<T>* acc)
        where T : unmanaged
    {
        nint t0 = taps[0], t1 = taps[1], t2 = taps[2], t3 = taps[3];
        nint p = dyPlane;
        Vector512<T> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<T> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<T> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<T> a30 = default, a31 = default, a32 = default, a33 = default;
        Vector512<T> a40 = default, a41 = default, a42 = default, a43 = default;
        Vector512<T> a50 = default, a51 = default, a52 = default, a53 = default;
        for (int s = 0; s < slots; s++)
        {
            T* d = dy + slotDy[s];
            T* xs = x + slotX[s];
            Vector512<T> d0 = Vector512.Load(d), d1 = Vector512.Load(d + p), d2 = Vector512.Load(d + 2 * p);
            Vector512<T> d3 = Vector512.Load(d + 3 * p), d4 = Vector512.Load(d + 4 * p), d5 = Vector512.Load(d + 5 * p);
            Vector512<T> v = Vector512.Load(xs + t0);
            a00 = Fma(d0, v, a00); a10 = Fma(d1, v, a10); a20 = Fma(d2, v, a20); a30 = Fma(d3, v, a30); a40 = Fma(d4, v, a40); a50 = Fma(d5, v, a50);
            v = Vector512.Load(xs + t1);
            a01 = Fma(d0, v, a01); a11 = Fma(d1, v, a11); a21 = Fma(d2, v, a21); a31 = Fma(d3, v, a31); a41 = Fma(d4, v, a41); a51 = Fma(d5, v, a51);
            v = Vector512.Load(xs + t2);
            a02 = Fma(d0, v, a02); a12 = Fma(d1, v, a12); a22 = Fma(d2, v, a22); a32 = Fma(d3, v, a32); a42 = Fma(d4, v, a42); a52 = Fma(d5, v, a52);
            v = Vector512.Load(xs + t3);
            a03 = Fma(d0, v, a03); a13 = Fma(d1, v, a13); a23 = Fma(d2, v, a23); a33 = Fma(d3, v, a33); a43 = Fma(d4, v, a43); a53 = Fma(d5, v, a53);
        }
        acc[0] = a00; acc[1] = a01; acc[2] = a02; acc[3] = a03;
        acc[4] = a10; acc[5] = a11; acc[6] = a12; acc[7] = a13;
        acc[8] = a20; acc[9] = a21; acc[10] = a22; acc[11] = a23;
        acc[12] = a30; acc[13] = a31; acc[14] = a32; acc[15] = a33;
        acc[16] = a40; acc[17] = a41; acc[18] = a42; acc[19] = a43;
        acc[20] = a50; acc[21] = a51; acc[22] = a52; acc[23] = a53;
    }

    /// <summary>dst[t] += the lane sum of v[t], for t &lt; 4: four horizontal sums sharing their shuffles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddSums<T>(T* dst, Vector512<T>* v)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            // vhaddps adds neighbours within each 128-bit half: two rounds over the 8-lane folds leave lane i of each
            // half holding part of vector i's sum, and adding the halves finishes it.
            Vector256<float> a = Fold(v[0].AsSingle()), b = Fold(v[1].AsSingle()), c = Fold(v[2].AsSingle()), d = Fold(v[3].AsSingle());
            Vector256<float> h = Avx.HorizontalAdd(Avx.HorizontalAdd(a, b), Avx.HorizontalAdd(c, d));
            Vector128<float> sums = h.GetLower() + h.GetUpper();
            float* f = (float*)dst;
            (Vector128.Load(f) + sums).Store(f);
        }
        else
        {
            Vector256<double> a = Fold(v[0].AsDouble()), b = Fold(v[1].AsDouble()), c = Fold(v[2].AsDouble()), d = Fold(v[3].AsDouble());
            // hadd(a, b) = [a0+a1, b0+b1 | a2+a3, b2+b3]; adding the low halves of ab, cd to their high halves finishes.
            Vector256<double> ab = Avx.HorizontalAdd(a, b), cd = Avx.HorizontalAdd(c, d);
            Vector256<double> sums = Avx.Permute2x128(ab, cd, 0x20) + Avx.Permute2x128(ab, cd, 0x31);
            double* p = (double*)dst;
            (Vector256.Load(p) + sums).Store(p);
        }
    }

    /// <summary>Adds the two 256-bit halves: the first step of a lane sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<TLane> Fold<TLane>(Vector512<TLane> v) => v.GetLower() + v.GetUpper();

    internal static int CeilDiv(int a, int b) => (a + b - 1) / b;
}
