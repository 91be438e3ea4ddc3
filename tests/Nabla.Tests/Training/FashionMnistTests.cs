using Nabla.Data;
using Nabla.Models;
using Nabla.Nn;
using Nabla.Optim;
using Nabla.Training;

namespace Nabla.Tests.Training;

/// <summary>End to end on real data: runs when Fashion-MNIST is installed (.ci/run installs it).</summary>
public class FashionMnistTests
{
    private static ImageData? TryLoad()
    {
        try
        {
            return Mnist.Load(ImageDataset.FashionMnist);
        }
        catch (DatasetNotFoundException)
        {
            return null;
        }
    }

    [Fact]
    public void The_data_set_loads_with_the_documented_shapes()
    {
        var data = TryLoad();
        if (data is null) return;
        Assert.Equal([60000, 1, 28, 28], data.Train.X.Shape);
        Assert.Equal([10000], data.Test.Y.Shape);
        var labels = data.Train.Y.ToArray<long>();
        Assert.Equal(10, labels.Distinct().Count());
        // Standardized with the training set's own statistics.
        Assert.InRange(data.Train.X.Mean().Item(), -1e-3, 1e-3);
    }

    [Fact]
    public void A_small_mlp_learns_fashion_mnist_from_a_few_thousand_images()
    {
        var data = TryLoad();
        if (data is null) return;
        var g = new Generator(1);
        var model = Presets.Mlp(g);
        var optimizer = new Sgd(model.NamedParameters(), new SgdOptions(LearningRate: 0.05, Momentum: 0.9));
        var loader = new DataLoader(data.Train.Take(4000), 64, Sampling.Shuffle, generator: g);
        for (int epoch = 1; epoch <= 2; epoch++) Trainer.TrainEpoch(model, optimizer, loader, Loss.CrossEntropyLoss, g, epoch);
        var eval = Trainer.Evaluate(model, data.Test.Take(2000), Loss.CrossEntropyLoss, classes: 10);
        // Chance is 10 %; 4000 images and 2 epochs reach about 80 %.
        Assert.True(eval.Accuracy > 0.72, $"accuracy {eval.Accuracy:P1} is too low");
        Assert.Equal(2000, eval.Count);
    }
}
