using Nabla.Kernels;

namespace Nabla;

public sealed partial class Tensor
{
    /// <summary>out[…i…] = this[…index[…i…]…] along <paramref name="axis"/> (<c>torch.gather</c>); index is Int64, same rank.</summary>
    public Tensor Gather(int axis, Tensor index)
    {
        int a = NormalizeAxis(axis, "Gather");
        CheckIndex(index, a, "Gather", Shape);
        return Primitives.Gather.Apply(this, a, index);
    }

    /// <summary>A copy of this tensor with <paramref name="src"/> added at the positions <paramref name="index"/> along an axis (<c>torch.scatter_add</c>).</summary>
    public Tensor ScatterAdd(int axis, Tensor index, Tensor src)
    {
        int a = NormalizeAxis(axis, "ScatterAdd");
        CheckIndex(index, a, "ScatterAdd", Shape);
        if (!Shapes.Equal(index.Shape, src.Shape))
            throw new ArgumentException($"ScatterAdd: index shape {ShapeString(index.Shape)} and src shape {ShapeString(src.Shape)} differ");
        return Primitives.ScatterAdd.Apply(this, a, index, src.To(DType));
    }

    private static void CheckIndex(Tensor index, int axis, string op, int[] shape)
    {
        if (index.DType != DType.Int64) throw new ArgumentException($"{op}: index must be Int64, got {index.DType}");
        if (index.Rank != shape.Length)
            throw new ArgumentException($"{op}: index has rank {index.Rank} ({ShapeString(index.Shape)}) but the tensor has rank {shape.Length} ({ShapeString(shape)})");
        for (int d = 0; d < shape.Length; d++)
            if (d != axis && index.Shape[d] > shape[d])
                throw new ArgumentException($"{op}: index shape {ShapeString(index.Shape)} exceeds tensor shape {ShapeString(shape)} in dimension {d}");
    }

    /// <summary>Rows (or slices along <paramref name="axis"/>) picked by a 1-D Int64 index (<c>torch.index_select</c>).</summary>
    public Tensor IndexSelect(int axis, Tensor index)
    {
        int a = NormalizeAxis(axis, "IndexSelect");
        if (index.Rank != 1) throw new ArgumentException($"IndexSelect: index must be 1-D, got {ShapeString(index.Shape)}");
        if (index.DType != DType.Int64) throw new ArgumentException($"IndexSelect: index must be Int64, got {index.DType}");
        CheckSameDevice(index, "IndexSelect");
        return Primitives.IndexSelect.Apply(this, a, index);
    }

    /// <summary>Joins tensors along an existing axis.</summary>
    public static Tensor Cat(Tensor[] tensors, int axis = 0)
    {
        if (tensors.Length == 0) throw new ArgumentException("Cat: expected at least one tensor");
        var first = tensors[0];
        int a = NormalizeAxis(axis, first.Rank, "Cat");
        var dtype = tensors.Select(t => t.DType).Aggregate(DTypeExtensions.Promote);
        foreach (var t in tensors)
        {
            first.CheckSameDevice(t, "Cat");
            bool ok = t.Rank == first.Rank;
            for (int d = 0; ok && d < t.Rank; d++) ok = d == a || t.Shape[d] == first.Shape[d];
            if (!ok)
                throw new ArgumentException($"Cat: shapes {string.Join(", ", tensors.Select(x => ShapeString(x.Shape)))} differ outside dimension {axis}");
        }
        return Primitives.Cat.Apply(tensors.Select(t => t.To(dtype)).ToArray(), a);
    }

    /// <summary>Joins tensors of equal shape along a new axis.</summary>
    public static Tensor Stack(Tensor[] tensors, int axis = 0)
    {
        if (tensors.Length == 0) throw new ArgumentException("Stack: expected at least one tensor");
        foreach (var t in tensors)
            if (!Shapes.Equal(t.Shape, tensors[0].Shape))
                throw new ArgumentException($"Stack: all tensors must have the same shape, got {string.Join(", ", tensors.Select(x => ShapeString(x.Shape)))}");
        int a = NormalizeAxis(axis, tensors[0].Rank + 1, "Stack");
        return Cat(tensors.Select(t => t.Unsqueeze(a)).ToArray(), a);
    }

    /// <summary>Splits into pieces of <paramref name="size"/> along an axis (the last may be smaller); views.</summary>
    public Tensor[] Split(int size, int axis = 0)
    {
        int a = NormalizeAxis(axis, "Split");
        if (size <= 0) throw new ArgumentException($"Split: size must be positive, got {size}");
        var parts = new List<Tensor>();
        for (int s = 0; s < Shape[a]; s += size) parts.Add(Narrow(a, s, Math.Min(size, Shape[a] - s)));
        return parts.ToArray();
    }

    /// <summary>Splits into pieces of the given sizes along an axis; views.</summary>
    public Tensor[] Split(int[] sizes, int axis = 0)
    {
        int a = NormalizeAxis(axis, "Split");
        if (sizes.Sum() != Shape[a])
            throw new ArgumentException($"Split: sizes [{string.Join(", ", sizes)}] add up to {sizes.Sum()}, not the size {Shape[a]} of dimension {axis}");
        var parts = new Tensor[sizes.Length];
        for (int i = 0, s = 0; i < sizes.Length; s += sizes[i], i++) parts[i] = Narrow(a, s, sizes[i]);
        return parts;
    }

    /// <summary>One-hot encoding of Int64 class indices: shape [..., classes] with a 1 at each index.</summary>
    public Tensor OneHot(int classes, DType dtype = DType.Float32)
    {
        if (DType != DType.Int64) throw new ArgumentException($"OneHot: expected Int64 class indices, got {DType}");
        if (classes <= 0) throw new ArgumentException($"OneHot: number of classes must be positive, got {classes}");
        if (Count > 0)
        {
            var values = ToArray<long>();
            long lo = values.Min(), hi = values.Max();
            if (lo < 0 || hi >= classes) throw new ArgumentException($"OneHot: class index {(lo < 0 ? lo : hi)} is out of range for {classes} classes");
        }
        return Unsqueeze(-1).Eq(Arange(classes, DType.Int64, Device)).To(dtype);
    }
}
