using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// Winograd's minimal filtering F(m×m, r×r) for float32 convolutions with stride 1, no dilation, one group and a square
/// 3×3 or 5×5 kernel (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). Same layouts and
/// contract as <see cref="Convolution"/>; arguments are assumed checked there.
/// </summary>
/// <remarks>
/// <para>
/// The output is cut into m×m tiles, each computed from an α×α input tile (α = m + r − 1 = 6: m = 2 for 5×5 kernels,
/// 4 for 3×3). With d an input tile of one channel and g a kernel,
/// <c>Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A</c>, so a tile costs α² multiplications per (input, output) channel pair instead
/// of m²r²: 36 instead of 100 for 5×5 (2.8× fewer), 36 instead of 144 for 3×3 (4×). Summed over input channels, the
/// elementwise products become α² independent GEMMs: M[ξν] (tiles × O) = V[ξν] (tiles × C) · U[ξν] (C × O), where
/// V = Bᵀ d B holds the transformed input tiles and U = G g Gᵀ the transformed kernels. The transforms are vectorised
/// along channels, which is why the input is first copied to zero-bordered NHWC.
/// </para>
/// <para>
/// The matrices come from Toom–Cook interpolation at the points 0, 1, −1, 2, −2 and ∞ (see <see cref="Build"/>).
/// Their large entries (G up to 16, Aᵀ up to 8) cost float32 accuracy: on 8 images of 32→64 channels the largest error
/// against a float64 reference is ≈ 2·10⁻⁵ of the output's RMS for both kernel sizes (the weight gradient: 3·10⁻⁵ for
/// 5×5, 1.3·10⁻⁵ for 3×3), im2col's ≈ 2·10⁻⁶. Training is not hurt: the LeNet run of scripts/main.sh reaches 0.9225 test
/// accuracy with it on a Zen 3 machine, 0.9214 without it on AVX-512, and 0.9226 there with its forward pass alone, as
/// that machine now dispatches 5×5 layers (docs/results.md; <see cref="Convolution.ForwardAlgorithm{T}"/>); float64 never
/// comes here.
/// </para>
/// <para>
/// The input gradient of a stride-1 convolution is itself one, over dy with the kernels flipped and their channel axes
/// swapped, and padding r − 1 − p; <see cref="BackwardInput"/> runs it through the same code. The weight gradient
/// (<see cref="BackwardWeight"/>) is the adjoint of the forward transforms: the same input tiles, dy's tiles taken to
/// α×α by A, α² GEMMs summed over the tiles, and Gᵀ · G back to r×r.
/// </para>
/// </remarks>
internal static unsafe class WinogradConvolution
{
    /// <summary>Side of a transformed tile, α = m + r − 1, the same for both kernel sizes.</summary>
    private const int Alpha = 6;
    private const int Alpha2 = Alpha * Alpha;
    private const int Lanes = 8;   // Vector256<float>.Count

    /// <summary>
    /// Most tiles transformed and multiplied together, the rows of each of the 36 GEMMs. LeNet's conv2 at batch 64 on
    /// Zen 3 (Winograd over im2col, one noisy run each): 96 tiles 0.87, 48 0.90, 32 0.96.
    /// </summary>
    private const int BlockTiles = 96;

    /// <summary>
    /// Fewest input and output channels for which the transforms pay: channels are padded to whole vectors, and with few of
    /// them the GEMMs are too thin for their cost.
    /// </summary>
    private const int MinChannels = 16;

    /// <summary>
    /// Fewest output tiles per call: the kernels are transformed on every call, and below this that costs more than the
    /// tiles save. Zen 3, two threads, 32→64 channels, Winograd's time over im2col's: 5×5 kernels 1.06 at 98 tiles
    /// (two 14×14 images), 0.78 at 196; 3×3 1.02 at 64 tiles, 0.86 at 128.
    /// </summary>
    private const int MinTiles = 128;

    /// <summary>Aᵀ (m×α), G (α×r) and Bᵀ (α×α), row-major, for one kernel size r.</summary>
    internal sealed record Matrices(int M, int R, float[] At, float[] G, float[] Bt);

    private static readonly Matrices F4x3 = Build(3), F2x5 = Build(5);

    /// <summary>The matrices for an r×r kernel (3 or 5).</summary>
    internal static Matrices For(int r) => r == 3 ? F4x3 : F2x5;

    /// <summary>Whether <paramref name="g"/> is a geometry this algorithm computes.</summary>
    public static bool Accepts(in ConvGeometry g)
        => Vector256.IsHardwareAccelerated && g.Groups == 1 && g.StrideH == 1 && g.StrideW == 1 && g.DilationH == 1 && g.DilationW == 1
        && g.KernelH == g.KernelW && (g.KernelH == 3 || g.KernelH == 5);

    /// <summary>Whether the forward pass of <paramref name="g"/> should run here rather than through im2col.</summary>
    public static bool PrefersForward(in ConvGeometry g)
        => Accepts(g) && g.InChannels >= MinChannels && g.OutChannels >= MinChannels && Tiles(g) >= MinTiles;

