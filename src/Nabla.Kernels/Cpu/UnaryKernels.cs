using System.Numerics;
using System.Numerics.Tensors;

namespace Nabla.Kernels.Cpu;

/// <summary>Unary elementwise kernels on a dense row (in place allowed: x and y may be the same span).</summary>
internal static class UnaryKernels
{
    public static void Float<T>(UnaryOp op, ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(x, y); break;
            case UnaryOp.Exp: TensorPrimitives.Exp(x, y); break;
            case UnaryOp.Log: TensorPrimitives.Log(x, y); break;
            case UnaryOp.Log1p: Log1p(x, y); break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case UnaryOp.Abs: TensorPrimitives.Abs(x, y); break;
            case UnaryOp.Sign: Sign(x, y); break;
            case UnaryOp.Sin: TensorPrimitives.Sin(x, y); break;
            case UnaryOp.Cos: TensorPrimitives.Cos(x, y); break;
            case UnaryOp.Tanh: TensorPrimitives.Tanh(x, y); break;
            case UnaryOp.Sigmoid: TensorPrimitives.Sigmoid(x, y); break;
            case UnaryOp.Relu: TensorPrimitives.Max(x, T.Zero, y); break;
            case UnaryOp.Step: Step(x, y); break;
            case UnaryOp.Reciprocal: TensorPrimitives.Reciprocal(x, y); break;
            case UnaryOp.Square: TensorPrimitives.Multiply(x, x, y); break;
            case UnaryOp.Floor: TensorPrimitives.Floor(x, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    public static void Integer<T>(UnaryOp op, ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, INumber<T>
    {
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(x, y); break;
            case UnaryOp.Abs: TensorPrimitives.Abs(x, y); break;
            case UnaryOp.Square: TensorPrimitives.Multiply(x, x, y); break;
            case UnaryOp.Sign: Sign(x, y); break;
            case UnaryOp.Relu: TensorPrimitives.Max(x, T.Zero, y); break;
            case UnaryOp.Step: Step(x, y); break;
            default: throw new NotSupportedException($"{op} is not defined for integer tensors; convert to a floating dtype first");
        }
    }

    /// <summary>
    /// log(1+x) without the cancellation of computing 1+x first: with u = fl(1+x), log(u)·x/(u−1) corrects the
    /// rounding of u (Goldberg, "What every computer scientist should know about floating-point arithmetic", Thm 4).
    /// </summary>
    private static void Log1p<T>(ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i];
            T u = T.One + v;
            y[i] = u == T.One ? v : T.IsPositiveInfinity(u) ? u : T.Log(u) * v / (u - T.One);
        }
    }

    /// <summary>sign(x) ∈ {−1, 0, 1}; NaN stays NaN.</summary>
    private static void Sign<T>(ReadOnlySpan<T> x, Span<T> y) where T : INumber<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i];
            y[i] = v > T.Zero ? T.One : v < T.Zero ? -T.One : v;
        }
    }

    private static void Step<T>(ReadOnlySpan<T> x, Span<T> y) where T : INumber<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? T.One : T.Zero;
    }
}
