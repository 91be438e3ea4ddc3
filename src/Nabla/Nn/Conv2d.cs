using Nabla.Kernels;

namespace Nabla.Nn;

/// <summary>
/// 2-D convolution layer (002 Def 10.2.1 with one tied bias per output channel, as in 000 and PyTorch).
/// Weight [out, in/groups, kH, kW] and bias [out] start as PyTorch's: U(−1/√fan_in, 1/√fan_in), fan_in = in/groups·kH·kW.
/// Shapes: x [N, in, H, W] → y [N, out, OH, OW], OH = ⌊(H + 2·padding − dilation·(kH − 1) − 1)/stride⌋ + 1.
/// </summary>
public sealed class Conv2d : Module
{
    public Conv2d(int inChannels, int outChannels, int kernelSize, Generator generator, int stride = 1, int padding = 0, int dilation = 1, int groups = 1, bool bias = true, DType dtype = DType.Float32)
    {
        if (inChannels <= 0 || outChannels <= 0 || kernelSize <= 0 || stride <= 0 || padding < 0 || dilation <= 0 || groups <= 0)
            throw new ArgumentException($"Conv2d: invalid configuration in={inChannels}, out={outChannels}, kernel={kernelSize}, stride={stride}, padding={padding}, dilation={dilation}, groups={groups}");
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv2d: channels in={inChannels} and out={outChannels} must both be divisible by groups={groups}");
        (InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, Groups) = (inChannels, outChannels, kernelSize, stride, padding, dilation, groups);
        Weight = Init.KaimingUniform([outChannels, inChannels / groups, kernelSize, kernelSize], generator, a: Math.Sqrt(5), dtype);
        double bound = 1 / Math.Sqrt(inChannels / groups * kernelSize * kernelSize);
        Bias = bias ? Init.Uniform([outChannels], -bound, bound, generator, dtype) : null;
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public int Dilation { get; }
    public int Groups { get; }
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public override Tensor Forward(Tensor x, Mode mode) =>
        x.Conv2d(Weight, Bias, (Stride, Stride), (Padding, Padding), (Dilation, Dilation), Groups);

    public override IEnumerable<(string Name, Tensor Value)> NamedParameters()
    {
        yield return ("weight", Weight);
        if (Bias is not null) yield return ("bias", Bias);
    }

    public override string ToString() => $"Conv2d({InChannels}, {OutChannels}, kernel_size={KernelSize}, stride={Stride}, padding={Padding})";
}