    /// <summary>
    /// Whether the weight gradient of <paramref name="g"/> should run here rather than through im2col: as the forward pass,
    /// and 5×5 kernels only. Zen 3, two threads, batch 64 of 14×14, 32→64 channels: 5×5 6.6–7.5 ms against im2col's 9.0;
    /// 3×3 (m = 4, so a quarter as many tiles, each of whose gradients is scaled by up to 8 per axis) 3.2 against 3.3,
    /// no gain worth the accuracy.
    /// </summary>
    public static bool PrefersBackwardWeight(in ConvGeometry g) => g.KernelH == 5 && PrefersForward(g);

    /// <summary>Output tiles of <paramref name="g"/> (m×m each).</summary>
    private static long Tiles(in ConvGeometry g)
    {
        int m = For(g.KernelH).M;
        return (long)g.Batch * ((g.OutHeight + m - 1) / m) * ((g.OutWidth + m - 1) / m);
    }

    /// <summary>Whether the input gradient of <paramref name="g"/> should run here (a forward pass of <see cref="Transposed"/>).</summary>
    public static bool PrefersBackwardInput(in ConvGeometry g)
        => g.PadH < g.KernelH && g.PadW < g.KernelW && PrefersForward(Transposed(g));

    /// <summary>y = conv(x, w) + bias; <paramref name="bias"/> may be null.</summary>
    public static void Forward(ConvGeometry g, float[] x, int xOff, float[] w, int wOff, float[]? bias, int biasOff, float[] y, int yOff, int threads)
        => Run(g, x, xOff, w, wOff, flipped: false, bias, biasOff, y, yOff, threads);

    /// <summary>dx = ∂⟨conv(x, w), dy⟩/∂x, as the convolution of dy with the flipped, channel-swapped kernels.</summary>
    public static void BackwardInput(ConvGeometry g, float[] dy, int dyOff, float[] w, int wOff, float[] dx, int dxOff, int threads)
        => Run(Transposed(g), dy, dyOff, w, wOff, flipped: true, null, 0, dx, dxOff, threads);

    /// <summary>
    /// The stride-1 convolution whose forward pass is <paramref name="g"/>'s input gradient: over dy [N, O, OH, OW], with
    /// O input and C output channels and padding r − 1 − p, so that its output is H×W again.
    /// </summary>
    private static ConvGeometry Transposed(in ConvGeometry g)
        => new(g.Batch, g.OutChannels, g.OutHeight, g.OutWidth, g.InChannels, g.KernelH, g.KernelW,
            PadH: g.KernelH - 1 - g.PadH, PadW: g.KernelW - 1 - g.PadW);

