using Nabla.Nn;

namespace Nabla.Models;

/// <summary>The networks the <c>nabla</c> command trains by name.</summary>
public enum ModelKind { Mlp, Cnn }

/// <summary>Standard architectures for 28×28 grey images with 10 classes.</summary>
public static class Presets
{
    public static Module Create(ModelKind kind, Generator generator) => kind switch
    {
        ModelKind.Mlp => Mlp(generator),
        ModelKind.Cnn => LeNet(generator),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>784-256-128-10 with ReLU. Shapes: [N, 1, 28, 28] (or [N, 784]) → logits [N, 10].</summary>
    public static Sequential Mlp(Generator g) => new(
        new Flatten(),
        new Linear(784, 256, g), new ReLU(),
        new Linear(256, 128, g), new ReLU(),
        new Linear(128, 10, g));

    /// <summary>
    /// LeNet-style: conv5×5 1→32 (pad 2), ReLU, max-pool 2, conv5×5 32→64 (pad 2), ReLU, max-pool 2,
    /// dense 3136→128, ReLU, dense 128→10. Shapes: [N, 1, 28, 28] → logits [N, 10].
    /// </summary>
    public static Sequential LeNet(Generator g) => new(
        new Conv2d(1, 32, 5, g, padding: 2), new ReLU(), new MaxPool2d(2),
        new Conv2d(32, 64, 5, g, padding: 2), new ReLU(), new MaxPool2d(2),
        new Flatten(),
        new Linear(7 * 7 * 64, 128, g), new ReLU(),
        new Linear(128, 10, g));
}
