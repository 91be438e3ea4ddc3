using System.Numerics;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// Direct nested-loop 2-D convolution: slow, single-threaded and written to be obviously right. It is the oracle the
/// tests hold <see cref="Convolution"/> to; nothing else should call it. Layouts are those of <see cref="Convolution"/>.
/// </summary>
internal static class ReferenceConvolution
{
    /// <summary>y[n,o,oh,ow] = bias[o] + Σ_{c,kh,kw} x[n, g·Cg + c, oh·sH − pH + kh·dH, ow·sW − pW + kw·dW] · w[o,c,kh,kw], g = o / Og.</summary>
    public static void Forward<T>(ConvGeometry g, T[] x, int xOff, T[] w, int wOff, T[]? bias, int biasOff, T[] y, int yOff)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        int cg = g.GroupInChannels, og = g.GroupOutChannels, oh = g.OutHeight, ow = g.OutWidth;
        for (int n = 0; n < g.Batch; n++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        T sum = bias is null ? T.Zero : bias[biasOff + o];
                        for (int c = 0; c < cg; c++)
                            for (int kh = 0; kh < g.KernelH; kh++)
                                for (int kw = 0; kw < g.KernelW; kw++)
                                {
                                    int ih = i * g.StrideH - g.PadH + kh * g.DilationH;
                                    int iw = j * g.StrideW - g.PadW + kw * g.DilationW;
                                    if (ih < 0 || ih >= g.Height || iw < 0 || iw >= g.Width) continue;
                                    int ci = o / og * cg + c;
                                    sum += x[xOff + ((n * g.InChannels + ci) * g.Height + ih) * g.Width + iw]
                                         * w[wOff + ((o * cg + c) * g.KernelH + kh) * g.KernelW + kw];
                                }
                        y[yOff + ((n * g.OutChannels + o) * oh + i) * ow + j] = sum;
                    }
    }

    /// <summary>dx = zero, then every product term of <see cref="Forward{T}"/> scatters dy·w back to the input it read.</summary>
    public static void BackwardInput<T>(ConvGeometry g, T[] dy, int dyOff, T[] w, int wOff, T[] dx, int dxOff)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        int cg = g.GroupInChannels, og = g.GroupOutChannels, oh = g.OutHeight, ow = g.OutWidth;
        Array.Clear(dx, dxOff, g.Batch * g.InChannels * g.Height * g.Width);
        for (int n = 0; n < g.Batch; n++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        T grad = dy[dyOff + ((n * g.OutChannels + o) * oh + i) * ow + j];
                        for (int c = 0; c < cg; c++)
                            for (int kh = 0; kh < g.KernelH; kh++)
                                for (int kw = 0; kw < g.KernelW; kw++)
                                {
                                    int ih = i * g.StrideH - g.PadH + kh * g.DilationH;
                                    int iw = j * g.StrideW - g.PadW + kw * g.DilationW;
                                    if (ih < 0 || ih >= g.Height || iw < 0 || iw >= g.Width) continue;
                                    int ci = o / og * cg + c;
                                    dx[dxOff + ((n * g.InChannels + ci) * g.Height + ih) * g.Width + iw] +=
                                        grad * w[wOff + ((o * cg + c) * g.KernelH + kh) * g.KernelW + kw];
                                }
                    }
    }

    /// <summary>dw[o,c,kh,kw] = Σ_{n,oh,ow} dy[n,o,oh,ow] · x[n, g·Cg + c, ih, iw] over the positions that fall inside the input.</summary>
    public static void BackwardWeight<T>(ConvGeometry g, T[] x, int xOff, T[] dy, int dyOff, T[] dw, int dwOff)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        int cg = g.GroupInChannels, og = g.GroupOutChannels, oh = g.OutHeight, ow = g.OutWidth;
        for (int o = 0; o < g.OutChannels; o++)
            for (int c = 0; c < cg; c++)
                for (int kh = 0; kh < g.KernelH; kh++)
                    for (int kw = 0; kw < g.KernelW; kw++)
                    {
                        T sum = T.Zero;
                        int ci = o / og * cg + c;
                        for (int n = 0; n < g.Batch; n++)
                            for (int i = 0; i < oh; i++)
                                for (int j = 0; j < ow; j++)
                                {
                                    int ih = i * g.StrideH - g.PadH + kh * g.DilationH;
                                    int iw = j * g.StrideW - g.PadW + kw * g.DilationW;
                                    if (ih < 0 || ih >= g.Height || iw < 0 || iw >= g.Width) continue;
                                    sum += dy[dyOff + ((n * g.OutChannels + o) * oh + i) * ow + j]
                                         * x[xOff + ((n * g.InChannels + ci) * g.Height + ih) * g.Width + iw];
                                }
                        dw[dwOff + ((o * cg + c) * g.KernelH + kh) * g.KernelW + kw] = sum;
                    }
    }
}