    /// <summary>
    /// The convolution <paramref name="g"/> of x with kernels read from w: w[o, i, k, l] as stored when not
    /// <paramref name="flipped"/>, else w[i, o, r−1−k, r−1−l] (w then being the weights of the transposed geometry).
    /// </summary>
    private static void Run(ConvGeometry g, float[] x, int xOff, float[] w, int wOff, bool flipped, float[]? bias, int biasOff, float[] y, int yOff, int threads)
    {
        var s = new Block(g, threads);
        int cp = s.Cp, op = s.Op, chunks = s.Chunks(threads);
        float[] u = ArrayPool<float>.Shared.Rent(Alpha2 * cp * op);
        float[] xp = ArrayPool<float>.Shared.Rent(g.Batch * s.InputImage);
        try
        {
            TransformWeights(s.T, g, w, wOff, flipped, u, cp, op, threads);
            ToPaddedNhwc(x, xOff, g.InChannels, g.Height, g.Width, g.PadH, g.PadW, xp, s.PaddedHeight, s.PaddedWidth, cp, g.Batch, threads);
            CpuParallel.For(chunks, chunks, chunk =>
            {
                float[] v = ArrayPool<float>.Shared.Rent(Alpha2 * s.InputPlane);
                float[] products = ArrayPool<float>.Shared.Rent(Alpha2 * s.ProductPlane);
                try
                {
                    for (int b = Convolution.ChunkStart(chunk, chunks, s.Blocks); b < Convolution.ChunkStart(chunk + 1, chunks, s.Blocks); b++)
                    {
                        var (first, count) = s.TilesOf(b);
                        fixed (float* pxp = xp, pv = v)
                            for (int i = 0; i < count; i++) s.TransformInput(pxp, first + i, pv + i * cp);
                        // M[ξν] (tiles × op) = V[ξν] (tiles × cp) · U[ξν] (cp × op).
                        for (int e = 0; e < Alpha2; e++)
                            Gemm.Multiply(false, false, count, op, cp, 1f, v, e * s.InputPlane, cp, u, e * cp * op, op, 0f, products, e * s.ProductPlane, op, 1);
                        fixed (float* pm = products, py = y)
                        fixed (float* pb = bias)
                            for (int i = 0; i < count; i++) s.TransformOutput(pm + i * op, first + i, pb == null ? null : pb + biasOff, py + yOff);
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(v);
                    ArrayPool<float>.Shared.Return(products);
                }
            });
        }
        finally
        {
            ArrayPool<float>.Shared.Return(u);
            ArrayPool<float>.Shared.Return(xp);
        }
    }

    /// <summary>dw = ∂⟨conv(x, w), dy⟩/∂w, the adjoint of the forward transforms (see remarks).</summary>
    /// <remarks>
    /// Each output tile is y = Aᵀ [U ⊙ V] A with U = G g Gᵀ, so ∂L/∂U = Σ_tiles V ⊙ (A dy Aᵀ) and ∂L/∂g = Gᵀ (∂L/∂U) G:
    /// per ξν one GEMM dU[ξν] (C × O) = V[ξν]ᵀ (C × tiles) · dY[ξν] (tiles × O) summed over all tiles, where dY = A dy Aᵀ
    /// takes each m×m tile of dy to α×α (zero where the tile hangs past the output). Every step is the transpose of a
    /// linear step of the forward pass, which equals the convolution exactly, so in exact arithmetic this is its gradient.
    /// </remarks>
    public static void BackwardWeight(ConvGeometry g, float[] x, int xOff, float[] dy, int dyOff, float[] dw, int dwOff, int threads)
    {
        var s = new Block(g, threads);
        int cp = s.Cp, op = s.Op, transformedSize = Alpha2 * cp * op;
        float[] xp = ArrayPool<float>.Shared.Rent(g.Batch * s.InputImage);
        float[] dyp = ArrayPool<float>.Shared.Rent(g.Batch * s.GradientImage);
        float[] du = ArrayPool<float>.Shared.Rent(transformedSize);
        try
        {
            ToPaddedNhwc(x, xOff, g.InChannels, g.Height, g.Width, g.PadH, g.PadW, xp, s.PaddedHeight, s.PaddedWidth, cp, g.Batch, threads);
            ToPaddedNhwc(dy, dyOff, g.OutChannels, g.OutHeight, g.OutWidth, 0, 0, dyp, s.GradientHeight, s.GradientWidth, op, g.Batch, threads);
            // dU summed over the blocks of tiles, one run of blocks per thread, as im2col sums over images.
            Convolution.SumOverBatch(s.Blocks, threads, du, 0, transformedSize, (target, targetOff, firstBlock, endBlock) =>
            {
                float[] v = ArrayPool<float>.Shared.Rent(Alpha2 * s.InputPlane);
                float[] gradients = ArrayPool<float>.Shared.Rent(Alpha2 * s.ProductPlane);
                try
                {
                    for (int b = firstBlock; b < endBlock; b++)
                    {
                        var (first, count) = s.TilesOf(b);
                        fixed (float* pxp = xp, pdy = dyp, pv = v, pgy = gradients)
                            for (int i = 0; i < count; i++)
                            {
                                s.TransformInput(pxp, first + i, pv + i * cp);
                                s.TransformGradient(pdy, first + i, pgy + i * op);
                            }
                        // dU[ξν] (cp × op) += V[ξν]ᵀ · dY[ξν]; the run's first block overwrites.
                        for (int e = 0; e < Alpha2; e++)
                            Gemm.Multiply(true, false, cp, op, count, 1f, v, e * s.InputPlane, cp, gradients, e * s.ProductPlane, op,
                                b == firstBlock ? 0f : 1f, target, targetOff + e * cp * op, op, 1);
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(v);
                    ArrayPool<float>.Shared.Return(gradients);
                }
            });
            FromTransformedGradient(s.T, g, du, cp, op, dw, dwOff);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(xp);
            ArrayPool<float>.Shared.Return(dyp);
            ArrayPool<float>.Shared.Return(du);
        }
    }

    private static int RoundUp(int channels) => (channels + Lanes - 1) / Lanes * Lanes;

    /// <summary>
    /// U[ξν] (cp × op, row-major) = G g Gᵀ for every kernel g = w[o, i] (zero for the padding channels), vectorised along o.
    /// </summary>
    private static void TransformWeights(Matrices t, ConvGeometry g, float[] w, int wOff, bool flipped, float[] u, int cp, int op, int threads)
    {
        int chunks = Math.Min(g.InChannels, Math.Max(1, threads));
        CpuParallel.For(chunks, chunks, chunk => TransformWeights(t, g, w, wOff, flipped, u, cp, op,
            Convolution.ChunkStart(chunk, chunks, g.InChannels), Convolution.ChunkStart(chunk + 1, chunks, g.InChannels)));
        for (int e = 0; e < Alpha2; e++)   // the padding channels' rows
            u.AsSpan((e * cp + g.InChannels) * op, (cp - g.InChannels) * op).Clear();
    }

    /// <summary>The kernels of input channels [<paramref name="i0"/>, <paramref name="i1"/>).</summary>
    private static void TransformWeights(Matrices t, in ConvGeometry g, float[] w, int wOff, bool flipped, float[] u, int cp, int op, int i0, int i1)
    {
        int r = t.R, rr = r * r;
        // Element (k, l) of kernel (o, i) is w[wOff + o·strideO + i·strideI + start + step·(k·r + l)].
        long strideO = flipped ? rr : (long)g.InChannels * rr, strideI = flipped ? (long)g.OutChannels * rr : rr;
        int start = flipped ? rr - 1 : 0, step = flipped ? -1 : 1;
        // The kernels regrouped as [i][k·r + l][o], o padded to op with zeros, so that a vector holds 8 output channels:
        // one pass of scalar copies instead of a gather per vector.
        float[] regrouped = ArrayPool<float>.Shared.Rent((i1 - i0) * rr * op);
        var kernel = stackalloc Vector256<float>[rr];
        var half = stackalloc Vector256<float>[Alpha * r];
        try
        {
            fixed (float* pw = w, pk = regrouped, pu = u, pg = t.G)
            {
                if (op != g.OutChannels) new Span<float>(pk, (i1 - i0) * rr * op).Clear();
                for (int o = 0; o < g.OutChannels; o++)
                    for (int i = i0; i < i1; i++)
                    {
                        float* src = pw + wOff + o * strideO + i * strideI + start;
                        float* dst = pk + (long)(i - i0) * rr * op + o;
                        for (int kl = 0; kl < rr; kl++) dst[kl * op] = src[step * kl];
                    }
                for (int i = i0; i < i1; i++)
                {
                    for (int o0 = 0; o0 < op; o0 += Lanes)
                    {
                        for (int kl = 0; kl < rr; kl++) kernel[kl] = Vector256.Load(pk + ((long)(i - i0) * rr + kl) * op + o0);
                        // half = G g (α×r), then U = half Gᵀ (α×α).
                        for (int xi = 0; xi < Alpha; xi++)
                            for (int l = 0; l < r; l++)
                            {
                                var acc = Vector256<float>.Zero;
                                for (int k = 0; k < r; k++) acc += Vector256.Create(pg[xi * r + k]) * kernel[k * r + l];
                                half[xi * r + l] = acc;
                            }
                        for (int xi = 0; xi < Alpha; xi++)
                            for (int nu = 0; nu < Alpha; nu++)
                            {
                                var acc = Vector256<float>.Zero;
                                for (int l = 0; l < r; l++) acc += Vector256.Create(pg[nu * r + l]) * half[xi * r + l];
                                acc.Store(pu + ((long)(xi * Alpha + nu) * cp + i) * op + o0);
                            }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(regrouped);
        }
    }

    /// <summary>
    /// src (N × C × H × W) into dst (N × hp × wp × cp), each image shifted down by <paramref name="padH"/> rows and
    /// right by <paramref name="padW"/> columns, zero elsewhere and in the padding channels; images split over the threads.
    /// </summary>
    private static void ToPaddedNhwc(float[] src, int srcOff, int channels, int height, int width, int padH, int padW,
        float[] dst, int hp, int wp, int cp, int batch, int threads)
    {
        int chunks = Math.Min(batch, Math.Max(1, threads));
        CpuParallel.For(chunks, chunks, chunk =>
        {
            for (int n = Convolution.ChunkStart(chunk, chunks, batch); n < Convolution.ChunkStart(chunk + 1, chunks, batch); n++)
            {
                var image = dst.AsSpan(n * hp * wp * cp, hp * wp * cp);
                image.Clear();
                int plane = height * width;
                fixed (float* ps = src, pd = image)
                    for (int iy = 0; iy < height; iy++)
                    {
                        float* from = ps + srcOff + (long)n * channels * plane + iy * width;
                        float* row = pd + ((long)(iy + padH) * wp + padW) * cp;
                        // 8 channels × 8 pixels at a time through an in-register transpose; the ragged rest one by one.
                        int c = 0;
                        for (; Avx.IsSupported && c + Lanes <= channels; c += Lanes)
                        {
                            int ix = 0;
                            for (; ix + Lanes <= width; ix += Lanes) Transpose.Block(from + (long)c * plane + ix, plane, row + (long)ix * cp + c, cp);
                            for (; ix < width; ix++)
                                for (int k = 0; k < Lanes; k++) row[(long)ix * cp + c + k] = from[(long)(c + k) * plane + ix];
                        }
                        for (; c < channels; c++)
                            for (int ix = 0; ix < width; ix++) row[(long)ix * cp + c] = from[(long)c * plane + ix];
                    }
            }
        });
    }

    /// <summary>
    /// dw[o, i] = Gᵀ dU[·, i, o] G (r×r from α×α) for every kernel, vectorised along o; dU is laid out as U
    /// (<see cref="TransformWeights(Matrices, ConvGeometry, float[], int, bool, float[], int, int, int)"/>).
    /// </summary>
    private static void FromTransformedGradient(Matrices t, in ConvGeometry g, float[] du, int cp, int op, float[] dw, int dwOff)
    {
        int r = t.R, rr = r * r;
        var half = stackalloc Vector256<float>[Alpha * r];
        var kernel = stackalloc Vector256<float>[rr];
        var lanes = stackalloc float[Lanes];
        fixed (float* pdu = du, pw = dw, pg = t.G)
            for (int i = 0; i < g.InChannels; i++)
                for (int o0 = 0; o0 < g.OutChannels; o0 += Lanes)
                {
                    // half = dU G (α×r), then the kernel = Gᵀ half (r×r).
                    for (int xi = 0; xi < Alpha; xi++)
                        for (int l = 0; l < r; l++)
                        {
                            var acc = Vector256<float>.Zero;
                            for (int nu = 0; nu < Alpha; nu++)
                                acc += Vector256.Load(pdu + ((long)(xi * Alpha + nu) * cp + i) * op + o0) * Vector256.Create(pg[nu * r + l]);
                            half[xi * r + l] = acc;
                        }
                    for (int k = 0; k < r; k++)
                        for (int l = 0; l < r; l++)
                        {
                            var acc = Vector256<float>.Zero;
                            for (int xi = 0; xi < Alpha; xi++) acc += Vector256.Create(pg[xi * r + k]) * half[xi * r + l];
                            kernel[k * r + l] = acc;
                        }
                    int count = Math.Min(Lanes, g.OutChannels - o0);
                    for (int kl = 0; kl < rr; kl++)
                    {
                        kernel[kl].Store(lanes);
                        for (int lane = 0; lane < count; lane++) pw[dwOff + ((long)(o0 + lane) * g.InChannels + i) * rr + kl] = lanes[lane];
                    }
                }
    }

    /// <summary>How a convolution is cut into tiles and blocks of tiles, the sizes of its buffers, and the tile transforms.</summary>
    private readonly struct Block
    {
        private readonly ConvGeometry g;
        private readonly Matrices t;
        private readonly int tilesY, tilesX, hp, wp, cp, op, blockTiles, tiles;

        // ConvGeometry computes these on every read; the output transform needs them per pixel.
        private readonly int outHeight, outWidth;

        public Block(in ConvGeometry g, int threads)
        {
            this.g = g;
            t = For(g.KernelH);
            int m = t.M;
            cp = RoundUp(g.InChannels);
            op = RoundUp(g.OutChannels);
            outHeight = g.OutHeight;
            outWidth = g.OutWidth;
            tilesY = (outHeight + m - 1) / m;
            tilesX = (outWidth + m - 1) / m;
            // The zero-bordered input covers every tile's α×α window: tiles·m + r − 1 rows and columns.
            hp = tilesY * m + t.R - 1;
            wp = tilesX * m + t.R - 1;
            tiles = g.Batch * tilesY * tilesX;
            blockTiles = Math.Max(1, Math.Min(BlockTiles, (tiles + threads - 1) / threads));
        }

        public Matrices T => t;

        /// <summary>Input and output channels rounded up to whole vectors.</summary>
        public int Cp => cp;

        /// <inheritdoc cref="Cp"/>
        public int Op => op;

        /// <summary>Rows and columns of the zero-bordered NHWC input.</summary>
        public int PaddedHeight => hp;

        /// <inheritdoc cref="PaddedHeight"/>
        public int PaddedWidth => wp;

        /// <summary>Elements of one image of the zero-bordered NHWC input.</summary>
        public int InputImage => hp * wp * cp;

        /// <summary>Rows and columns of dy in NHWC, zero-extended to whole tiles.</summary>
        public int GradientHeight => tilesY * t.M;

        /// <inheritdoc cref="GradientHeight"/>
        public int GradientWidth => tilesX * t.M;

        /// <summary>Elements of one image of dy in NHWC, zero-extended to whole tiles.</summary>
        public int GradientImage => GradientHeight * GradientWidth * op;

        public int Blocks => (tiles + blockTiles - 1) / blockTiles;

        /// <summary>Runs of whole blocks the threads share out.</summary>
        public int Chunks(int threads) => Math.Min(Blocks, Math.Max(1, threads));

        /// <summary>The first tile of block <paramref name="block"/> and how many it holds.</summary>
        public (int First, int Count) TilesOf(int block) => (block * blockTiles, Math.Min(blockTiles, tiles - block * blockTiles));

        /// <summary>
        /// Elements from one ξν plane of the transformed inputs, or of the products, to the next. The 64 bytes past the
        /// block's tiles keep the 36 planes off a common 4 KiB stride: a tile's transform touches the same offset in every
        /// plane, and at a multiple of 4 KiB apart those lines would all compete for one set of the L1 cache.
        /// </summary>
        public int InputPlane => blockTiles * cp + Skew;

        /// <inheritdoc cref="InputPlane"/>
        public int ProductPlane => blockTiles * op + Skew;

        private const int Skew = 16;

        /// <summary>
        /// V[ξν][tile] (cp values, <paramref name="v"/> + ξν·<see cref="InputPlane"/>) = Bᵀ d B for the α×α window of
        /// <paramref name="tile"/> in the padded NHWC input: each row of d through <see cref="InputRow"/>, then each column.
        /// </summary>
        public void TransformInput(float* xp, int tile, float* v)
        {
            var (n, ty, tx) = Locate(tile);
            float* window = xp + ((long)(n * hp + ty * t.M) * wp + tx * t.M) * cp;
            var rows = stackalloc Vector256<float>[Alpha2];
            var column = stackalloc Vector256<float>[Alpha];
            long across = InputPlane;
            for (int c = 0; c < cp; c += Lanes)
            {
                for (int i = 0; i < Alpha; i++)
                {
                    float* d = window + (long)i * wp * cp + c;
                    InputRow(Vector256.Load(d), Vector256.Load(d + cp), Vector256.Load(d + 2 * cp), Vector256.Load(d + 3 * cp),
                        Vector256.Load(d + 4 * cp), Vector256.Load(d + 5 * cp), rows + i * Alpha);
                }
                for (int nu = 0; nu < Alpha; nu++)
                {
                    InputRow(rows[nu], rows[Alpha + nu], rows[2 * Alpha + nu], rows[3 * Alpha + nu], rows[4 * Alpha + nu], rows[5 * Alpha + nu], column);
                    for (int xi = 0; xi < Alpha; xi++) column[xi].Store(v + (xi * Alpha + nu) * across + c);
                }
            }
        }

        /// <summary>
        /// The m×m outputs of <paramref name="tile"/>, Aᵀ M A + bias, from its products M[ξν] (op values,
        /// <paramref name="products"/> + ξν·<see cref="ProductPlane"/>), stored into y (NCHW) where inside the output.
        /// </summary>
        public void TransformOutput(float* products, int tile, float* bias, float* y)
        {
            var (n, ty, tx) = Locate(tile);
            int m = t.M, outPlane = outHeight * outWidth;
            int rowsLeft = Math.Min(m, outHeight - ty * m), colsLeft = Math.Min(m, outWidth - tx * m);
            long across = ProductPlane;
            var rows = stackalloc Vector256<float>[Alpha * 4];
            var outputs = stackalloc Vector256<float>[16];
            var lanes = stackalloc float[Lanes];
            for (int o0 = 0; o0 < g.OutChannels; o0 += Lanes)
            {
                int count = Math.Min(Lanes, g.OutChannels - o0);
                var b = bias == null ? Vector256<float>.Zero : Lanes256.LoadLanes(bias + o0, Lanes256.TailMask<float>(count));
                // rows[ξ][b] = (M A)[ξ][b], then Y[a][b] = (Aᵀ rows)[a][b].
                for (int xi = 0; xi < Alpha; xi++)
                {
                    float* p = products + xi * Alpha * across + o0;
                    OutputRow(m, Vector256.Load(p), Vector256.Load(p + across), Vector256.Load(p + 2 * across), Vector256.Load(p + 3 * across),
                        Vector256.Load(p + 4 * across), Vector256.Load(p + 5 * across), rows + xi * 4);
                }
                // outputs[b·4 + a] = Y[a][b] + bias, column b of the tile.
                for (int bx = 0; bx < colsLeft; bx++)
                {
                    OutputRow(m, rows[bx], rows[4 + bx], rows[8 + bx], rows[12 + bx], rows[16 + bx], rows[20 + bx], outputs + bx * 4);
                    for (int a = 0; a < rowsLeft; a++) outputs[bx * 4 + a] += b;
                }
                float* dst = y + ((long)n * g.OutChannels + o0) * outPlane + (ty * m) * outWidth + tx * m;
                for (int a = 0; a < rowsLeft; a++)
                {
                    float* run = dst + a * outWidth;
                    if (Avx.IsSupported && count == Lanes && colsLeft == m)
                    {
                        if (m == 2) StorePairs(outputs[a], outputs[4 + a], run, outPlane);
                        else StoreQuads(outputs[a], outputs[4 + a], outputs[8 + a], outputs[12 + a], run, outPlane);
                        continue;
                    }
                    for (int bx = 0; bx < colsLeft; bx++)
                    {
                        outputs[bx * 4 + a].Store(lanes);
                        for (int lane = 0; lane < count; lane++) run[lane * outPlane + bx] = lanes[lane];
                    }
                }
            }
        }

        /// <summary>
        /// Two adjacent pixels of 8 channels, p0 and p1 (lane c = channel c), to run[c·plane], run[c·plane + 1]: the
        /// unpacks pair each channel's two values into one 64-bit lane, stored whole instead of as two scalars.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StorePairs(Vector256<float> p0, Vector256<float> p1, float* run, nint plane)
        {
            // Per 128-bit half, UnpackLow holds channels (0, 1) / (4, 5) and UnpackHigh (2, 3) / (6, 7).
            var low = Avx.UnpackLow(p0, p1).AsDouble();
            var high = Avx.UnpackHigh(p0, p1).AsDouble();
            Vector128<double> l0 = low.GetLower(), l1 = low.GetUpper(), h0 = high.GetLower(), h1 = high.GetUpper();
            Sse2.StoreLow((double*)run, l0);
            Sse2.StoreHigh((double*)(run + plane), l0);
            Sse2.StoreLow((double*)(run + 2 * plane), h0);
            Sse2.StoreHigh((double*)(run + 3 * plane), h0);
            Sse2.StoreLow((double*)(run + 4 * plane), l1);
            Sse2.StoreHigh((double*)(run + 5 * plane), l1);
            Sse2.StoreLow((double*)(run + 6 * plane), h1);
            Sse2.StoreHigh((double*)(run + 7 * plane), h1);
        }

        /// <summary>Four adjacent pixels of 8 channels to run[c·plane + 0‥3]: a 4×4 transpose in each 128-bit half.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StoreQuads(Vector256<float> p0, Vector256<float> p1, Vector256<float> p2, Vector256<float> p3, float* run, nint plane)
        {
            var t0 = Avx.UnpackLow(p0, p1).AsDouble();    // (p0, p1) of channels 0, 1 | 4, 5
            var t1 = Avx.UnpackHigh(p0, p1).AsDouble();   // 2, 3 | 6, 7
            var t2 = Avx.UnpackLow(p2, p3).AsDouble();
            var t3 = Avx.UnpackHigh(p2, p3).AsDouble();
            var c0 = Avx.UnpackLow(t0, t2).AsSingle();    // channel 0 | 4
            var c1 = Avx.UnpackHigh(t0, t2).AsSingle();   // 1 | 5
            var c2 = Avx.UnpackLow(t1, t3).AsSingle();    // 2 | 6
            var c3 = Avx.UnpackHigh(t1, t3).AsSingle();   // 3 | 7
            c0.GetLower().Store(run);
            c1.GetLower().Store(run + plane);
            c2.GetLower().Store(run + 2 * plane);
            c3.GetLower().Store(run + 3 * plane);
            c0.GetUpper().Store(run + 4 * plane);
            c1.GetUpper().Store(run + 5 * plane);
            c2.GetUpper().Store(run + 6 * plane);
            c3.GetUpper().Store(run + 7 * plane);
        }

        /// <summary>
        /// dY[ξν][tile] (op values, <paramref name="gradient"/> + ξν·<see cref="ProductPlane"/>) = A dy Aᵀ for the m×m tile
        /// of dy (NHWC, whole tiles): each row through <see cref="GradientRow"/>, then each of the α columns.
        /// </summary>
        public void TransformGradient(float* dy, int tile, float* gradient)
        {
            var (n, ty, tx) = Locate(tile);
            int m = t.M, wq = GradientWidth;
            float* window = dy + ((long)(n * GradientHeight + ty * m) * wq + tx * m) * op;
            var rows = stackalloc Vector256<float>[4 * Alpha];
            var column = stackalloc Vector256<float>[Alpha];
            var zero = Vector256<float>.Zero;
            long across = ProductPlane;
            for (int o = 0; o < op; o += Lanes)
            {
                for (int a = 0; a < m; a++)
                {
                    float* d = window + (long)a * wq * op + o;
                    GradientRow(m, Vector256.Load(d), Vector256.Load(d + op), m == 4 ? Vector256.Load(d + 2 * op) : zero,
                        m == 4 ? Vector256.Load(d + 3 * op) : zero, rows + a * Alpha);
                }
                for (int nu = 0; nu < Alpha; nu++)
                {
                    GradientRow(m, rows[nu], rows[Alpha + nu], m == 4 ? rows[2 * Alpha + nu] : zero, m == 4 ? rows[3 * Alpha + nu] : zero, column);
                    for (int xi = 0; xi < Alpha; xi++) column[xi].Store(gradient + (xi * Alpha + nu) * across + o);
                }
            }
        }

        private (int N, int Ty, int Tx) Locate(int tile)
        {
            int perImage = tilesY * tilesX, rest = tile % perImage;
            return (tile / perImage, rest / tilesX, rest % tilesX);
        }
    }

    /// <summary>
    /// One column of Bᵀ d: result[ξ] = Σᵢ Bᵀ[ξ, i] dᵢ, written out for the points 0, ±1, ±2, ∞ with rows scaled to integers
    /// (see <see cref="Build"/>; a test checks the two agree).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void InputRow(Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3, Vector256<float> d4, Vector256<float> d5,
        Vector256<float>* result)
    {
        var four = Vector256.Create(4f);
        var five = Vector256.Create(5f);
        var d4m2 = d4 - d2;
        var d3m1 = d3 - d1;
        result[0] = four * d0 - five * d2 + d4;
        result[1] = (d4 + d3) - four * (d1 + d2);
        result[2] = (d4 - d3) + four * (d1 - d2);
        result[3] = d4m2 + d3m1 + d3m1;
        result[4] = d4m2 - d3m1 - d3m1;
        result[5] = four * d1 - five * d3 + d5;
    }

    /// <summary>
    /// Aᵀ M for one column M of m₀ … m₅ and m outputs (2 or 4): result[a] = Σ_ξ Aᵀ[a, ξ] m_ξ, written out for the points 0, ±1, ±2, ∞ (a test
    /// checks it against <see cref="Build"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void OutputRow(int m, Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5,
        Vector256<float>* result)
    {
        var sum12 = m1 + m2;
        var dif12 = m1 - m2;
        var sum34 = m3 + m4;
        var dif34 = m3 - m4;
        result[0] = m0 + sum12 + sum34;
        if (m == 2)
        {
            result[1] = dif12 + dif34 + dif34 + m5;
            return;
        }
        var two = Vector256.Create(2f);
        var four = Vector256.Create(4f);
        var eight = Vector256.Create(8f);
        result[1] = dif12 + two * dif34;
        result[2] = sum12 + four * sum34;
        result[3] = dif12 + eight * dif34 + m5;
    }

    /// <summary>
    /// A y for one column y of m values (2 or 4; y₂ and y₃ ignored when m = 2): result[ξ] = Σₐ Aᵀ[a, ξ] yₐ, the transpose
    /// of <see cref="OutputRow"/>, i.e. the polynomial with coefficients y evaluated at 0, 1, −1, 2, −2 and ∞ (a test
    /// checks it against <see cref="Build"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void GradientRow(int m, Vector256<float> y0, Vector256<float> y1, Vector256<float> y2, Vector256<float> y3, Vector256<float>* result)
    {
        result[0] = y0;
        if (m == 2)
        {
            var twice = y1 + y1;
            result[1] = y0 + y1;
            result[2] = y0 - y1;
            result[3] = y0 + twice;
            result[4] = y0 - twice;
            result[5] = y1;
            return;
        }
        var even = y0 + y2;
        var odd = y1 + y3;
        var evenAt2 = y0 + Vector256.Create(4f) * y2;
        var oddAt2 = Vector256.Create(2f) * y1 + Vector256.Create(8f) * y3;
        result[1] = even + odd;
        result[2] = even - odd;
        result[3] = evenAt2 + oddAt2;
        result[4] = evenAt2 - oddAt2;
        result[5] = y3;
    }

    /// <summary>
    /// Toom–Cook matrices for F(m, r), α = m + r − 1 = 6, from the points 0, 1, −1, 2, −2 and ∞.
    /// </summary>
    /// <remarks>
    /// The linear convolution s = h * x of a length-m and a length-r sequence is a product of polynomials of degree α − 1:
    /// evaluate both at the α points (Eₕ h, Eₓ x; at ∞ a polynomial's value is its leading coefficient), multiply
    /// pointwise, and interpolate back, s = R (Eₕ h ⊙ Eₓ x), with R built from the Lagrange basis of the finite points
    /// plus the product Π(z − pⱼ) for ∞. The correlation the layer computes, yᵢ = Σₖ gₖ dᵢ₊ₖ, is that bilinear map
    /// transposed in h (⟨s, d⟩ = ⟨h, y⟩ when x = g), so y = Eₕᵀ [(Eₓ g) ⊙ (Rᵀ d)]: Aᵀ = Eₕᵀ, G = Eₓ, Bᵀ = Rᵀ. Nested
    /// once per axis it gives the 2-D form.
    /// </remarks>
    private static Matrices Build(int r)
    {
        int m = Alpha - r + 1;
        double[] points = [0, 1, -1, 2, -2];
        var eh = Evaluation(points, m);
        var ex = Evaluation(points, r);
        var rec = new double[Alpha, Alpha];
        var denominators = new double[Alpha];
        for (int j = 0; j <= points.Length; j++)
        {
            // Column j: the coefficients of Lⱼ(z) = Π_{k≠j} (z − pₖ)/(pⱼ − pₖ), or of Π (z − pₖ) for ∞.
            double[] poly = [1];
            double scale = 1;
            for (int k = 0; k < points.Length; k++)
            {
                if (k == j) continue;
                poly = TimesLinear(poly, -points[k]);
                if (j < points.Length) scale *= points[j] - points[k];
            }
            for (int c = 0; c < poly.Length; c++) rec[c, j] = poly[c];
            denominators[j] = scale;
        }
        var at = new float[m * Alpha];
        var gm = new float[Alpha * r];
        var bt = new float[Alpha2];
        for (int xi = 0; xi < Alpha; xi++)
        {
            for (int a = 0; a < m; a++) at[a * Alpha + xi] = (float)eh[xi, a];
            for (int k = 0; k < r; k++) gm[xi * r + k] = (float)(ex[xi, k] / denominators[xi]);
            for (int i = 0; i < Alpha; i++) bt[xi * Alpha + i] = (float)rec[i, xi];
        }
        return new Matrices(m, r, at, gm, bt);
    }

    /// <summary>Row j evaluates a polynomial of <paramref name="length"/> coefficients at point j; the last row at ∞.</summary>
    private static double[,] Evaluation(double[] points, int length)
    {
        var e = new double[Alpha, length];
        for (int j = 0; j < points.Length; j++)
            for (int i = 0; i < length; i++) e[j, i] = Math.Pow(points[j], i);
        e[Alpha - 1, length - 1] = 1;
        return e;
    }

    /// <summary>The coefficients (lowest first) of poly(z)·(z + c).</summary>
    private static double[] TimesLinear(double[] poly, double c)
    {
        var result = new double[poly.Length + 1];
        for (int i = 0; i < poly.Length; i++)
        {
            result[i] += poly[i] * c;
            result[i + 1] += poly[i];
        }
        return result;
    }
}
