using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla;

/// <summary>
/// An N-dimensional array of float32, float64, int64 or bool on a device: a small handle over a storage seen through
/// a layout (shape, strides, offset). Operations are split by family across the Tensor.*.cs files; each differentiable
/// primitive lives, with its derivative rules, in Primitives/.
/// </summary>
public sealed partial class Tensor
{
    internal Tensor(Storage storage, Layout layout, Device device)
    {
        Storage = storage;
        Layout = layout;
        Device = device;
    }

    internal Storage Storage { get; }

    internal Layout Layout { get; }

    internal View View => new(Storage, Layout);

    public Device Device { get; }

    public DType DType => Storage.DType;

    /// <summary>The sizes of the dimensions. Do not modify the returned array.</summary>
    public int[] Shape => Layout.Shape;

    public int Rank => Layout.Rank;

    /// <summary>Number of elements.</summary>
    public int Count => Layout.Count;

    public bool IsContiguous => Layout.IsContiguous;

    /// <summary>
    /// Whether gradients flow to this tensor. Set it on leaves (parameters, inputs you differentiate with respect to);
    /// results of operations on such tensors require gradients automatically.
    /// </summary>
    public bool RequiresGrad { get; set; }

    /// <summary>The operation that produced this tensor, when it was recorded for reverse mode; null for leaves.</summary>
    internal Function? Node { get; set; }

    /// <summary>Forward-mode tangent ẋ carried alongside this value, when it is part of a forward-mode (<c>Autograd.Jvp</c>) computation.</summary>
    internal Tensor? Tangent { get; set; }

    /// <summary>True for tensors not produced by a recorded operation.</summary>
    public bool IsLeaf => Node is null;

    /// <summary>Size of dimension <paramref name="axis"/> (negative counts from the end).</summary>
    public int Size(int axis) => Shape[NormalizeAxis(axis, "Size")];

    internal int NormalizeAxis(int axis, string op) => NormalizeAxis(axis, Rank, op);

    internal static int NormalizeAxis(int axis, int rank, string op)
    {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.Max(rank, 1) || (rank == 0 && a != 0))
            throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: dimension {axis} is out of range for a tensor of rank {rank}");
        return a;
    }

    /// <summary>A new tensor sharing this one's data but cut from the graph: no gradient flows through it.</summary>
    public Tensor Detach() => new(Storage, Layout, Device);

    /// <summary>The same value without its forward-mode tangent (shares data and graph node).</summary>
    internal Tensor Primal() => Tangent is null ? this : new(Storage, Layout, Device) { RequiresGrad = RequiresGrad, Node = Node };

    /// <summary>Marks this tensor as a leaf that requires gradients and returns it (PyTorch's <c>requires_grad_()</c>).</summary>
    public Tensor RequireGrad()
    {
        if (!DType.IsFloatingPoint()) throw new InvalidOperationException($"only floating-point tensors can require gradients, not {DType}");
        RequiresGrad = true;
        return this;
    }

    /// <summary>The value of a one-element tensor.</summary>
    public double Item()
    {
        if (Count != 1) throw new InvalidOperationException($"Item: only one-element tensors can be converted to a scalar, this one has shape {ShapeString(Shape)}");
        return ToArray<double>()[0];
    }

    /// <summary>The elements in row-major order, converted to <typeparamref name="T"/> (float, double, long or bool).</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        DType target = typeof(T) == typeof(float) ? DType.Float32
            : typeof(T) == typeof(double) ? DType.Float64
            : typeof(T) == typeof(long) ? DType.Int64
            : typeof(T) == typeof(bool) ? DType.Bool
            : throw new NotSupportedException($"ToArray<{typeof(T).Name}>: use float, double, long or bool");
        Tensor t = DType == target ? this : To(target);
        Array data = Device.Backend.ToArray(t.View);
        if (typeof(T) == typeof(bool)) return (T[])(object)Array.ConvertAll((byte[])data, b => b != 0);
        return (T[])data;
    }

    internal static string ShapeString(int[] shape) => $"[{string.Join(", ", shape)}]";

    /// <summary>A fresh, zero-filled contiguous tensor of the given shape on this device.</summary>
    internal static Tensor Empty(int[] shape, DType dtype, Device device)
    {
        var layout = Layout.Contiguous(shape);
        return new(device.Backend.Allocate(dtype, layout.Count), layout, device);
    }

    /// <summary>
    /// A fresh contiguous tensor whose contents are unspecified: only for a kernel's output that the kernel writes in
    /// full (elementwise ops, copies, GEMM with β = 0, reductions, gathers).
    /// </summary>
    internal static Tensor Uninitialized(int[] shape, DType dtype, Device device) => Uninitialized(Layout.Contiguous(shape), dtype, device);

    /// <summary><see cref="Uninitialized(int[], DType, Device)"/> with a row-major layout given (shared with another tensor's, which is allowed: layouts are immutable).</summary>
    internal static Tensor Uninitialized(Layout rowMajor, DType dtype, Device device) =>
        new(device.Backend.AllocateUninitialized(dtype, rowMajor.Count), rowMajor, device);

    internal Tensor UninitializedLike(DType? dtype = null) => Uninitialized(Layout.Contiguous(Shape, Layout), dtype ?? DType, Device);

    internal void CheckSameDevice(Tensor other, string op)
    {
        if (!ReferenceEquals(Device, other.Device) && (Device.Type != other.Device.Type || Device.Index != other.Device.Index))
            throw new InvalidOperationException($"{op}: tensors are on different devices ({Device} and {other.Device})");
    }
}
