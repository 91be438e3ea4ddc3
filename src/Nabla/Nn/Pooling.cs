namespace Nabla.Nn;

/// <summary>Max pooling (002 §10.3). Shapes: [N, C, H, W] → [N, C, ⌊(H + 2p − k)/s⌋ + 1, …]; stride defaults to the kernel size.</summary>
public sealed class MaxPool2d(int kernelSize, int? stride = null, int padding = 0) : Module
{
    public override Tensor Forward(Tensor x, Mode mode) =>
        x.MaxPool2d((kernelSize, kernelSize), (stride ?? kernelSize, stride ?? kernelSize), (padding, padding));

    public override string ToString() => $"MaxPool2d(kernel_size={kernelSize}, stride={stride ?? kernelSize}, padding={padding})";
}

/// <summary>Average pooling (divisor k², zero padding counted). Shapes: [N, C, H, W] → [N, C, OH, OW].</summary>
public sealed class AvgPool2d(int kernelSize, int? stride = null, int padding = 0) : Module
{
    public override Tensor Forward(Tensor x, Mode mode) =>
        x.AvgPool2d((kernelSize, kernelSize), (stride ?? kernelSize, stride ?? kernelSize), (padding, padding));

    public override string ToString() => $"AvgPool2d(kernel_size={kernelSize}, stride={stride ?? kernelSize}, padding={padding})";
}

/// <summary>Global max pooling: the largest value of each channel (translation invariant, 002 Ex 10.6.3). Shapes: [N, C, H, W] → [N, C].</summary>
public sealed class GlobalMaxPool2d : Module
{
    public override Tensor Forward(Tensor x, Mode mode) => x.Max([2, 3]);
}

/// <summary>Global average pooling: the mean of each channel. Shapes: [N, C, H, W] → [N, C].</summary>
public sealed class GlobalAvgPool2d : Module
{
    public override Tensor Forward(Tensor x, Mode mode) => x.Mean([2, 3]);
}

/// <summary>Flattens all dimensions after the first. Shapes: [N, d₁, …, dₖ] → [N, d₁·…·dₖ].</summary>
public sealed class Flatten : Module
{
    public override Tensor Forward(Tensor x, Mode mode) => x.Flatten(1);
}
