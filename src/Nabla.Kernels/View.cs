namespace Nabla.Kernels;

/// <summary>A storage seen through a layout: what kernels read and write.</summary>
public readonly record struct View(Storage Storage, Layout Layout)
{
    public DType DType => Storage.DType;

    public int[] Shape => Layout.Shape;
}
