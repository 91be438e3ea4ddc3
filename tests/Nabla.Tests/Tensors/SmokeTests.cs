namespace Nabla.Tests.Tensors;

public class SmokeTests
{
    [Fact]
    public void Two_layer_network_by_hand_has_gradients()
    {
        var g = new Generator(0);
        var x = Tensor.Randn([4, 3], g);
        var w1 = Tensor.Randn([3, 5], g).RequireGrad();
        var w2 = Tensor.Randn([5, 2], g).RequireGrad();
        var loss = x.MatMul(w1).Relu().MatMul(w2).Square().Mean();
        var grads = loss.Backward();
        Assert.Equal([3, 5], grads.Of(w1).Shape);
        Assert.Equal([5, 2], grads.Of(w2).Shape);
    }
}
