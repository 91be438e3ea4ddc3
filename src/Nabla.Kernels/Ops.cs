namespace Nabla.Kernels;

/// <summary>Elementwise functions of one argument that every backend implements.</summary>
public enum UnaryOp
{
    Neg, Exp, Log, Log1p, Sqrt, Abs, Sign, Sin, Cos, Tanh, Sigmoid, Relu,
    /// <summary>1 where x &gt; 0, else 0: the derivative of <see cref="Relu"/> with PyTorch's convention at 0.</summary>
    Step,
    Reciprocal, Square, Floor,
}

/// <summary>Elementwise functions of two (broadcast) arguments. Comparisons produce <see cref="DType.Bool"/>.</summary>
public enum BinaryOp
{
    Add, Sub, Mul, Div, Pow, Maximum, Minimum,
    /// <summary>a where b &gt; 0, else 0 (one pass for what would be a·step(b): ReLU's backward product).</summary>
    MaskPositive,
    Eq, Ne, Lt, Le, Gt, Ge,
}

/// <summary>Reductions over a set of axes.</summary>
public enum ReduceOp { Sum, Max, Min, Prod }

/// <summary>Index reductions along one axis; they produce <see cref="DType.Int64"/>.</summary>
public enum ArgReduceOp { ArgMax, ArgMin }

public static class OpExtensions
{
    public static bool IsComparison(this BinaryOp op) => op >= BinaryOp.Eq;
}
