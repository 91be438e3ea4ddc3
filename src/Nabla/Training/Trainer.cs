using System.Diagnostics;
using Nabla.Autodiff;
using Nabla.Data;
using Nabla.Nn;
using Nabla.Optim;

namespace Nabla.Training;

/// <summary>A loss of a model's output and the targets, e.g. <c>Loss.CrossEntropy</c>.</summary>
public delegate Tensor LossFunction(Tensor output, Tensor target);

/// <summary>The training loop, short enough to read at once. Nothing is hidden: a hand-written loop does the same.</summary>
public static class Trainer
{
    /// <summary>One pass over the loader: forward, loss, backward, step. Returns the mean training loss.</summary>
    public static double TrainEpoch(Module model, Optimizer optimizer, DataLoader loader, LossFunction loss, Generator random, int epoch = 1, Action<BatchProgress>? onBatch = null)
    {
        var mode = Mode.Train(random);
        var clock = Stopwatch.StartNew();
        double total = 0;
        int samples = 0, batch = 0, batches = loader.BatchCount;
        foreach (var (x, y) in loader)
        {
            var l = loss(model.Forward(x, mode), y);
            double value = l.Item();
            if (!double.IsFinite(value))
                throw new TrainingDivergedException($"training diverged: the loss became {value} at epoch {epoch}, batch {batch + 1}; lower the learning rate");
            using (var gradients = l.Backward()) optimizer.Step(gradients);   // disposed: their memory is reused warm
            total += value * x.Shape[0];
            samples += x.Shape[0];
            onBatch?.Invoke(new BatchProgress(epoch, ++batch, batches, samples, total / samples, clock.Elapsed.TotalSeconds));
        }
        return samples == 0 ? double.NaN : total / samples;
    }

    /// <summary>
    /// Trains for <paramref name="epochs"/> epochs of shuffled mini-batches and evaluates on <paramref name="test"/>
    /// after each; returns the history. <paramref name="onEpoch"/> sees each record as it is made (to log or checkpoint).
    /// </summary>
    public static List<EpochRecord> Fit(Module model, Optimizer optimizer, IDataset train, IDataset test, LossFunction loss, int epochs,
        int batchSize, Generator random, int classes, Action<EpochRecord>? onEpoch = null)
    {
        var loader = new DataLoader(train, batchSize, Sampling.Shuffle, generator: random);
        var history = new List<EpochRecord>();
        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            double trainLoss = TrainEpoch(model, optimizer, loader, loss, random, epoch);
            var eval = Evaluate(model, test, loss, classes);
            var record = new EpochRecord(epoch, trainLoss, eval.Loss, eval.Accuracy, clock.Elapsed.TotalSeconds, optimizer.LearningRate);
            history.Add(record);
            onEpoch?.Invoke(record);
        }
        return history;
    }

    /// <summary>Loss, accuracy and confusion matrix in evaluation mode, without recording gradients.</summary>
    public static Evaluation Evaluate(Module model, IDataset data, LossFunction loss, int classes, int batchSize = 500)
    {
        using var _ = Autograd.NoGrad();
        double total = 0;
        var labels = new List<long>(data.Count);
        var predictions = new List<long>(data.Count);
        foreach (var (x, y) in new DataLoader(data, batchSize, Sampling.Sequential))
        {
            var output = model.Forward(x, Mode.Eval);
            total += loss(output, y).Item() * x.Shape[0];
            labels.AddRange(y.ToArray<long>());
            predictions.AddRange(output.ArgMax(1).ToArray<long>());
        }
        int n = labels.Count, correct = 0;
        for (int i = 0; i < n; i++) correct += labels[i] == predictions[i] ? 1 : 0;
        return new Evaluation(n == 0 ? double.NaN : total / n, n == 0 ? double.NaN : (double)correct / n, n,
            Evaluation.ConfusionMatrix(labels.ToArray(), predictions.ToArray(), classes));
    }
}
