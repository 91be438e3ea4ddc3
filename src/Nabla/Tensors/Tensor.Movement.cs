using Nabla.Kernels;
using Nabla.Primitives;

namespace Nabla;

public sealed partial class Tensor
{
    /// <summary>
    /// The same elements with another shape; one dimension may be −1 (inferred). A view when this tensor is
    /// contiguous, otherwise a copy.
    /// </summary>
    public Tensor Reshape(params int[] shape)
    {
        var target = (int[])shape.Clone();
        int infer = -1, known = 1;
        for (int i = 0; i < target.Length; i++)
        {
            if (target[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"Reshape: only one dimension can be -1 in {ShapeString(shape)}");
                infer = i;
            }
            else if (target[i] < 0) throw new ArgumentException($"Reshape: invalid dimension {target[i]} in {ShapeString(shape)}");
            else known *= target[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || Count % known != 0)
                throw new ArgumentException($"Reshape: cannot reshape a tensor of shape {ShapeString(Shape)} ({Count} elements) into {ShapeString(shape)}");
            target[infer] = Count / known;
        }
        else if (known != Count)
            throw new ArgumentException($"Reshape: cannot reshape a tensor of shape {ShapeString(Shape)} ({Count} elements) into {ShapeString(shape)} ({known} elements)");
        return Shapes.Equal(target, Shape) ? this : Primitives.Reshape.Apply(this, target);
    }

    /// <summary>Flattens dimensions <paramref name="startDim"/>..<paramref name="endDim"/> into one.</summary>
    public Tensor Flatten(int startDim = 0, int endDim = -1)
    {
        if (Rank == 0) return Reshape(1);
        int s = NormalizeAxis(startDim, "Flatten"), e = NormalizeAxis(endDim, "Flatten");
        if (s > e) throw new ArgumentException($"Flatten: start dimension {startDim} comes after end dimension {endDim}");
        if (s == e) return this;   // nothing to merge (as torch.flatten, the input itself)
        var shape = new int[Rank - (e - s)];
        for (int d = 0; d < Rank; d++)
        {
            if (d <= s) shape[d] = Shape[d];
            else if (d <= e) shape[s] *= Shape[d];
            else shape[d - (e - s)] = Shape[d];
        }
        return Reshape(shape);
    }

    /// <summary>Reorders the dimensions (a view): result dimension i is this tensor's dimension dims[i].</summary>
    public Tensor Permute(params int[] dims)
    {
        if (dims.Length != Rank)
            throw new ArgumentException($"Permute: {dims.Length} dimensions given for a tensor of rank {Rank} ({ShapeString(Shape)})");
        var d = dims.Select(a => NormalizeAxis(a, "Permute")).ToArray();
        if (d.Distinct().Count() != d.Length) throw new ArgumentException($"Permute: [{string.Join(", ", dims)}] is not a permutation");
        bool identity = true;
        for (int i = 0; i < d.Length; i++) identity &= d[i] == i;
        return identity ? this : Primitives.Permute.Apply(this, d);
    }

