namespace Nabla.Kernels.Cpu;

/// <summary>Convolution and pooling entry points of the CPU backend (contiguous NCHW; the tensor layer makes views dense first).</summary>
public sealed partial class CpuBackend
{
    private static int Off(View v) => v.Layout.Offset;

    public void Conv2d(ConvGeometry g, View x, View w, View? bias, View dst)
    {
        dst.Storage.Touch();
        switch (dst.DType)
        {
            case DType.Float32:
                Convolution.Forward(g, Data<float>(x), Off(x), Data<float>(w), Off(w), bias is { } b ? Data<float>(b) : null, bias is { } bo ? Off(bo) : 0, Data<float>(dst), Off(dst), Threads);
                break;
            case DType.Float64:
                Convolution.Forward(g, Data<double>(x), Off(x), Data<double>(w), Off(w), bias is { } b2 ? Data<double>(b2) : null, bias is { } bo2 ? Off(bo2) : 0, Data<double>(dst), Off(dst), Threads);
                break;
            default: throw new NotSupportedException($"Conv2d is not defined for {dst.DType} tensors");
        }
    }

    public void Conv2dBackwardInput(ConvGeometry g, View dy, View w, View dx)
    {
        dx.Storage.Touch();
        if (dx.DType == DType.Float32) Convolution.BackwardInput(g, Data<float>(dy), Off(dy), Data<float>(w), Off(w), Data<float>(dx), Off(dx), Threads);
        else Convolution.BackwardInput(g, Data<double>(dy), Off(dy), Data<double>(w), Off(w), Data<double>(dx), Off(dx), Threads);
    }

    public void Conv2dBackwardWeight(ConvGeometry g, View x, View dy, View dw)
    {
        dw.Storage.Touch();
        if (dw.DType == DType.Float32) Convolution.BackwardWeight(g, Data<float>(x), Off(x), Data<float>(dy), Off(dy), Data<float>(dw), Off(dw), Threads);
        else Convolution.BackwardWeight(g, Data<double>(x), Off(x), Data<double>(dy), Off(dy), Data<double>(dw), Off(dw), Threads);
    }

    public void MaxPool2d(PoolGeometry g, View x, View dst, IndexBuffer? argmax)
    {
        dst.Storage.Touch();
        if (dst.DType == DType.Float32) Pooling.MaxForward(g, Data<float>(x), Off(x), Data<float>(dst), Off(dst), argmax?.Data, Threads);
        else Pooling.MaxForward(g, Data<double>(x), Off(x), Data<double>(dst), Off(dst), argmax?.Data, Threads);
    }

    public void MaxPool2dBackward(PoolGeometry g, View dy, IndexBuffer argmax, View dx)
    {
        dx.Storage.Touch();
        if (dx.DType == DType.Float32) Pooling.MaxBackward(g, Data<float>(dy), Off(dy), argmax.Data, Data<float>(dx), Off(dx), Threads);
        else Pooling.MaxBackward(g, Data<double>(dy), Off(dy), argmax.Data, Data<double>(dx), Off(dx), Threads);
    }

    public void AvgPool2d(PoolGeometry g, View x, View dst)
    {
        dst.Storage.Touch();
        if (dst.DType == DType.Float32) Pooling.AvgForward(g, Data<float>(x), Off(x), Data<float>(dst), Off(dst), Threads);
        else Pooling.AvgForward(g, Data<double>(x), Off(x), Data<double>(dst), Off(dst), Threads);
    }

    public void AvgPool2dBackward(PoolGeometry g, View dy, View dx)
    {
        dx.Storage.Touch();
        if (dx.DType == DType.Float32) Pooling.AvgBackward(g, Data<float>(dy), Off(dy), Data<float>(dx), Off(dx), Threads);
        else Pooling.AvgBackward(g, Data<double>(dy), Off(dy), Data<double>(dx), Off(dx), Threads);
    }
}
