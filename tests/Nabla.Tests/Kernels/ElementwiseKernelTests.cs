using Nabla.Kernels;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>Elementwise kernels split large dense ranges across threads: the split must not change a single element.</summary>
public class ElementwiseKernelTests
{
    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Large_elementwise_ops_agree_across_thread_counts_and_with_scalar_formulas(DType dtype)
    {
        const int n = 3 * (1 << 16) + 7;   // several chunks and a ragged end
        var g = new Generator(11);
        var x1 = Tensor.Randn([n], g, dtype).ToDevice(Device.CpuWithThreads(1));
        var y1 = Tensor.Randn([n], g, dtype).ToDevice(Device.CpuWithThreads(1));
        var x2 = x1.ToDevice(Device.CpuWithThreads(2));
        var y2 = y1.ToDevice(Device.CpuWithThreads(2));

        const int m = n - n % 7;
        Func<Tensor, Tensor, Tensor>[] ops =
        [
            (a, b) => a + b, (a, b) => a * b, (a, b) => a.Exp(), (a, b) => a.Relu(), (a, b) => a.Tanh(),
            (a, b) => a.Narrow(0, 1, m - 1).Sigmoid(),          // a dense view at an offset
            (a, b) => a.Reshape(m / 7, 7).T.Exp(),              // strided input: gathered first
        ];
        for (int k = 0; k < ops.Length; k++)
        {
            var one = ops[k](x1.Narrow(0, 0, m), y1.Narrow(0, 0, m)).ToArray<double>();
            var two = ops[k](x2.Narrow(0, 0, m), y2.Narrow(0, 0, m)).ToArray<double>();
            for (int i = 0; i < one.Length; i++)
                if (one[i] != two[i]) Assert.Fail($"op {k}: element {i} is {two[i]} on 2 threads, {one[i]} on 1");
        }

        var xs = x1.ToArray<double>();
        var relu = x2.Relu().ToArray<double>();
        for (int i = 0; i < n; i++) Assert.Equal(Math.Max(xs[i], 0), relu[i]);
    }

    [Fact]
    public void Relu_backward_masks_the_cotangent_where_the_input_is_positive()
    {
        const int n = 1 << 17;
        var g = new Generator(2);
        var x = Tensor.Randn([n], g).ToDevice(Device.CpuWithThreads(2)).RequireGrad();
        var dy = Tensor.Randn([n], g).ToDevice(Device.CpuWithThreads(2));
        var dx = x.Relu().Backward(dy).Of(x).ToArray<float>();
        float[] xs = x.ToArray<float>(), dys = dy.ToArray<float>();
        for (int i = 0; i < n; i++) Assert.Equal(xs[i] > 0 ? dys[i] : 0f, dx[i]);
    }

    /// <summary>
    /// A scalar's gradient broadcast into ReLU's backward (y.Relu().Sum() · 3): the cotangent is one value for every
    /// element, masked where the input is positive; a NaN input is not positive. A ragged length checks the tail.
    /// </summary>
    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Relu_backward_of_a_broadcast_cotangent_masks_it_where_the_input_is_positive(DType dtype)
    {
        const int n = 1000 + 5;
        var g = new Generator(4);
        var values = Tensor.Randn([n], g, DType.Float64).ToArray<double>();
        values[3] = double.NaN;
        values[10] = 0;
        values[n - 1] = 2;
        var x = Tensor.FromArray(values, n).To(dtype).RequireGrad();
        var dx = (x.Relu().Sum() * 3).Backward().Of(x).ToArray<double>();
        for (int i = 0; i < n; i++) Assert.Equal(values[i] > 0 ? 3.0 : 0.0, dx[i]);
    }

    /// <summary>
    /// A small dense range runs on the calling thread with no allocation at all: a tiny op's garbage is its result alone
    /// (a lambda that captures For's parameters would cost a closure on every call, whichever branch runs).
    /// </summary>
    [Fact]
    public void Small_elementwise_kernels_allocate_nothing()
    {
        var device = Device.CpuWithThreads(2);
        var a = Tensor.FromArray([1f, 2f, 3f, 4f], 4).ToDevice(device);
        var b = Tensor.FromArray([0.5f, -2f, 0f, 8f], 4).ToDevice(device);
        var y = Tensor.FromArray(new float[4], 4).ToDevice(device);
        var backend = device.Backend;
        void Run()
        {
            backend.Binary(BinaryOp.Add, a.View, b.View, y.View);
            backend.Binary(BinaryOp.MaskPositive, a.View, b.View, y.View);
            backend.Unary(UnaryOp.Exp, a.View, y.View);
        }
        Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) Run();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(new[] { 2.7182817f, 7.389056f, 20.085537f, 54.59815f }, y.ToArray<float>(), (u, v) => Math.Abs(u - v) < 1e-5f);
    }
}
