using System.Buffers;
using System.Collections;

namespace Nabla.Data;

/// <summary>How a loader picks the examples of each batch (002 §8.4).</summary>
public enum Sampling
{
    /// <summary>In order, every example once per epoch (evaluation).</summary>
    Sequential,
    /// <summary>A fresh random permutation each epoch, cut into disjoint batches: every example used exactly once per epoch.</summary>
    Shuffle,
    /// <summary>Each batch drawn independently and uniformly with replacement; an epoch is ⌈N/B⌉ such batches (002 eq 8.12).</summary>
    WithReplacement,
}

/// <summary>
/// Iterates a dataset in mini-batches. Enumerating it once is one epoch; the random order comes from the explicit
/// generator, so a seed (and the generator's saved state, on resume) fixes every batch.
/// </summary>
public sealed class DataLoader : IEnumerable<(Tensor X, Tensor Y)>
{
    public DataLoader(IDataset dataset, int batchSize, Sampling sampling = Sampling.Shuffle, bool dropLast = false, Generator? generator = null)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "DataLoader: batch size must be positive");
        if (sampling != Sampling.Sequential && generator is null)
            throw new ArgumentException($"DataLoader: {sampling} sampling needs a generator");
        (Dataset, BatchSize, Sampling, DropLast, Generator) = (dataset, batchSize, sampling, dropLast, generator);
    }

    public IDataset Dataset { get; }
    public int BatchSize { get; }
    public Sampling Sampling { get; }
    public bool DropLast { get; }
    public Generator? Generator { get; }

    /// <summary>Batches per epoch: ⌈N/B⌉, or ⌊N/B⌋ when dropping the last partial batch.</summary>
    public int BatchCount => DropLast ? Dataset.Count / BatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>The example indices of each batch of the next epoch (draws from the generator).</summary>
    public IEnumerable<int[]> BatchIndices()
    {
        int n = Dataset.Count;
        // The epoch's order is needed only while its batches are cut from it, so it is rented: an array of 60 000 indices
        // (240 KB) lies in the large-object heap, which only full collections sweep, and one left behind by every epoch
        // (or by a DataLoader made per epoch) would keep the process growing until one ran.
        int[] order = ArrayPool<int>.Shared.Rent(n);
        try
        {
            var span = order.AsSpan(0, n);
            switch (Sampling)
            {
                case Sampling.Shuffle: Generator!.Permutation(span); break;
                case Sampling.WithReplacement: for (int i = 0; i < n; i++) span[i] = Generator!.NextInt(n); break;
                default: for (int i = 0; i < n; i++) span[i] = i; break;
            }
            for (int b = 0; b < BatchCount; b++)
            {
                int start = b * BatchSize;
                yield return order[start..Math.Min(start + BatchSize, n)];
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(order);
        }
    }

    /// <summary>
    /// The batches of one epoch. A <see cref="TensorDataset"/>'s next batch is started as each one is handed out
    /// (<see cref="TensorDataset.BeginBatch"/>), so its rows are gathered while the caller trains on this one, in time
    /// the helper threads would spend idle (the gather is ≈ 20–28 µs of waiting for memory). Zen 3, two threads, the
    /// MLP's Fashion-MNIST training loop, epochs alternating in one process: 508–535 µs a batch (medians of five epochs)
    /// against 530–548 µs with the gather in line; with every batch gathered before the epoch, 510–536. The batches,
    /// and the generator's draws, are the same either way (an epoch's order is drawn when it starts).
    /// </summary>
    public IEnumerator<(Tensor X, Tensor Y)> GetEnumerator()
    {
        if (Dataset is not TensorDataset tensors)
        {
            foreach (var indices in BatchIndices()) yield return Dataset.GetBatch(indices);
            yield break;
        }
        PendingBatch? next = null;
        try
        {
            foreach (var indices in BatchIndices())
            {
                var started = next;
                next = null;
                var batch = started?.Wait();
                next = tensors.BeginBatch(indices);
                if (batch is { } ready) yield return ready;
            }
            if (next is { } final)
            {
                next = null;
                yield return final.Wait();
            }
        }
        finally
        {
            // An epoch left early (break, an exception in the loop) still finishes the batch it started: its copies
            // write into a buffer that must not go back to the pool before they are done.
            next?.Wait();
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
