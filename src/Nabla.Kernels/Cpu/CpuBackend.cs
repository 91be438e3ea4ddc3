using System.Numerics;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// The CPU implementation of the kernel contract: managed arrays, SIMD rows through System.Numerics.Tensors,
/// and our own GEMM and convolution kernels. Stateless apart from its thread budget.
/// </summary>
public sealed partial class CpuBackend(int threads) : IBackend
{
    public int Threads { get; } = Math.Max(1, threads);

    /// <summary>Large buffers are recycled once their tensors are unreachable (see <see cref="BufferPool"/>).</summary>
    private readonly BufferPool _pool = new();

    /// <summary>The pool itself, for tests and diagnostics (its reuse counters).</summary>
    internal BufferPool Pool => _pool;

    public Storage Allocate(DType dtype, int length) => Rent(dtype, length, zeroed: true);

    public Storage AllocateUninitialized(DType dtype, int length) => Rent(dtype, length, zeroed: false);

    public IndexBuffer AllocateIndices(int length) => _pool.RentIndices(length);

    public void Recycle(Storage storage)
    {
        switch (storage)
        {
            case CpuStorage<float> f: _pool.Recycle(f); break;
            case CpuStorage<double> d: _pool.Recycle(d); break;
            case CpuStorage<long> l: _pool.Recycle(l); break;
            case CpuStorage<byte> b: _pool.Recycle(b); break;
        }
    }