    /// <summary>Swaps two dimensions (a view).</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = NormalizeAxis(dim0, "Transpose"), b = NormalizeAxis(dim1, "Transpose");
        var dims = Enumerable.Range(0, Rank).ToArray();
        (dims[a], dims[b]) = (dims[b], dims[a]);
        return Permute(dims);
    }

    /// <summary>The transpose of a matrix (swaps the last two dimensions of a batch of matrices).</summary>
    public Tensor T => Rank < 2 ? this : Transpose(-2, -1);

    /// <summary>Repeats size-1 dimensions (and prepends new ones) to reach <paramref name="shape"/>, as a view; −1 keeps a size.</summary>
    public Tensor Expand(params int[] shape)
    {
        if (shape.Length < Rank)
            throw new ArgumentException($"Expand: cannot expand {ShapeString(Shape)} to fewer dimensions {ShapeString(shape)}");
        var target = (int[])shape.Clone();
        int lead = shape.Length - Rank;
        for (int i = 0; i < target.Length; i++)
        {
            int own = i >= lead ? Shape[i - lead] : 1;
            if (target[i] == -1)
            {
                if (i < lead) throw new ArgumentException($"Expand: -1 is not allowed for the new leading dimension {i}");
                target[i] = own;
            }
            else if (own != target[i] && own != 1)
                throw new ArgumentException($"Expand: cannot expand {ShapeString(Shape)} to {ShapeString(shape)} (dimension {i}: {own} is neither 1 nor {target[i]})");
        }
        return Shapes.Equal(target, Shape) ? this : Primitives.Expand.Apply(this, target);
    }

    /// <summary>Broadcasts to the shape of <paramref name="other"/>.</summary>
    public Tensor ExpandAs(Tensor other) => Expand(other.Shape);

    /// <summary>Removes dimensions of size 1: the given one, or all of them.</summary>
    public Tensor Squeeze(int? axis = null)
    {
        if (axis is { } a)
        {
            int d = NormalizeAxis(a, "Squeeze");
            return Shape[d] == 1 ? Reshape(Shape.Where((_, i) => i != d).ToArray()) : this;
        }
        return Reshape(Shape.Where(s => s != 1).ToArray());
    }

    /// <summary>Inserts a dimension of size 1 at <paramref name="axis"/> (−1 appends).</summary>
    public Tensor Unsqueeze(int axis)
    {
        int d = NormalizeAxis(axis, Rank + 1, "Unsqueeze");
        var shape = Shape.ToList();
        shape.Insert(d, 1);
        return Reshape(shape.ToArray());
    }

    /// <summary>Elements start..start+length−1 along <paramref name="axis"/> (a view).</summary>
    public Tensor Narrow(int axis, int start, int length) => Slice(axis, start, start + length);

    /// <summary>Elements start, start+step, … before end along <paramref name="axis"/> (a view; negative start/end count from the end).</summary>
    public Tensor Slice(int axis, int start, int end, int step = 1)
    {
        int d = NormalizeAxis(axis, "Slice");
        int n = Shape[d];
        if (step <= 0) throw new ArgumentException($"Slice: step must be positive, got {step}");
        int s = start < 0 ? start + n : start, e = end < 0 ? end + n : end;
        if (s < 0 || s > n || e < s || e > n)
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice: range [{start}, {end}) is out of bounds for dimension {axis} of size {n} (shape {ShapeString(Shape)})");
        int count = (e - s + step - 1) / step;
        if (s == 0 && count == n && step == 1) return this;
        return Primitives.Slice.Apply(this, d, s, count, step);
    }

    /// <summary>The slice at <paramref name="index"/> along <paramref name="axis"/>, with that dimension removed.</summary>
    public Tensor Select(int axis, int index)
    {
        int d = NormalizeAxis(axis, "Select");
        int i = index < 0 ? index + Shape[d] : index;
        if (i < 0 || i >= Shape[d])
            throw new ArgumentOutOfRangeException(nameof(index), $"Select: index {index} is out of bounds for dimension {axis} of size {Shape[d]}");
        return Slice(d, i, i + 1).Squeeze(d);
    }

    /// <summary>This tensor when its elements are dense and row-major, otherwise a dense copy.</summary>
    public Tensor Contiguous() => IsContiguous ? this : Copy.Apply(this);

    /// <summary>A dense copy that does not share storage with this tensor (still differentiable).</summary>
    public Tensor Clone() => Copy.Apply(this);

    /// <summary>Converts to another dtype (differentiable between floating types).</summary>
    public Tensor To(DType dtype) => dtype == DType ? this : Cast.Apply(this, dtype);

    /// <summary>Sums broadcast dimensions away so the result has <paramref name="shape"/>: the adjoint of broadcasting.</summary>
    internal Tensor SumTo(int[] shape)
    {
        if (Shapes.Equal(Shape, shape)) return this;
        int lead = Rank - shape.Length;
        var axes = new List<int>();
        for (int i = 0; i < Rank; i++)
            if (i < lead || (shape[i - lead] == 1 && Shape[i] != 1)) axes.Add(i);
        var summed = axes.Count > 0 ? Sum(axes.ToArray(), keepDim: true) : this;
        return summed.Reshape(shape);
    }

    /// <summary>Strides that read this tensor broadcast to <paramref name="shape"/> (0 where it repeats).</summary>
    internal int[] BroadcastStrides(int[] shape)
    {
        var strides = new int[shape.Length];
        int lead = shape.Length - Rank;
        for (int i = lead; i < shape.Length; i++)
            strides[i] = Shape[i - lead] == 1 && shape[i] != 1 ? 0 : Layout.Strides[i - lead];
        return strides;
    }

    internal View BroadcastView(int[] shape) =>
        Shapes.Equal(shape, Shape) ? View : new View(Storage, new Layout(shape, BroadcastStrides(shape), Layout.Offset));
}
