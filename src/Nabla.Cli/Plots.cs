using Nabla.Serialization;
using Nabla.Training;

namespace Nabla.Cli;

/// <summary>The PNG figures a training run leaves behind, written atomically like every other output.</summary>
internal static class Plots
{
    public static void Curves(string path, IReadOnlyList<EpochRecord> history)
    {
        var plot = new ScottPlot.Plot();
        double[] epochs = history.Select(h => (double)h.Epoch).ToArray();
        var train = plot.Add.Scatter(epochs, history.Select(h => h.TrainLoss).ToArray());
        train.LegendText = "train loss";
        var test = plot.Add.Scatter(epochs, history.Select(h => h.TestLoss).ToArray());
        test.LegendText = "test loss";
        var accuracy = plot.Add.Scatter(epochs, history.Select(h => h.TestAccuracy).ToArray());
        accuracy.LegendText = "test accuracy";
        accuracy.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Right.Label.Text = "accuracy";
        plot.Axes.Left.Label.Text = "loss";
        plot.Axes.Bottom.Label.Text = "epoch";
        plot.Title("Training curves");
        plot.ShowLegend();
        Save(plot, path, 900, 550);
    }

    public static void Confusion(string path, int[,] confusion, string[] classes)
    {
        int n = confusion.GetLength(0);
        var values = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) values[i, j] = confusion[i, j];
        var plot = new ScottPlot.Plot();
        var map = plot.Add.Heatmap(values);
        plot.Add.ColorBar(map);
        double max = Math.Max(1, values.Cast<double>().Max());
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                var label = plot.Add.Text(confusion[i, j].ToString(System.Globalization.CultureInfo.InvariantCulture), j, n - 1 - i);
                label.LabelFontSize = 10;
                label.LabelFontColor = confusion[i, j] < 0.6 * max ? ScottPlot.Colors.White : ScottPlot.Colors.Black; // readable on dark and light cells
                label.LabelAlignment = ScottPlot.Alignment.MiddleCenter;
            }
        var ticks = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(ticks, classes);
        plot.Axes.Left.SetTicks(ticks.Select(t => n - 1 - t).ToArray(), classes);
        plot.Axes.Bottom.Label.Text = "predicted";
        plot.Axes.Left.Label.Text = "true";
        plot.Title("Confusion matrix (test set)");
        Save(plot, path, 900, 800);
    }

    private static void Save(ScottPlot.Plot plot, string path, int width, int height)
    {
        byte[] png = plot.GetImageBytes(width, height, ScottPlot.ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(png));
    }
}
