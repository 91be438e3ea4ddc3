using Nabla.Data;

namespace Nabla.Tests.Training;

public class DataLoaderTests
{
    private static TensorDataset Numbers(int n) =>
        new(Tensor.Arange(0, n, 1, Nabla.Kernels.DType.Float32).Reshape(n, 1), Tensor.Arange(n));

    [Fact]
    public void Shuffled_epochs_use_every_example_exactly_once()
    {
        var loader = new DataLoader(Numbers(103), 10, Sampling.Shuffle, generator: new Generator(3));
        var seen = loader.SelectMany(b => b.Y.ToArray<long>()).ToArray();
        Assert.Equal(103, seen.Length);
        Assert.Equal(Enumerable.Range(0, 103).Select(i => (long)i), seen.Order());
        Assert.Equal(11, loader.BatchCount);
        Assert.NotEqual(Enumerable.Range(0, 103).Select(i => (long)i), seen); // it really shuffles
    }

    [Fact]
    public void Drop_last_discards_the_partial_batch()
    {
        var loader = new DataLoader(Numbers(103), 10, Sampling.Shuffle, dropLast: true, generator: new Generator(3));
        Assert.Equal(10, loader.BatchCount);
        Assert.All(loader, b => Assert.Equal(10, b.X.Shape[0]));
    }

    [Fact]
    public void Sampling_with_replacement_draws_independent_batches()
    {
        var loader = new DataLoader(Numbers(20), 20, Sampling.WithReplacement, generator: new Generator(5));
        var batch = loader.Single().Y.ToArray<long>();
        Assert.Equal(20, batch.Length);
        Assert.True(batch.Distinct().Count() < 20, "20 draws with replacement from 20 items repeat one with probability 1 − 20!/20²⁰");
    }

    [Fact]
    public void The_same_seed_gives_the_same_batches()
    {
        long[] First(ulong seed) => new DataLoader(Numbers(50), 7, Sampling.Shuffle, generator: new Generator(seed)).First().Y.ToArray<long>();
        Assert.Equal(First(9), First(9));
        Assert.NotEqual(First(9), First(10));
    }

    [Fact]
    public void Batches_hold_the_rows_they_index()
    {
        foreach (var (x, y) in new DataLoader(Numbers(30), 8, Sampling.Shuffle, generator: new Generator(1)))
            Assert.Equal(y.ToArray<long>().Select(v => (float)v), x.Reshape(-1).ToArray<float>());
    }

    /// <summary>
    /// A TensorDataset's batches are gathered one ahead (see DataLoader.GetEnumerator); they are those of GetBatch over
    /// the same indices, on one thread and on two, whole epochs and epochs left early.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Batches_gathered_ahead_are_those_of_get_batch(int threads)
    {
        var device = Device.CpuWithThreads(threads);
        var g = new Generator(2);
        var data = new TensorDataset(Tensor.Randn([500, 784], g).ToDevice(device), Tensor.Arange(500).ToDevice(device));
        foreach (var sampling in new[] { Sampling.Shuffle, Sampling.Sequential, Sampling.WithReplacement })
        {
            var loader = new DataLoader(data, 64, sampling, generator: new Generator(7));
            var expected = new DataLoader(data, 64, sampling, generator: new Generator(7)).BatchIndices().Select(i => data.GetBatch(i)).ToList();
            var batches = loader.ToList();
            Assert.Equal(expected.Count, batches.Count);
            for (int b = 0; b < batches.Count; b++)
            {
                Assert.Equal(expected[b].X.ToArray<float>(), batches[b].X.ToArray<float>());
                Assert.Equal(expected[b].Y.ToArray<long>(), batches[b].Y.ToArray<long>());
            }
        }
        // Left after two batches (one more begun), then read whole again: the generator has moved on by one epoch only.
        var early = new DataLoader(data, 64, Sampling.Shuffle, generator: new Generator(8));
        var twice = new DataLoader(data, 64, Sampling.Shuffle, generator: new Generator(8));
        Assert.Equal(2, early.Take(2).Count());
        twice.BatchIndices().ToList();
        Assert.Equal(twice.Select(b => b.Y.ToArray<long>()).SelectMany(y => y), early.Select(b => b.Y.ToArray<long>()).SelectMany(y => y));
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(Numbers(3), 0));
        Assert.Throws<ArgumentException>(() => new DataLoader(Numbers(3), 2, Sampling.Shuffle));
        Assert.Throws<ArgumentException>(() => new TensorDataset(Tensor.Zeros(3, 2), Tensor.Zeros(4)));
    }
}
