using Nabla.Kernels;

namespace Nabla.Nn;

/// <summary>Parameter initializers. Each returns a new leaf tensor that requires gradients.</summary>
public static class Init
{
    /// <summary>U(low, high).</summary>
    public static Tensor Uniform(int[] shape, double low, double high, Generator g, DType dtype = DType.Float32) =>
        Tensor.Uniform(shape, low, high, g, dtype).RequireGrad();

    /// <summary>N(mean, std²).</summary>
    public static Tensor Normal(int[] shape, double mean, double std, Generator g, DType dtype = DType.Float32) =>
        Tensor.Normal(shape, mean, std, g, dtype).RequireGrad();

    public static Tensor Zeros(int[] shape, DType dtype = DType.Float32) => Tensor.Zeros(shape, dtype).RequireGrad();

    public static Tensor Ones(int[] shape, DType dtype = DType.Float32) => Tensor.Ones(shape, dtype).RequireGrad();

    /// <summary>Fan-in and fan-out of a weight of shape [out, in, k…]: in·Πk and out·Πk.</summary>
    public static (int FanIn, int FanOut) Fans(int[] shape)
    {
        if (shape.Length < 2) throw new ArgumentException($"Fans: a weight needs at least 2 dimensions, got {Tensor.ShapeString(shape)}");
        int receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>Glorot/Xavier uniform: U(−a, a) with a = gain·√(6/(fan_in + fan_out)).</summary>
    public static Tensor XavierUniform(int[] shape, Generator g, double gain = 1, DType dtype = DType.Float32)
    {
        var (fanIn, fanOut) = Fans(shape);
        double a = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        return Uniform(shape, -a, a, g, dtype);
    }

    /// <summary>Glorot/Xavier normal: N(0, σ²) with σ = gain·√(2/(fan_in + fan_out)).</summary>
    public static Tensor XavierNormal(int[] shape, Generator g, double gain = 1, DType dtype = DType.Float32)
    {
        var (fanIn, fanOut) = Fans(shape);
        return Normal(shape, 0, gain * Math.Sqrt(2.0 / (fanIn + fanOut)), g, dtype);
    }

    /// <summary>
    /// He/Kaiming uniform for a leaky-ReLU of slope <paramref name="a"/>: U(−b, b) with b = √3·gain/√fan_in and
    /// gain = √(2/(1 + a²)). PyTorch's default for Linear and Conv2d weights is a = √5, i.e. b = 1/√fan_in.
    /// </summary>
    public static Tensor KaimingUniform(int[] shape, Generator g, double a = 0, DType dtype = DType.Float32)
    {
        var (fanIn, _) = Fans(shape);
        double bound = Math.Sqrt(3.0) * Math.Sqrt(2.0 / (1 + a * a)) / Math.Sqrt(fanIn);
        return Uniform(shape, -bound, bound, g, dtype);
    }

    /// <summary>He/Kaiming normal: N(0, σ²) with σ = √(2/(1 + a²))/√fan_in.</summary>
    public static Tensor KaimingNormal(int[] shape, Generator g, double a = 0, DType dtype = DType.Float32)
    {
        var (fanIn, _) = Fans(shape);
        return Normal(shape, 0, Math.Sqrt(2.0 / (1 + a * a)) / Math.Sqrt(fanIn), g, dtype);
    }
}
