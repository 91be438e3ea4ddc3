using Nabla.Autodiff;

namespace Nabla;

public sealed partial class Tensor
{
    /// <summary>
    /// Reverse mode: the gradient of this tensor with respect to every leaf that requires gradients.
    /// For a scalar the cotangent defaults to 1; otherwise pass <paramref name="gradOutput"/> (same shape), which
    /// computes the vector-Jacobian product ȳᵀJ. With <paramref name="createGraph"/> the backward pass is itself
    /// recorded, so the gradients can be differentiated again.
    /// </summary>
    public Gradients Backward(Tensor? gradOutput = null, bool createGraph = false)
    {
        if (!RequiresGrad)
            throw new InvalidOperationException("Backward: this tensor does not require gradients (no tensor it was computed from has RequiresGrad set, or it was computed under NoGrad)");
        Tensor seed;
        if (gradOutput is null)
        {
            if (Count != 1)
                throw new InvalidOperationException($"Backward: a cotangent can be implied only for scalar outputs; this output has shape {ShapeString(Shape)}, so pass gradOutput of that shape");
            seed = OnesLike(this);
        }
        else
        {
            if (!gradOutput.Shape.AsSpan().SequenceEqual(Shape))
                throw new ArgumentException($"Backward: gradOutput has shape {ShapeString(gradOutput.Shape)} but the output has shape {ShapeString(Shape)}");
            seed = gradOutput.To(DType);
        }
        return Backprop.Run(this, seed, createGraph);
    }
}
