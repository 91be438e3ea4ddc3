using Nabla.Kernels;

namespace Nabla.Nn;

/// <summary>How a loss combines per-example values.</summary>
public enum Reduction { Mean, Sum, None }

/// <summary>
/// Loss functions of the additive form L = (1/|T|) Σ ℓ(s, a) (002 eq 8.8), each written with differentiable
/// primitives and arranged to be numerically stable for any logits.
/// </summary>
public static class Loss
{
    private static Tensor Reduce(Tensor perExample, Reduction reduction) => reduction switch
    {
        Reduction.Mean => perExample.Mean(),
        Reduction.Sum => perExample.Sum(),
        _ => perExample,
    };

    private static void SameShape(string op, Tensor input, Tensor target)
    {
        if (!Shapes.Equal(input.Shape, target.Shape))
            throw new ArgumentException($"{op}: input shape {Tensor.ShapeString(input.Shape)} and target shape {Tensor.ShapeString(target.Shape)} differ");
    }

    /// <summary>Mean squared error: mean of (input − target)² over all elements (002 eq 8.14 up to the averaging convention).</summary>
    public static Tensor Mse(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        SameShape("Mse", input, target);
        return Reduce((input - target.To(input.DType)).Square(), reduction);
    }

    /// <summary>
    /// Cross-entropy from logits [N, C] and class indices [N] (Int64): −log softmax(x)[y] (002 eq 8.10), through
    /// log-softmax, so logits of ±1000 give finite values; one graph node (<see cref="Primitives.CrossEntropy"/>).
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor target, Reduction reduction = Reduction.Mean)
    {
        if (logits.Rank != 2) throw new ArgumentException($"CrossEntropy: expected logits [N, C], got {Tensor.ShapeString(logits.Shape)}");
        if (target.DType != DType.Int64 || target.Rank != 1 || target.Count != logits.Shape[0])
            throw new ArgumentException($"CrossEntropy: expected Int64 class indices [{logits.Shape[0]}], got {target.DType} {Tensor.ShapeString(target.Shape)}");
        int classes = logits.Shape[1];
        if (target.Count > 0)
        {
            var labels = target.ToArray<long>();
            foreach (long c in labels)
                if (c < 0 || c >= classes) throw new ArgumentException($"CrossEntropy: class index {c} is out of range for {classes} classes");
        }
        logits.CheckSameDevice(target, "CrossEntropy");
        return Reduce(Primitives.CrossEntropy.Apply(logits.DType.IsFloatingPoint() ? logits : logits.To(DType.Float32), target), reduction);
    }

    /// <summary>
    /// Binary cross-entropy from logits x and targets y ∈ [0, 1] (002 eqs 6.6–6.7):
    /// −[y log σ(x) + (1 − y) log(1 − σ(x))] = max(x, 0) − x·y + log(1 + e^−|x|).
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor logits, Tensor target, Reduction reduction = Reduction.Mean)
    {
        SameShape("BinaryCrossEntropyWithLogits", logits, target);
        return Reduce(Functional.Softplus(logits) - logits * target.To(logits.DType), reduction);
    }

    /// <summary>Logistic loss log(1 + e^(−s·y)) for scores s and labels y ∈ {−1, +1} (000 §15.2.2, 001).</summary>
    public static Tensor Logistic(Tensor scores, Tensor labels, Reduction reduction = Reduction.Mean)
    {
        SameShape("Logistic", scores, labels);
        return Reduce(Functional.Softplus(-(scores * labels.To(scores.DType))), reduction);
    }

    /// <summary>Binary hinge loss max(0, 1 − y·s) for labels y ∈ {−1, +1} (002 eq 7.11).</summary>
    public static Tensor Hinge(Tensor scores, Tensor labels, Reduction reduction = Reduction.Mean)
    {
        SameShape("Hinge", scores, labels);
        return Reduce((1 - scores * labels.To(scores.DType)).Relu(), reduction);
    }

    /// <summary>
    /// Multiclass hinge (PyTorch's <c>multi_margin_loss</c>, p = 1): (1/C) Σ_{i≠y} max(0, margin − x_y + x_i) per example.
    /// </summary>
    public static Tensor MultiMargin(Tensor scores, Tensor target, double margin = 1, Reduction reduction = Reduction.Mean)
    {
        if (scores.Rank != 2 || target.DType != DType.Int64 || target.Rank != 1 || target.Count != scores.Shape[0])
            throw new ArgumentException($"MultiMargin: expected scores [N, C] and Int64 targets [N], got {Tensor.ShapeString(scores.Shape)} and {target.DType} {Tensor.ShapeString(target.Shape)}");
        int classes = scores.Shape[1];
        var correct = scores.Gather(1, target.Reshape(-1, 1));
        var margins = (margin - correct + scores).Relu();
        var notTarget = target.OneHot(classes, scores.DType);
        var perExample = (margins * (1 - notTarget)).Sum(1) / classes;
        return Reduce(perExample, reduction);
    }

    /// <summary>Mean cross-entropy with the signature of a training loss (output, target), for <c>Trainer</c>.</summary>
    public static Tensor CrossEntropyLoss(Tensor logits, Tensor target) => CrossEntropy(logits, target);

    /// <summary>L2 regularization λ Σ‖w‖² over the given parameters (002 eq 7.12's λ‖w‖²).</summary>
    public static Tensor L2(IEnumerable<Tensor> parameters, double lambda)
    {
        Tensor? total = null;
        foreach (var p in parameters)
        {
            var s = p.Square().Sum();
            total = total is null ? s : total + s;
        }
        return (total ?? Tensor.Scalar(0)) * lambda;
    }
}
