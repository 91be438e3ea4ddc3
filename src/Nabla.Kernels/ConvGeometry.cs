namespace Nabla.Kernels;

/// <summary>
/// The shapes and hyper-parameters of a 2-D convolution over NCHW data, as PyTorch's <c>Conv2d</c> defines them:
/// input [Batch, InChannels, Height, Width], weight [OutChannels, InChannels/Groups, KernelH, KernelW],
/// output [Batch, OutChannels, OutHeight, OutWidth]. Padding is zero padding on both sides.
/// </summary>
public readonly record struct ConvGeometry(
    int Batch, int InChannels, int Height, int Width,
    int OutChannels, int KernelH, int KernelW,
    int StrideH = 1, int StrideW = 1,
    int PadH = 0, int PadW = 0,
    int DilationH = 1, int DilationW = 1,
    int Groups = 1)
{
    /// <summary>floor((H + 2·padH − dilationH·(KH − 1) − 1) / strideH) + 1.</summary>
    public int OutHeight => OutputSize(Height, PadH, KernelH, DilationH, StrideH);

    /// <summary>floor((W + 2·padW − dilationW·(KW − 1) − 1) / strideW) + 1.</summary>
    public int OutWidth => OutputSize(Width, PadW, KernelW, DilationW, StrideW);

    /// <summary>Input channels each group sees (the weight's second dimension).</summary>
    public int GroupInChannels => InChannels / Groups;

    /// <summary>Output channels each group produces.</summary>
    public int GroupOutChannels => OutChannels / Groups;

    /// <summary>Throws <see cref="ArgumentException"/> when the geometry does not describe a valid convolution.</summary>
    public void Validate()
    {
        if (Batch <= 0 || InChannels <= 0 || Height <= 0 || Width <= 0)
            throw new ArgumentException($"Conv2d: input shape [{Batch}, {InChannels}, {Height}, {Width}] must have positive sizes.");
        if (OutChannels <= 0 || KernelH <= 0 || KernelW <= 0)
            throw new ArgumentException($"Conv2d: out channels {OutChannels} and kernel {KernelH}x{KernelW} must be positive.");
        if (StrideH <= 0 || StrideW <= 0)
            throw new ArgumentException($"Conv2d: stride {StrideH}x{StrideW} must be positive.");
        if (PadH < 0 || PadW < 0)
            throw new ArgumentException($"Conv2d: padding {PadH}x{PadW} must be non-negative.");
        if (DilationH <= 0 || DilationW <= 0)
            throw new ArgumentException($"Conv2d: dilation {DilationH}x{DilationW} must be positive.");
        if (Groups <= 0)
            throw new ArgumentException($"Conv2d: groups {Groups} must be positive.");
        if (InChannels % Groups != 0)
            throw new ArgumentException($"Conv2d: in channels {InChannels} are not divisible by groups {Groups}.");
        if (OutChannels % Groups != 0)
            throw new ArgumentException($"Conv2d: out channels {OutChannels} are not divisible by groups {Groups}.");
        if (OutHeight <= 0 || OutWidth <= 0)
        {
            int dilatedH = DilationH * (KernelH - 1) + 1, dilatedW = DilationW * (KernelW - 1) + 1;
            string padding = PadH == PadW ? $"{PadH}" : $"{PadH}x{PadW}";
            throw new ArgumentException(
                $"Conv2d: input {Height}x{Width} with padding {padding} is smaller than the dilated kernel {dilatedH}x{dilatedW}.");
        }
    }

    private static int OutputSize(int size, int pad, int kernel, int dilation, int stride)
    {
        // Integer division truncates toward zero, so a negative numerator is floored by hand; it only matters for
        // reporting "too small" inputs, where the result must come out ≤ 0.
        int span = size + 2 * pad - dilation * (kernel - 1) - 1;
        return stride <= 0 ? 0 : (span < 0 ? -((-span + stride - 1) / stride) : span / stride) + 1;
    }
}