    private Storage Rent(DType dtype, int length, bool zeroed) => dtype switch
    {
        DType.Float32 => _pool.Rent<float>(length, dtype, zeroed),
        DType.Float64 => _pool.Rent<double>(length, dtype, zeroed),
        DType.Int64 => _pool.Rent<long>(length, dtype, zeroed),
        DType.Bool => _pool.Rent<byte>(length, dtype, zeroed),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public Storage FromArray(Array data, DType dtype) => (data, dtype) switch
    {
        (float[] f, DType.Float32) => new CpuStorage<float>(f, dtype),
        (double[] d, DType.Float64) => new CpuStorage<double>(d, dtype),
        (long[] l, DType.Int64) => new CpuStorage<long>(l, dtype),
        (byte[] b, DType.Bool) => new CpuStorage<byte>(b, dtype),
        _ => throw new ArgumentException($"an array of {data.GetType().GetElementType()?.Name} cannot hold {dtype}", nameof(data)),
    };

    public Array ToArray(View src)
    {
        // Not from the pool: the array leaves the storage and belongs to the caller.
        int n = src.Layout.Count;
        Storage dst = src.DType switch
        {
            DType.Float32 => new CpuStorage<float>(new float[n], DType.Float32),
            DType.Float64 => new CpuStorage<double>(new double[n], DType.Float64),
            DType.Int64 => new CpuStorage<long>(new long[n], DType.Int64),
            _ => new CpuStorage<byte>(new byte[n], DType.Bool),
        };
        Copy(src, new View(dst, Layout.Contiguous(src.Shape)));
        return Data(dst);
    }

    private static Array Data(Storage s) => s switch
    {
        CpuStorage<float> f => f.Data,
        CpuStorage<double> d => d.Data,
        CpuStorage<long> l => l.Data,
        CpuStorage<byte> b => b.Data,
        _ => throw new ArgumentException($"storage {s.GetType().Name} does not belong to the CPU backend"),
    };

    private static T[] Data<T>(View v) where T : unmanaged =>
        (v.Storage as CpuStorage<T>)?.Data ?? throw new ArgumentException($"expected CPU storage of {typeof(T).Name}, got {v.Storage.GetType().Name} ({v.DType})");

    public void Copy(View src, View dst)
    {
        dst.Storage.Touch();
        if (src.DType == dst.DType)
        {
            switch (src.DType)
            {
                case DType.Float32: CopyKernels.Copy(Data<float>(src), src.Layout, Data<float>(dst), dst.Layout); break;
                case DType.Float64: CopyKernels.Copy(Data<double>(src), src.Layout, Data<double>(dst), dst.Layout); break;
                case DType.Int64: CopyKernels.Copy(Data<long>(src), src.Layout, Data<long>(dst), dst.Layout); break;
                default: CopyKernels.Copy(Data<byte>(src), src.Layout, Data<byte>(dst), dst.Layout); break;
            }
            return;
        }
        switch (src.DType)
        {
            case DType.Float32: ConvertFrom(Data<float>(src), src.Layout, dst); break;
            case DType.Float64: ConvertFrom(Data<double>(src), src.Layout, dst); break;
            case DType.Int64: ConvertFrom(Data<long>(src), src.Layout, dst); break;
            default: ConvertFrom(Data<byte>(src), src.Layout, dst); break;
        }
    }

    private static void ConvertFrom<TFrom>(TFrom[] src, Layout sl, View dst) where TFrom : unmanaged, INumber<TFrom>
    {
        bool toBool = dst.DType == DType.Bool;
        switch (dst.DType)
        {
            case DType.Float32: CopyKernels.Convert(src, sl, Data<float>(dst), dst.Layout, toBool); break;
            case DType.Float64: CopyKernels.Convert(src, sl, Data<double>(dst), dst.Layout, toBool); break;
            case DType.Int64: CopyKernels.Convert(src, sl, Data<long>(dst), dst.Layout, toBool); break;
            default: CopyKernels.Convert(src, sl, Data<byte>(dst), dst.Layout, toBool); break;
        }
    }

    public void Fill(View dst, double value)
    {
        dst.Storage.Touch();
        var l = dst.Layout;
        switch (dst.DType)
        {
            case DType.Float32: Data<float>(dst).AsSpan(l.Offset, l.Count).Fill((float)value); break;
            case DType.Float64: Data<double>(dst).AsSpan(l.Offset, l.Count).Fill(value); break;
            case DType.Int64: Data<long>(dst).AsSpan(l.Offset, l.Count).Fill((long)value); break;
            default: Data<byte>(dst).AsSpan(l.Offset, l.Count).Fill(value != 0 ? (byte)1 : (byte)0); break;
        }
    }

    public void Unary(UnaryOp op, View x, View dst)
    {
        dst.Storage.Touch();
        if (dst.DType is not (DType.Float32 or DType.Float64 or DType.Int64))
            throw new NotSupportedException($"{op} is not defined for {dst.DType} tensors");
        var source = DenseSource(x, dst);
        int xo = source.Layout.Offset, yo = dst.Layout.Offset;
        switch (dst.DType)
        {
            case DType.Float32:
            {
                float[] xs = Data<float>(source), ys = Data<float>(dst);
                Chunks.For(dst.Layout.Count, Threads, (op, xs, xo, ys, yo), static (d, s, n) => UnaryKernels.Float<float>(d.op, d.xs.AsSpan(d.xo + s, n), d.ys.AsSpan(d.yo + s, n)));
                break;
            }
            case DType.Float64:
            {
                double[] xs = Data<double>(source), ys = Data<double>(dst);
                Chunks.For(dst.Layout.Count, Threads, (op, xs, xo, ys, yo), static (d, s, n) => UnaryKernels.Float<double>(d.op, d.xs.AsSpan(d.xo + s, n), d.ys.AsSpan(d.yo + s, n)));
                break;
            }
            default:
            {
                long[] xs = Data<long>(source), ys = Data<long>(dst);
                Chunks.For(dst.Layout.Count, Threads, (op, xs, xo, ys, yo), static (d, s, n) => UnaryKernels.Integer<long>(d.op, d.xs.AsSpan(d.xo + s, n), d.ys.AsSpan(d.yo + s, n)));
                break;
            }
        }
    }

    public void Binary(BinaryOp op, View a, View b, View dst)
    {
        dst.Storage.Touch();
        if (op.IsComparison())
        {
            var y = Data<byte>(dst);
            switch (a.DType)
            {
                case DType.Float32: BinaryKernels.Compare(op, Data<float>(a), a.Layout, Data<float>(b), b.Layout, y, dst.Layout); break;
                case DType.Float64: BinaryKernels.Compare(op, Data<double>(a), a.Layout, Data<double>(b), b.Layout, y, dst.Layout); break;
                case DType.Int64: BinaryKernels.Compare(op, Data<long>(a), a.Layout, Data<long>(b), b.Layout, y, dst.Layout); break;
                default: BinaryKernels.Compare(op, Data<byte>(a), a.Layout, Data<byte>(b), b.Layout, y, dst.Layout); break;
            }
            return;
        }
        switch (dst.DType)
        {
            case DType.Float32: Arithmetic<float>(op, a, b, dst, floating: true, Threads); break;
            case DType.Float64: Arithmetic<double>(op, a, b, dst, floating: true, Threads); break;
            case DType.Int64: Arithmetic<long>(op, a, b, dst, floating: false, Threads); break;
            default: Arithmetic<byte>(op, a, b, dst, floating: false, Threads); break;
        }
    }

    private static void Arithmetic<T>(BinaryOp op, View a, View b, View dst, bool floating, int threads) where T : unmanaged, INumber<T>
    {
        T[] x = Data<T>(a), y = Data<T>(b), z = Data<T>(dst);
        Layout xl = a.Layout, yl = b.Layout, zl = dst.Layout;
        switch (op)
        {
            case BinaryOp.Add: BinaryKernels.Run<T, AddFn<T>>(x, xl, y, yl, z, zl, threads); break;
            case BinaryOp.Sub: BinaryKernels.Run<T, SubFn<T>>(x, xl, y, yl, z, zl, threads); break;
            case BinaryOp.Mul: BinaryKernels.Run<T, MulFn<T>>(x, xl, y, yl, z, zl, threads); break;
            case BinaryOp.Div: BinaryKernels.Run<T, DivFn<T>>(x, xl, y, yl, z, zl, threads); break;
            case BinaryOp.Maximum: BinaryKernels.Run<T, MaxFn<T>>(x, xl, y, yl, z, zl, threads); break;
            case BinaryOp.Minimum: BinaryKernels.Run<T, MinFn<T>>(x, xl, y, yl, z, zl, threads); break;
            case BinaryOp.MaskPositive: BinaryKernels.Run<T, MaskPositiveFn<T>>(x, xl, y, yl, z, zl, threads); break;
            case BinaryOp.Pow when floating && typeof(T) == typeof(float):
                BinaryKernels.Run<float, PowFn<float>>((float[])(object)x, xl, (float[])(object)y, yl, (float[])(object)z, zl, threads); break;
            case BinaryOp.Pow when floating:
                BinaryKernels.Run<double, PowFn<double>>((double[])(object)x, xl, (double[])(object)y, yl, (double[])(object)z, zl, threads); break;
            default: throw new NotSupportedException($"{op} is not defined for {dst.DType} tensors");
        }
    }

    public void Where(View cond, View a, View b, View dst)
    {
        dst.Storage.Touch();
        byte[] c = Data<byte>(cond);
        switch (dst.DType)
        {
            case DType.Float32: BinaryKernels.Where(c, cond.Layout, Data<float>(a), a.Layout, Data<float>(b), b.Layout, Data<float>(dst)); break;
            case DType.Float64: BinaryKernels.Where(c, cond.Layout, Data<double>(a), a.Layout, Data<double>(b), b.Layout, Data<double>(dst)); break;
            case DType.Int64: BinaryKernels.Where(c, cond.Layout, Data<long>(a), a.Layout, Data<long>(b), b.Layout, Data<long>(dst)); break;
            default: BinaryKernels.Where(c, cond.Layout, Data<byte>(a), a.Layout, Data<byte>(b), b.Layout, Data<byte>(dst)); break;
        }
    }

    public void Reduce(ReduceOp op, View x, int[] axes, View dst)
    {
        dst.Storage.Touch();
        switch (x.DType)
        {
            case DType.Float32: ReduceKernels.Reduce(op, Data<float>(x), x.Layout, axes, Data<float>(dst)); break;
            case DType.Float64: ReduceKernels.Reduce(op, Data<double>(x), x.Layout, axes, Data<double>(dst)); break;
            case DType.Int64: ReduceKernels.Reduce(op, Data<long>(x), x.Layout, axes, Data<long>(dst)); break;
            default: ReduceKernels.Reduce(op, Data<byte>(x), x.Layout, axes, Data<byte>(dst)); break;
        }
    }

    /// <summary>
    /// The input a dense kernel reads for dst = f(x): x itself when dense and of dst's type, else dst after x is gathered
    /// (and converted) into it, for the kernel to transform in place.
    /// </summary>
    private View DenseSource(View x, View dst)
    {
        if (x.Layout.IsContiguous && x.DType == dst.DType) return x;
        Copy(x, dst);
        return dst;
    }

    public void LogSoftmax(View x, int axis, View dst)
    {
        dst.Storage.Touch();
        var source = DenseSource(x, dst);   // the kernel may work in place
        int[] shape = dst.Layout.Shape;
        var (outer, inner) = Strides.AroundAxis(shape, axis);
        switch (dst.DType)
        {
            case DType.Float32: SoftmaxKernels.LogSoftmax(Data<float>(source), source.Layout.Offset, Data<float>(dst), dst.Layout.Offset, outer, shape[axis], inner, Threads); break;
            case DType.Float64: SoftmaxKernels.LogSoftmax(Data<double>(source), source.Layout.Offset, Data<double>(dst), dst.Layout.Offset, outer, shape[axis], inner, Threads); break;
            default: throw new NotSupportedException($"LogSoftmax is not defined for {dst.DType} tensors");
        }
    }

    public void ArgReduce(ArgReduceOp op, View x, int axis, View dst)
    {
        dst.Storage.Touch();
        long[] y = Data<long>(dst);
        switch (x.DType)
        {
            case DType.Float32: ReduceKernels.ArgReduce(op, Data<float>(x), x.Layout, axis, y); break;
            case DType.Float64: ReduceKernels.ArgReduce(op, Data<double>(x), x.Layout, axis, y); break;
            case DType.Int64: ReduceKernels.ArgReduce(op, Data<long>(x), x.Layout, axis, y); break;
            default: ReduceKernels.ArgReduce(op, Data<byte>(x), x.Layout, axis, y); break;
        }
    }

    public void MatMul(View a, View b, View dst, bool accumulate)
    {
        dst.Storage.Touch();
        int t = Threads;
        switch (dst.DType)
        {
            case DType.Float32:
                MatMulKernel.Run(Data<float>(a), a.Layout, Data<float>(b), b.Layout, Data<float>(dst), dst.Layout, t,
                    (ta, tb, m, n, k, x, xo, lx, y, yo, ly, z, zo, lz) => Gemm.Multiply(ta, tb, m, n, k, 1f, x, xo, lx, y, yo, ly, accumulate ? 1f : 0f, z, zo, lz, t));
                break;
            case DType.Float64:
                MatMulKernel.Run(Data<double>(a), a.Layout, Data<double>(b), b.Layout, Data<double>(dst), dst.Layout, t,
                    (ta, tb, m, n, k, x, xo, lx, y, yo, ly, z, zo, lz) => Gemm.Multiply(ta, tb, m, n, k, 1d, x, xo, lx, y, yo, ly, accumulate ? 1d : 0d, z, zo, lz, t));
                break;
            default: throw new NotSupportedException($"MatMul is not defined for {dst.DType} tensors");
        }
    }

    public void AddMm(View bias, View a, View b, View dst, bool relu, bool reusesB)
    {
        dst.Storage.Touch();
        if (dst.Layout.Rank != 2 || bias.Layout.Rank != 1 || bias.Layout.Shape[0] != dst.Layout.Shape[1])
            throw new ArgumentException($"AddMm: expected a bias [n] and dst [m, n], got [{string.Join(", ", bias.Layout.Shape)}] and [{string.Join(", ", dst.Layout.Shape)}]");
        switch (dst.DType)
        {
            case DType.Float32: AddMm<float>(bias, a, b, dst, relu, reusesB); break;
            case DType.Float64: AddMm<double>(bias, a, b, dst, relu, reusesB); break;
            default: throw new NotSupportedException($"AddMm is not defined for {dst.DType} tensors");
        }
    }

    private void AddMm<T>(View bias, View a, View b, View dst, bool relu, bool reusesB) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        T[] v = Data<T>(bias);
        int vo = bias.Layout.Offset, t = Threads;
        if (bias.Layout.Strides[0] != 1)
        {
            // A strided bias (a view with a step): its n values gathered first, the product reads them contiguous.
            var dense = new T[bias.Layout.Shape[0]];
            CopyKernels.Copy(v, bias.Layout, dense, Layout.Contiguous(bias.Layout.Shape));
            (v, vo) = (dense, 0);
        }
        // One row of x by a weight kept for reuse: the weight's packed panels (made now if missing or stale).
        if (reusesB && dst.Layout.Shape[0] == 1 && (a.Layout.Strides[1] == 1 || a.Layout.Shape[1] == 1)
            && WeightPanels.For(b, Data<T>(b), t) is { } panels)
        {
            Gemm.Multiply(panels, T.One, Data<T>(a), a.Layout.Offset, v, vo, Data<T>(dst), dst.Layout.Offset, t, relu);
            return;
        }
        MatMulKernel.Run(Data<T>(a), a.Layout, Data<T>(b), b.Layout, Data<T>(dst), dst.Layout, t,
            (ta, tb, m, n, k, x, xo, lx, y, yo, ly, z, zo, lz) => Gemm.Multiply(ta, tb, m, n, k, T.One, x, xo, lx, y, yo, ly, v, vo, z, zo, lz, t, relu));
    }

