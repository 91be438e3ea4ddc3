namespace Nabla.Nn;

/// <summary>
/// How a forward pass runs, passed explicitly (no hidden <c>model.train()</c> state): in training, dropout draws
/// from <see cref="Random"/> and batch norm uses batch statistics; in evaluation both are deterministic.
/// </summary>
public sealed record Mode(bool Training, Generator? Random)
{
    public static Mode Eval { get; } = new(false, null);

    public static Mode Train(Generator random) => new(true, random);
}
