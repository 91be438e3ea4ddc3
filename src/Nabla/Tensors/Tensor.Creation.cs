using Nabla.Kernels;

namespace Nabla;

public sealed partial class Tensor
{
    private static Device Or(Device? device) => device ?? Device.Cpu;

    private static int CountOf(int[] shape, string op)
    {
        long n = 1;
        foreach (int s in shape)
        {
            if (s < 0) throw new ArgumentException($"{op}: negative dimension in shape {ShapeString(shape)}");
            n *= s;
        }
        if (n > Array.MaxLength) throw new ArgumentException($"{op}: shape {ShapeString(shape)} has {n} elements, more than a tensor can hold");
        return (int)n;
    }

    public static Tensor Zeros(params int[] shape) => Zeros(shape, DType.Float32);

    public static Tensor Zeros(int[] shape, DType dtype, Device? device = null)
    {
        CountOf(shape, "Zeros");
        return Empty((int[])shape.Clone(), dtype, Or(device));
    }

    public static Tensor Ones(params int[] shape) => Full(shape, 1.0, DType.Float32);

    public static Tensor Ones(int[] shape, DType dtype, Device? device = null) => Full(shape, 1.0, dtype, device);

    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32, Device? device = null)
    {
        var t = Zeros(shape, dtype, device);
        if (value != 0) t.Device.Backend.Fill(t.View, value);
        return t;
    }

    /// <summary>A 0-dimensional tensor holding one value.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, Device? device = null) => Full([], value, dtype, device);

    public static Tensor ZerosLike(Tensor t) => Zeros(t.Shape, t.DType, t.Device);

    public static Tensor OnesLike(Tensor t) => Full(t.Shape, 1.0, t.DType, t.Device);

    public static Tensor FullLike(Tensor t, double value) => Full(t.Shape, value, t.DType, t.Device);

    /// <summary>Values start, start+step, … up to but excluding end (PyTorch's <c>arange</c>).</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.Float32, Device? device = null)
    {
        if (step == 0) throw new ArgumentException("Arange: step must be non-zero");
        double span = (end - start) / step;
        int n = Math.Max(0, (int)Math.Ceiling(span));
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = start + i * step;
        return FromArray(values, n).To(dtype).ToDevice(Or(device));
    }

    public static Tensor Arange(int n, DType dtype = DType.Int64, Device? device = null) => Arange(0, n, 1, dtype, device);

    /// <summary><paramref name="steps"/> evenly spaced values from start to end inclusive.</summary>
    public static Tensor Linspace(double start, double end, int steps, DType dtype = DType.Float32, Device? device = null)
    {
        if (steps < 0) throw new ArgumentException($"Linspace: number of steps must be non-negative, got {steps}");
        var values = new double[steps];
        double h = steps > 1 ? (end - start) / (steps - 1) : 0;
        // Fill from both ends, as PyTorch does, so the last value is exactly `end`.
        for (int i = 0; i < steps; i++) values[i] = i < steps / 2 ? start + i * h : end - (steps - 1 - i) * h;
        if (steps == 1) values[0] = start; // a single step is the start, as in PyTorch (the loop above would give end)
        return FromArray(values, steps).To(dtype).ToDevice(Or(device));
    }

    /// <summary>The n×m matrix with ones on the diagonal.</summary>
    public static Tensor Eye(int n, int? m = null, DType dtype = DType.Float32, Device? device = null)
    {
        int cols = m ?? n;
        var values = new double[n * cols];
        for (int i = 0; i < Math.Min(n, cols); i++) values[i * cols + i] = 1;
        return FromArray(values, n, cols).To(dtype).ToDevice(Or(device));
    }

    /// <summary>Wraps a copy of <paramref name="data"/> with the given shape (default: 1-D).</summary>
    public static Tensor FromArray(float[] data, params int[] shape) => Wrap((float[])data.Clone(), DType.Float32, OneDimensional(shape, data.Length), "FromArray");

    public static Tensor FromArray(double[] data, params int[] shape) => Wrap((double[])data.Clone(), DType.Float64, OneDimensional(shape, data.Length), "FromArray");

    public static Tensor FromArray(long[] data, params int[] shape) => Wrap((long[])data.Clone(), DType.Int64, OneDimensional(shape, data.Length), "FromArray");

    public static Tensor FromArray(int[] data, params int[] shape) => Wrap(Array.ConvertAll(data, v => (long)v), DType.Int64, OneDimensional(shape, data.Length), "FromArray");

    public static Tensor FromArray(bool[] data, params int[] shape) => Wrap(Array.ConvertAll(data, v => v ? (byte)1 : (byte)0), DType.Bool, OneDimensional(shape, data.Length), "FromArray");

    /// <summary>No shape given means a 1-D tensor of all the data (use <see cref="Scalar"/> for 0-D).</summary>
    private static int[] OneDimensional(int[] shape, int length) => shape.Length == 0 ? [length] : shape;

    public static Tensor FromArray(float[,] data) => Wrap(Flatten(data), DType.Float32, [data.GetLength(0), data.GetLength(1)], "FromArray");

    public static Tensor FromArray(double[,] data) => Wrap(Flatten(data), DType.Float64, [data.GetLength(0), data.GetLength(1)], "FromArray");

    private static T[] Flatten<T>(T[,] data)
    {
        var flat = new T[data.Length];
        int k = 0;
        foreach (var v in data) flat[k++] = v;
        return flat;
    }

    /// <summary>Wraps <paramref name="data"/> without copying; the tensor owns it from now on.</summary>
    internal static Tensor Wrap(Array data, DType dtype, int[] shape, string op, Device? device = null)
    {
        int[] s = (int[])shape.Clone();
        int n = CountOf(s, op);
        if (n != data.Length)
            throw new ArgumentException($"{op}: shape {ShapeString(s)} needs {n} elements but {data.Length} were given");
        var d = Or(device);
        return new Tensor(d.Backend.FromArray(data, dtype), Layout.Contiguous(s), d);
    }

    /// <summary>Uniform samples in [low, high) from an explicit generator.</summary>
    public static Tensor Uniform(int[] shape, double low, double high, Generator generator, DType dtype = DType.Float32, Device? device = null)
    {
        var values = new double[CountOf(shape, "Uniform")];
        for (int i = 0; i < values.Length; i++) values[i] = low + (high - low) * generator.NextDouble();
        return FromDoubles(values, shape, dtype, device);
    }

    /// <summary>Uniform samples in [0, 1).</summary>
    public static Tensor Rand(int[] shape, Generator generator, DType dtype = DType.Float32, Device? device = null) => Uniform(shape, 0, 1, generator, dtype, device);

    /// <summary>Normal samples with the given mean and standard deviation.</summary>
    public static Tensor Normal(int[] shape, double mean, double std, Generator generator, DType dtype = DType.Float32, Device? device = null)
    {
        var values = new double[CountOf(shape, "Normal")];
        for (int i = 0; i < values.Length; i++) values[i] = mean + std * generator.NextNormal();
        return FromDoubles(values, shape, dtype, device);
    }

    /// <summary>Standard normal samples.</summary>
    public static Tensor Randn(int[] shape, Generator generator, DType dtype = DType.Float32, Device? device = null) => Normal(shape, 0, 1, generator, dtype, device);

    private static Tensor FromDoubles(double[] values, int[] shape, DType dtype, Device? device)
    {
        // Sampled in double and rounded once, so float32 and float64 draws from the same seed agree to float precision.
        var t = Wrap(values, DType.Float64, shape, "random");
        return (dtype == DType.Float64 ? t : t.To(dtype)).ToDevice(Or(device));
    }

    /// <summary>This tensor on <paramref name="device"/> (itself when already there).</summary>
    public Tensor ToDevice(Device device)
    {
        if (device.Type == Device.Type && device.Index == Device.Index) return ReferenceEquals(device, Device) ? this : new Tensor(Storage, Layout, device) { RequiresGrad = RequiresGrad, Node = Node };
        throw new NotSupportedException($"ToDevice: moving tensors from {Device} to {device} is not supported yet");
    }
}
