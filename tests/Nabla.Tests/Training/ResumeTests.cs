using Nabla.Data;
using Nabla.Nn;
using Nabla.Optim;
using Nabla.Training;

namespace Nabla.Tests.Training;

public sealed class ResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nabla-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TensorDataset Blobs(int n)
    {
        var g = new Generator(42);
        var x = Tensor.Randn([n, 4], g);
        var y = x.Select(1, 0).Gt(x.Select(1, 1)).To(Nabla.Kernels.DType.Int64);
        return new TensorDataset(x, y);
    }

    private static (Module Model, Optimizer Optimizer, Generator Random) Fresh()
    {
        var random = new Generator(7);
        var model = new Sequential(new Linear(4, 8, random), new Tanh(), new Dropout(0.2), new Linear(8, 2, random));
        return (model, new Adam(model.NamedParameters(), new AdamOptions(LearningRate: 0.01)), random);
    }

    private static void Train(Module model, Optimizer optimizer, Generator random, int epochs)
    {
        var loader = new DataLoader(Blobs(96), 16, Sampling.Shuffle, generator: random);
        for (int e = 0; e < epochs; e++) Trainer.TrainEpoch(model, optimizer, loader, Loss.CrossEntropyLoss, random);
    }

    [Fact]
    public void Two_epochs_then_two_more_from_a_checkpoint_equal_four_epochs_straight()
    {
        var (straight, opt1, rng1) = Fresh();
        Train(straight, opt1, rng1, 4);

        var (first, opt2, rng2) = Fresh();
        Train(first, opt2, rng2, 2);
        string path = Path.Combine(_dir, "checkpoint.safetensors");
        TrainingCheckpoint.Save(path, first, opt2, rng2, epoch: 2, history: []);

        var (resumed, opt3, rng3) = Fresh();
        var info = TrainingCheckpoint.Load(path, resumed, opt3, rng3);
        Assert.Equal(2, info.Epoch);
        Train(resumed, opt3, rng3, 2);

        foreach (var ((name, a), (_, b)) in straight.NamedParameters().Zip(resumed.NamedParameters()))
            Assert.True(a.ToArray<float>().SequenceEqual(b.ToArray<float>()), $"parameter {name} differs after resuming");
    }

    [Fact]
    public void Fit_learns_a_separable_problem_and_reports_every_epoch()
    {
        var (model, optimizer, random) = Fresh();
        var seen = new List<int>();
        var history = Trainer.Fit(model, optimizer, Blobs(256), Blobs(64), Loss.CrossEntropyLoss, epochs: 5, batchSize: 16, random, classes: 2, onEpoch: r => seen.Add(r.Epoch));
        Assert.Equal([1, 2, 3, 4, 5], seen);
        Assert.True(history[^1].TrainLoss < history[0].TrainLoss, "training loss should fall");
        Assert.True(history[^1].TestAccuracy > 0.9, $"accuracy {history[^1].TestAccuracy} on a linearly separable problem");
    }

    [Fact]
    public void Loading_a_checkpoint_of_another_architecture_names_the_mismatch()
    {
        var (model, optimizer, random) = Fresh();
        string path = Path.Combine(_dir, "checkpoint.safetensors");
        TrainingCheckpoint.Save(path, model, optimizer, random, 1, []);
        var other = new Sequential(new Linear(4, 9, random), new Tanh(), new Dropout(0.2), new Linear(9, 2, random));
        var e = Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.Load(path, other, new Adam(other.NamedParameters(), new AdamOptions()), random));
        Assert.Contains("0.weight", e.Message);
        Assert.Contains("[8, 4]", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_corrupt_checkpoint_fails_with_the_file_name()
    {
        string path = Path.Combine(_dir, "broken.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var (model, optimizer, random) = Fresh();
        var e = Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.Load(path, model, optimizer, random));
        Assert.Contains("broken.safetensors", e.Message);
    }

    [Fact]
    public void A_diverging_run_stops_with_a_clear_message()
    {
        // Least squares with a step far beyond 2/L: the iterates grow geometrically until float32 overflows.
        var random = new Generator(7);
        var x = Tensor.Randn([64, 4], random);
        var data = new TensorDataset(x, x.Sum(1));
        var model = new Sequential(new Linear(4, 1, random));
        var sgd = new Sgd(model.NamedParameters(), new SgdOptions(LearningRate: 50));
        var loader = new DataLoader(data, 16, Sampling.Shuffle, generator: random);
        var e = Assert.Throws<TrainingDivergedException>(() =>
        {
            for (int i = 0; i < 50; i++) Trainer.TrainEpoch(model, sgd, loader, (o, t) => Loss.Mse(o.Reshape(-1), t), random, epoch: i + 1);
        });
        Assert.Contains("diverged", e.Message);
        Assert.Contains("epoch", e.Message);
    }
}