    public void Gather(View src, View index, int axis, View dst)
    {
        dst.Storage.Touch();
        long[] idx = Data<long>(index);
        switch (src.DType)
        {
            case DType.Float32: CopyKernels.Gather(Data<float>(src), src.Layout, idx, index.Layout, axis, Data<float>(dst)); break;
            case DType.Float64: CopyKernels.Gather(Data<double>(src), src.Layout, idx, index.Layout, axis, Data<double>(dst)); break;
            case DType.Int64: CopyKernels.Gather(Data<long>(src), src.Layout, idx, index.Layout, axis, Data<long>(dst)); break;
            default: CopyKernels.Gather(Data<byte>(src), src.Layout, idx, index.Layout, axis, Data<byte>(dst)); break;
        }
    }

    public void IndexSelect(View src, View index, int axis, View dst)
    {
        dst.Storage.Touch();
        long[] idx = Data<long>(index);
        int o = dst.Layout.Offset, t = Threads;
        switch (src.DType)
        {
            case DType.Float32: CopyKernels.IndexSelect(Data<float>(src), src.Layout, idx, index.Layout, axis, Data<float>(dst), o, t); break;
            case DType.Float64: CopyKernels.IndexSelect(Data<double>(src), src.Layout, idx, index.Layout, axis, Data<double>(dst), o, t); break;
            case DType.Int64: CopyKernels.IndexSelect(Data<long>(src), src.Layout, idx, index.Layout, axis, Data<long>(dst), o, t); break;
            default: CopyKernels.IndexSelect(Data<byte>(src), src.Layout, idx, index.Layout, axis, Data<byte>(dst), o, t); break;
        }
    }

