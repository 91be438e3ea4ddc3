using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Nn;

/// <summary>
/// Batch normalization (Ioffe &amp; Szegedy 2015): y = γ·(x − μ)/√(σ² + ε) + β per channel. Training uses the batch's
/// mean and biased variance and updates running estimates r ← (1 − m)·r + m·batch (unbiased variance), as PyTorch;
/// evaluation uses the running estimates.
/// </summary>
public abstract class BatchNorm : Module
{
    private protected BatchNorm(int features, double eps, double momentum, DType dtype)
    {
        if (features <= 0) throw new ArgumentException($"{GetType().Name}: number of features must be positive, got {features}");
        (Features, Eps, Momentum) = (features, eps, momentum);
        Weight = Init.Ones([features], dtype);
        Bias = Init.Zeros([features], dtype);
        RunningMean = Tensor.Zeros([features], dtype);
        RunningVar = Tensor.Ones([features], dtype);
        BatchesTracked = Tensor.Zeros([], DType.Int64);
    }

    public int Features { get; }
    public double Eps { get; }
    public double Momentum { get; }
    public Tensor Weight { get; }
    public Tensor Bias { get; }
    public Tensor RunningMean { get; }
    public Tensor RunningVar { get; }
    public Tensor BatchesTracked { get; }

    /// <summary>The axes statistics are taken over, and the shape that broadcasts a per-channel vector.</summary>
    private protected abstract (int[] Axes, int[] ChannelShape) Layout(Tensor x);

    public override Tensor Forward(Tensor x, Mode mode)
    {
        var (axes, channelShape) = Layout(x);
        Tensor mean, variance;
        if (mode.Training)
        {
            int n = axes.Aggregate(1, (p, a) => p * x.Shape[a]);
            if (n <= 1) throw new ArgumentException($"{GetType().Name}: expected more than one value per channel when training, got input {Tensor.ShapeString(x.Shape)}");
            mean = x.Mean(axes, keepDim: true);
            variance = (x - mean).Square().Mean(axes, keepDim: true);
            using (Autograd.NoGrad())
            {
                RunningMean.CopyFrom((1 - Momentum) * RunningMean + Momentum * mean.Detach().Reshape(Features));
                RunningVar.CopyFrom((1 - Momentum) * RunningVar + Momentum * variance.Detach().Reshape(Features) * ((double)n / (n - 1)));
                BatchesTracked.CopyFrom(BatchesTracked + 1);
            }
        }
        else
        {
            mean = RunningMean.Reshape(channelShape);
            variance = RunningVar.Reshape(channelShape);
        }
        var normalized = (x - mean) / (variance + Eps).Sqrt();
        return normalized * Weight.Reshape(channelShape) + Bias.Reshape(channelShape);
    }

    public override IEnumerable<(string Name, Tensor Value)> NamedParameters() => [("weight", Weight), ("bias", Bias)];

    public override IEnumerable<(string Name, Tensor Value)> NamedBuffers() =>
        [("running_mean", RunningMean), ("running_var", RunningVar), ("num_batches_tracked", BatchesTracked)];

    public override string ToString() => $"{GetType().Name}({Features}, eps={Eps}, momentum={Momentum})";
}

/// <summary>Batch norm over [N, C] or [N, C, L] inputs, statistics per C. Shapes: any → same.</summary>
public sealed class BatchNorm1d(int features, double eps = 1e-5, double momentum = 0.1, DType dtype = DType.Float32) : BatchNorm(features, eps, momentum, dtype)
{
    private protected override (int[] Axes, int[] ChannelShape) Layout(Tensor x)
    {
        if ((x.Rank != 2 && x.Rank != 3) || x.Shape[1] != Features)
            throw new ArgumentException($"BatchNorm1d: expected input [N, {Features}] or [N, {Features}, L], got {Tensor.ShapeString(x.Shape)}");
        return x.Rank == 2 ? ([0], [1, Features]) : ([0, 2], [1, Features, 1]);
    }
}

/// <summary>Batch norm over [N, C, H, W] inputs, statistics per C. Shapes: any → same.</summary>
public sealed class BatchNorm2d(int features, double eps = 1e-5, double momentum = 0.1, DType dtype = DType.Float32) : BatchNorm(features, eps, momentum, dtype)
{
    private protected override (int[] Axes, int[] ChannelShape) Layout(Tensor x)
    {
        if (x.Rank != 4 || x.Shape[1] != Features)
            throw new ArgumentException($"BatchNorm2d: expected input [N, {Features}, H, W], got {Tensor.ShapeString(x.Shape)}");
        return ([0, 2, 3], [1, Features, 1, 1]);
    }
}
