using Nabla.Kernels;

namespace Nabla;

public sealed partial class Tensor
{
    /// <summary>
    /// Overwrites this tensor's elements with <paramref name="source"/>'s (same shape; dtype converted). Not recorded:
    /// this is how optimizers and checkpoint loading update parameters.
    /// </summary>
    public void CopyFrom(Tensor source)
    {
        if (!Shapes.Equal(source.Shape, Shape))
            throw new ArgumentException($"CopyFrom: source shape {ShapeString(source.Shape)} differs from {ShapeString(Shape)}");
        Device.Backend.Copy(source.View, View);
    }

    /// <summary>
    /// The dense elements of a contiguous CPU tensor, for kernels that update parameters in place (optimizers). Counts
    /// as a write (<see cref="Kernels.Storage.Touch"/>): copies derived from the tensor are made again before their next use.
    /// </summary>
    /// <remarks>
    /// The span does not keep the tensor alive: its buffer may be recycled (CPU buffer pool) once the tensor is
    /// unreachable, so the caller keeps a reference to the tensor for as long as it uses the span.
    /// </remarks>
    internal Span<T> AsSpan<T>() where T : unmanaged
    {
        if (!IsContiguous) throw new InvalidOperationException("AsSpan: tensor is not contiguous");
        var data = (Storage as CpuStorage<T>)?.Data ?? throw new InvalidOperationException($"AsSpan<{typeof(T).Name}>: tensor holds {DType} on {Device}");
        Storage.Touch();   // the caller writes through the span (see Storage.Version)
        return data.AsSpan(Layout.Offset, Count);
    }
}
