namespace Nabla.Kernels.Cpu;

/// <summary>
/// Plain triple-loop GEMM used as the test oracle for <see cref="Gemm"/>. Same contract, no tricks:
/// C = alpha·op(A)·op(B) + beta·C in row-major storage, accumulated in the element type.
/// </summary>
internal static class ReferenceGemm
{
    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C. op(A) is m×k: element (i,p) is a[aOffset + i*lda + p], or a[aOffset + p*lda + i] when transA.
    /// op(B) is k×n: element (p,j) is b[bOffset + p*ldb + j], or b[bOffset + j*ldb + p] when transB. C element (i,j) is c[cOffset + i*ldc + j].
    /// beta == 0 means C is overwritten without being read.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha, float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb, float beta, float[] c, int cOffset, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0f;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[aOffset + p * lda + i] : a[aOffset + i * lda + p];
                    float bv = transB ? b[bOffset + j * ldb + p] : b[bOffset + p * ldb + j];
                    sum += av * bv;
                }
                int ci = cOffset + i * ldc + j;
                c[ci] = beta == 0f ? alpha * sum : alpha * sum + beta * c[ci];
            }
        }
    }

    /// <inheritdoc cref="Multiply(bool, bool, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int)"/>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, double alpha, double[] a, int aOffset, int lda, double[] b, int bOffset, int ldb, double beta, double[] c, int cOffset, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0d;
                for (int p = 0; p < k; p++)
                {
                    double av = transA ? a[aOffset + p * lda + i] : a[aOffset + i * lda + p];
                    double bv = transB ? b[bOffset + j * ldb + p] : b[bOffset + p * ldb + j];
                    sum += av * bv;
                }
                int ci = cOffset + i * ldc + j;
                c[ci] = beta == 0d ? alpha * sum : alpha * sum + beta * c[ci];
            }
        }
    }
}
