namespace Nabla.Kernels.Cpu;

/// <summary>Batched matrix products on top of <see cref="Gemm"/>: reads transposed views in place instead of copying them.</summary>
internal static class MatMulKernel
{
    /// <summary>How GEMM should read one matrix operand: transposed or not, with which leading dimension; null when it must be copied.</summary>
    private static (bool Trans, int Ld)? Operand(int rows, int cols, int rowStride, int colStride)
    {
        // Row-major: unit column stride and rows that do not overlap (a stride-0 "expanded" row must be copied).
        if ((colStride == 1 || cols == 1) && (rows == 1 || rowStride >= cols)) return (false, rows == 1 ? Math.Max(cols, 1) : rowStride);
        if ((rowStride == 1 || rows == 1) && (cols == 1 || colStride >= rows)) return (true, cols == 1 ? Math.Max(rows, 1) : colStride);
        return null;
    }

    public static void Run<T>(T[] a, Layout al, T[] b, Layout bl, T[] c, Layout cl, int threads, Action<bool, bool, int, int, int, T[], int, int, T[], int, int, T[], int, int> gemm)
        where T : unmanaged
    {
        int rank = cl.Rank;
        int m = cl.Shape[rank - 2], n = cl.Shape[rank - 1], k = al.Shape[rank - 1];
        if (cl.Count == 0) return;
        var opA = Operand(m, k, al.Strides[rank - 2], al.Strides[rank - 1]);
        var opB = Operand(k, n, bl.Strides[rank - 2], bl.Strides[rank - 1]);
        if (opA is null || opB is null)
        {
            // Exotic strides (e.g. a slice with step): make a dense copy once and multiply that.
            if (opA is null) (a, al) = Dense(a, al);
            if (opB is null) (b, bl) = Dense(b, bl);
            Run(a, al, b, bl, c, cl, threads, gemm);
            return;
        }
        var (ta, lda) = opA.Value;
        var (tb, ldb) = opB.Value;
        int batch = cl.Count / (m * n);
        if (batch == 1)
        {
            gemm(ta, tb, m, n, k, a, al.Offset, lda, b, bl.Offset, ldb, c, cl.Offset, n);
            return;
        }
        // [B, m, k] · [k, n] with a dense, row-major batch: one tall GEMM of (B·m) × n beats B small ones.
        bool bShared = bl.Strides.Take(rank - 2).All(s => s == 0);
        if (bShared && !ta && al.IsContiguous)
        {
            gemm(false, tb, batch * m, n, k, a, al.Offset, k, b, bl.Offset, ldb, c, cl.Offset, n);
            return;
        }
        int[] batchShape = cl.Shape[..(rank - 2)].Append(1).ToArray();
        var cursor = new Odometer(batchShape, al.Strides[..(rank - 2)].Append(0).ToArray(), al.Offset, bl.Strides[..(rank - 2)].Append(0).ToArray(), bl.Offset);
        for (int i = 0; i < batch; i++, cursor.NextRow())
            gemm(ta, tb, m, n, k, a, cursor.A, lda, b, cursor.B, ldb, c, cl.Offset + i * m * n, n);
    }

    private static (T[], Layout) Dense<T>(T[] x, Layout xl) where T : unmanaged
    {
        var dense = new T[xl.Count];
        var layout = Layout.Contiguous(xl.Shape);
        CopyKernels.Copy(x, xl, dense, layout);
        return (dense, layout);
    }
}
