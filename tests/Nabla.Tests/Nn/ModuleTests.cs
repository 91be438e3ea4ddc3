using Nabla.Autodiff;
using Nabla.Kernels;
using Nabla.Models;
using Nabla.Nn;

namespace Nabla.Tests.Nn;

public class ModuleTests
{
    [Fact]
    public void Sequential_names_parameters_like_pytorch()
    {
        var model = Presets.Mlp(new Generator(0));
        Assert.Equal(["1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"], model.NamedParameters().Select(p => p.Name));
        Assert.Equal(784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10, model.ParameterCount);
    }

    [Fact]
    public void LeNet_maps_images_to_ten_logits()
    {
        var model = Presets.LeNet(new Generator(0));
        var y = model.Forward(Tensor.Randn([2, 1, 28, 28], new Generator(1)));
        Assert.Equal([2, 10], y.Shape);
        Assert.Equal(["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias"], model.NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void Linear_initialization_follows_pytorch_bounds()
    {
        var layer = new Linear(100, 50, new Generator(0));
        double bound = 1 / Math.Sqrt(100);
        Assert.All(layer.Weight.ToArray<float>(), w => Assert.InRange(w, -bound, bound));
        Assert.All(layer.Bias!.ToArray<float>(), b => Assert.InRange(b, -bound, bound));
        // U(−b, b) has standard deviation b/√3.
        Assert.InRange(layer.Weight.Var().Item(), 0.8 * bound * bound / 3, 1.2 * bound * bound / 3);
    }

    [Fact]
    public void Kaiming_and_xavier_have_their_variances()
    {
        var g = new Generator(2);
        var he = Init.KaimingNormal([400, 300], g);
        Assert.InRange(he.Var().Item(), 0.95 * 2.0 / 300, 1.05 * 2.0 / 300);
        var glorot = Init.XavierUniform([400, 300], g);
        Assert.InRange(glorot.Var().Item(), 0.95 * 2.0 / 700, 1.05 * 2.0 / 700);
    }

    [Fact]
    public void Linear_weight_gradient_is_contiguous_and_equals_dy_transposed_times_x()
    {
        // Linear reads W transposed in place; its VJP hands W a gradient in W's own row-major layout (so optimizers
        // need no copy), with the value dW = dYᵀ·x.
        var g = new Generator(1);
        var layer = new Linear(5, 3, g);
        var x = Tensor.Randn([4, 5], g);
        var dy = Tensor.Randn([4, 3], g);
        var dw = layer.Forward(x).Backward(dy).Of(layer.Weight);
        Assert.True(dw.IsContiguous);
        var expected = dy.T.Contiguous().MatMul(x).ToArray<float>();
        var actual = dw.ToArray<float>();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-5f);
    }

    /// <summary>
    /// The fused x·Wᵀ + b (the GEMM accumulating onto rows set to b) against the product and the broadcast add done
    /// apart, in float32: one row (the dot-product path, alpha·sum + beta·c), 64 and 300 rows (the packed path, C
    /// loaded in the first depth block), a rank-3 input and a transposed one.
    /// </summary>
    [Theory]
    [InlineData(1, 784, 256)]
    [InlineData(3, 130, 17)]
    [InlineData(64, 784, 256)]
    [InlineData(300, 100, 40)]
    public void Linear_with_bias_matches_product_plus_bias(int rows, int inFeatures, int outFeatures)
    {
        var g = new Generator((ulong)(rows * 7919 + inFeatures));
        var layer = new Linear(inFeatures, outFeatures, g);
        var x = Tensor.Randn([rows, inFeatures], g);
        Close(x.MatMul(layer.Weight.T) + layer.Bias!, layer.Forward(x));
        var x3 = Tensor.Randn([2, rows, inFeatures], g);
        Close(x3.MatMul(layer.Weight.T) + layer.Bias!, layer.Forward(x3));
        var xt = Tensor.Randn([inFeatures, rows], g).T;
        Close(xt.MatMul(layer.Weight.T) + layer.Bias!, layer.Forward(xt));
        // A bias read with a step (every other element of a longer vector) takes the backend's strided path.
        var strided = Tensor.Randn([2 * outFeatures], g).Slice(0, 0, 2 * outFeatures, step: 2);
        Close(x.MatMul(layer.Weight.T) + strided, x.Linear(layer.Weight, strided));

        static void Close(Tensor expected, Tensor actual)
        {
            Assert.Equal(expected.Shape, actual.Shape);
            float[] e = expected.ToArray<float>(), a = actual.ToArray<float>();
            for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - a[i]) <= 1e-5f * (1 + Math.Abs(e[i])), $"element {i}: {a[i]}, expected {e[i]}");
        }
    }

    [Fact]
    public void Linear_function_reports_bad_bias_and_dtypes()
    {
        var x = Tensor.Zeros(4, 3);
        var e = Assert.Throws<ArgumentException>(() => x.Linear(Tensor.Zeros(2, 3), Tensor.Zeros(3)));
        Assert.Contains("bias must be [2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => x.Linear(Tensor.Zeros(2, 3), Tensor.Zeros([2], DType.Float64)));
        Assert.Contains("dtypes differ", e.Message);
        e = Assert.Throws<ArgumentException>(() => x.Linear(Tensor.Zeros(2, 4), Tensor.Zeros(2)));
        Assert.Contains("[4, 3]", e.Message);
    }

    [Fact]
    public void Linear_reports_a_wrong_input_width()
    {
        var e = Assert.Throws<ArgumentException>(() => new Linear(3, 2, new Generator(0)).Forward(Tensor.Zeros(4, 5)));
        Assert.Contains("Linear", e.Message);
        Assert.Contains("[4, 5]", e.Message);
    }

    [Fact]
    public void Conv2d_output_size_follows_the_formula()
    {
        var conv = new Conv2d(3, 8, 3, new Generator(0), stride: 2, padding: 1);
        Assert.Equal([2, 8, 4, 5], conv.Forward(Tensor.Zeros(2, 3, 7, 9)).Shape); // ⌊(7+2−3)/2⌋+1 = 4, ⌊(9+2−3)/2⌋+1 = 5
    }

    [Fact]
    public void Dropout_is_the_identity_in_evaluation_and_unbiased_in_training()
    {
        var x = Tensor.Ones(100_000);
        var dropout = new Dropout(0.3);
        Assert.Equal(x.ToArray<float>(), dropout.Forward(x).ToArray<float>());
        var y = dropout.Forward(x, Mode.Train(new Generator(4)));
        var values = y.ToArray<float>();
        Assert.All(values, v => Assert.True(v == 0 || Math.Abs(v - 1 / 0.7) < 1e-6));
        Assert.InRange(values.Count(v => v == 0) / 100_000.0, 0.29, 0.31);
        Assert.InRange(y.Mean().Item(), 0.98, 1.02);
        Assert.Throws<ArgumentException>(() => dropout.Forward(x, new Mode(true, null)));
    }

    [Fact]
    public void BatchNorm_normalizes_in_training_and_tracks_running_statistics()
    {
        var bn = new BatchNorm1d(3);
        var g = new Generator(5);
        var x = Tensor.Normal([64, 3], 2.0, 3.0, g);
        var y = bn.Forward(x, Mode.Train(g));
        Assert.All(y.Mean(0).ToArray<float>(), m => Assert.InRange(m, -1e-5, 1e-5));
        Assert.All(y.Var(0, correction: 0).ToArray<float>(), v => Assert.InRange(v, 0.999, 1.0));
        // running ← 0.9·running + 0.1·batch (unbiased variance)
        var expectedMean = (0.1 * x.Mean(0)).ToArray<float>();
        var expectedVar = (0.9 + 0.1 * x.Var(0)).ToArray<float>();
        Assert.Equal(expectedMean, bn.RunningMean.ToArray<float>(), (a, b) => Math.Abs(a - b) < 1e-5);
        Assert.Equal(expectedVar, bn.RunningVar.ToArray<float>(), (a, b) => Math.Abs(a - b) < 1e-4);
        // Evaluation uses the running statistics.
        var evalOut = bn.Forward(x);
        var manual = ((x - bn.RunningMean) / (bn.RunningVar + 1e-5).Sqrt()).ToArray<float>();
        Assert.Equal(manual, evalOut.ToArray<float>(), (a, b) => Math.Abs(a - b) < 1e-5);
        Assert.Equal(["weight", "bias"], bn.NamedParameters().Select(p => p.Name));
        Assert.Equal(["running_mean", "running_var", "num_batches_tracked"], bn.NamedBuffers().Select(p => p.Name));
    }

    [Fact]
    public void BatchNorm2d_gradients_pass_a_gradient_check()
    {
        var bn = new BatchNorm2d(2, dtype: DType.Float64);
        var x = Tensor.Randn([3, 2, 2, 2], new Generator(6), DType.Float64);
        var report = GradCheck.Check(xs => bn.Forward(xs[0], Mode.Train(new Generator(0))).Square().Sum(), [x]);
        Assert.True(report.Passed, report.Detail);
    }

    [Fact]
    public void Activation_modules_compute_their_functions()
    {
        var x = Tensor.FromArray([-2f, -0.5f, 0f, 1.5f]);
        Assert.Equal([0f, 0f, 0f, 1.5f], new ReLU().Forward(x).ToArray<float>());
        Assert.Equal([-1f, -0.25f, 0f, 1.5f], new LeakyReLU(0.5).Forward(x).ToArray<float>());
        Assert.Equal([2f, 0.5f, 0f, 1.5f], new Abs().Forward(x).ToArray<float>());
        var softplus = new Softplus().Forward(Tensor.FromArray([-1000.0, 0, 1000.0])).ToArray<double>();
        Assert.Equal(0, softplus[0], 12);
        Assert.Equal(Math.Log(2), softplus[1], 12);
        Assert.Equal(1000, softplus[2], 9);
    }

    [Fact]
    public void LoadStateDict_rejects_wrong_shapes_and_names()
    {
        var model = new Sequential(new Linear(2, 3, new Generator(0)));
        var wrong = new Dictionary<string, Tensor> { ["0.weight"] = Tensor.Zeros(3, 3), ["0.bias"] = Tensor.Zeros(3) };
        var e = Assert.Throws<InvalidDataException>(() => model.LoadStateDict(wrong, "weights.safetensors"));
        Assert.Contains("0.weight", e.Message);
        Assert.Contains("weights.safetensors", e.Message);
        var missing = new Dictionary<string, Tensor> { ["0.weight"] = Tensor.Zeros(3, 2) };
        Assert.Contains("missing: [0.bias]", Assert.Throws<InvalidDataException>(() => model.LoadStateDict(missing)).Message);
    }
}
