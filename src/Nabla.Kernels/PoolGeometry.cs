namespace Nabla.Kernels;

/// <summary>
/// The shapes and hyper-parameters of a 2-D max or average pooling over NCHW data, as PyTorch's <c>MaxPool2d</c> /
/// <c>AvgPool2d</c> define them with <c>ceil_mode=False</c>: input [Batch, Channels, Height, Width],
/// output [Batch, Channels, OutHeight, OutWidth].
/// </summary>
public readonly record struct PoolGeometry(
    int Batch, int Channels, int Height, int Width,
    int KernelH, int KernelW,
    int StrideH, int StrideW,
    int PadH = 0, int PadW = 0)
{
    /// <summary>floor((H + 2·padH − KH) / strideH) + 1.</summary>
    public int OutHeight => OutputSize(Height, PadH, KernelH, StrideH);

    /// <summary>floor((W + 2·padW − KW) / strideW) + 1.</summary>
    public int OutWidth => OutputSize(Width, PadW, KernelW, StrideW);

    /// <summary>Throws <see cref="ArgumentException"/> when the geometry does not describe a valid pooling.</summary>
    public void Validate()
    {
        if (Batch <= 0 || Channels <= 0 || Height <= 0 || Width <= 0)
            throw new ArgumentException($"Pool2d: input shape [{Batch}, {Channels}, {Height}, {Width}] must have positive sizes.");
        if (KernelH <= 0 || KernelW <= 0)
            throw new ArgumentException($"Pool2d: kernel {KernelH}x{KernelW} must be positive.");
        if (StrideH <= 0 || StrideW <= 0)
            throw new ArgumentException($"Pool2d: stride {StrideH}x{StrideW} must be positive.");
        if (PadH < 0 || PadW < 0)
            throw new ArgumentException($"Pool2d: padding {PadH}x{PadW} must be non-negative.");
        // PyTorch's rule; it also guarantees every window overlaps the real input, so max pooling always has a winner.
        if (PadH > KernelH / 2 || PadW > KernelW / 2)
            throw new ArgumentException($"Pool2d: padding {PadH}x{PadW} must be at most half the kernel {KernelH}x{KernelW}.");
        if (OutHeight <= 0 || OutWidth <= 0)
        {
            string padding = PadH == PadW ? $"{PadH}" : $"{PadH}x{PadW}";
            throw new ArgumentException($"Pool2d: input {Height}x{Width} with padding {padding} is smaller than the kernel {KernelH}x{KernelW}.");
        }
    }

    private static int OutputSize(int size, int pad, int kernel, int stride)
    {
        int span = size + 2 * pad - kernel;
        return stride <= 0 ? 0 : (span < 0 ? -((-span + stride - 1) / stride) : span / stride) + 1;
    }
}