    public IPending BeginIndexSelect(View src, View index, int axis, View dst)
    {
        dst.Storage.Touch();
        long[] idx = Data<long>(index);
        int o = dst.Layout.Offset, t = Threads;
        // The pending work holds dst's storage, so the buffer pool cannot hand its memory out again before it is done.
        return src.DType switch
        {
            DType.Float32 => CopyKernels.BeginIndexSelect(Data<float>(src), src.Layout, idx, index.Layout, axis, Data<float>(dst), o, t, dst.Storage),
            DType.Float64 => CopyKernels.BeginIndexSelect(Data<double>(src), src.Layout, idx, index.Layout, axis, Data<double>(dst), o, t, dst.Storage),
            DType.Int64 => CopyKernels.BeginIndexSelect(Data<long>(src), src.Layout, idx, index.Layout, axis, Data<long>(dst), o, t, dst.Storage),
            _ => CopyKernels.BeginIndexSelect(Data<byte>(src), src.Layout, idx, index.Layout, axis, Data<byte>(dst), o, t, dst.Storage),
        };
    }

    public void ScatterAdd(View src, View index, int axis, View dst)
    {
        dst.Storage.Touch();
        long[] idx = Data<long>(index);
        switch (src.DType)
        {
            case DType.Float32: CopyKernels.ScatterAdd(Data<float>(src), src.Layout, idx, index.Layout, axis, Data<float>(dst), dst.Layout); break;
            case DType.Float64: CopyKernels.ScatterAdd(Data<double>(src), src.Layout, idx, index.Layout, axis, Data<double>(dst), dst.Layout); break;
            case DType.Int64: CopyKernels.ScatterAdd(Data<long>(src), src.Layout, idx, index.Layout, axis, Data<long>(dst), dst.Layout); break;
            default: throw new NotSupportedException($"ScatterAdd is not defined for {src.DType} tensors");
        }
    }
}
