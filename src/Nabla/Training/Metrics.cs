namespace Nabla.Training;

/// <summary>Loss, accuracy and confusion matrix of a model on a data set.</summary>
public sealed record Evaluation(double Loss, double Accuracy, int Count, int[,] Confusion)
{
    /// <summary>Counts of (true class, predicted class) pairs from Int64 labels and predictions.</summary>
    public static int[,] ConfusionMatrix(long[] labels, long[] predictions, int classes)
    {
        var m = new int[classes, classes];
        for (int i = 0; i < labels.Length; i++) m[labels[i], predictions[i]]++;
        return m;
    }
}

/// <summary>One row of a training history.</summary>
public sealed record EpochRecord(int Epoch, double TrainLoss, double TestLoss, double TestAccuracy, double Seconds, double LearningRate);

/// <summary>What a progress display learns after each batch.</summary>
public readonly record struct BatchProgress(int Epoch, int Batch, int Batches, int Samples, double RunningLoss, double Seconds);

/// <summary>Raised when the loss stops being a finite number; training stops and the last good checkpoint stays.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
