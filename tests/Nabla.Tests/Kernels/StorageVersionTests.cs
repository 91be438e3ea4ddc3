using Nabla.Kernels;
using Nabla.Kernels.Cpu;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>
/// Every method of the CPU backend that writes a view records the write on its storage (<see cref="Storage.Touch"/>),
/// as the kernel contract asks: a packed weight kept from an older version would otherwise be read again. Each call
/// here writes into a storage that already exists, as an in-place update would.
/// </summary>
public class StorageVersionTests
{
    private static readonly CpuBackend Backend = new(1);

    private static View Floats(params int[] shape) => new(Backend.Allocate(DType.Float32, shape.Aggregate(1, (a, b) => a * b)), Layout.Contiguous(shape));

    private static View Longs(params int[] shape) => new(Backend.Allocate(DType.Int64, shape.Aggregate(1, (a, b) => a * b)), Layout.Contiguous(shape));

    public static TheoryData<string> Writers() => [.. Calls.Keys];

    /// <summary>Each writing method, applied to a fresh destination it returns.</summary>
    private static readonly Dictionary<string, Func<View>> Calls = new()
    {
        ["Copy"] = () => Write(Floats(4), d => Backend.Copy(Floats(4), d)),
        ["Fill"] = () => Write(Floats(4), d => Backend.Fill(d, 1)),
        ["Unary"] = () => Write(Floats(4), d => Backend.Unary(UnaryOp.Neg, Floats(4), d)),
        ["Binary"] = () => Write(Floats(4), d => Backend.Binary(BinaryOp.Add, Floats(4), Floats(4), d)),
        ["Where"] = () => Write(Floats(4), d => Backend.Where(new View(Backend.Allocate(DType.Bool, 4), Layout.Contiguous([4])), Floats(4), Floats(4), d)),
        ["Reduce"] = () => Write(Floats(2, 1), d => Backend.Reduce(ReduceOp.Sum, Floats(2, 3), [1], d)),
        ["LogSoftmax"] = () => Write(Floats(2, 3), d => Backend.LogSoftmax(Floats(2, 3), 1, d)),
        ["ArgReduce"] = () => Write(Longs(2, 1), d => Backend.ArgReduce(ArgReduceOp.ArgMax, Floats(2, 3), 1, d)),
        ["MatMul"] = () => Write(Floats(2, 2), d => Backend.MatMul(Floats(2, 3), Floats(3, 2), d, accumulate: true)),
        ["AddMm"] = () => Write(Floats(1, 2), d => Backend.AddMm(Floats(2), Floats(1, 3), Floats(3, 2), d, relu: false, reusesB: true)),
        ["Gather"] = () => Write(Floats(2, 1), d => Backend.Gather(Floats(2, 3), Longs(2, 1), 1, d)),
        ["IndexSelect"] = () => Write(Floats(2, 2), d => Backend.IndexSelect(Floats(2, 3), Longs(2), 1, d)),
        ["BeginIndexSelect"] = () => Write(Floats(2, 2), d => Backend.BeginIndexSelect(Floats(2, 3), Longs(2), 1, d).Wait()),
        ["ScatterAdd"] = () => Write(Floats(2, 3), d => Backend.ScatterAdd(Floats(2, 1), Longs(2, 1), 1, d)),
        ["Conv2d"] = () => Write(Floats(1, 1, 2, 2), d => Backend.Conv2d(Conv, Floats(1, 1, 3, 3), Floats(1, 1, 2, 2), null, d)),
        ["Conv2dBackwardInput"] = () => Write(Floats(1, 1, 3, 3), d => Backend.Conv2dBackwardInput(Conv, Floats(1, 1, 2, 2), Floats(1, 1, 2, 2), d)),
        ["Conv2dBackwardWeight"] = () => Write(Floats(1, 1, 2, 2), d => Backend.Conv2dBackwardWeight(Conv, Floats(1, 1, 3, 3), Floats(1, 1, 2, 2), d)),
        ["MaxPool2d"] = () => Write(Floats(1, 1, 1, 1), d => Backend.MaxPool2d(Pool, Floats(1, 1, 2, 2), d, null)),
        ["MaxPool2dBackward"] = () => Write(Floats(1, 1, 2, 2), d =>
        {
            var argmax = Backend.AllocateIndices(1);
            Backend.MaxPool2d(Pool, Floats(1, 1, 2, 2), Floats(1, 1, 1, 1), argmax);
            Backend.MaxPool2dBackward(Pool, Floats(1, 1, 1, 1), argmax, d);
        }),
        ["AvgPool2d"] = () => Write(Floats(1, 1, 1, 1), d => Backend.AvgPool2d(Pool, Floats(1, 1, 2, 2), d)),
        ["AvgPool2dBackward"] = () => Write(Floats(1, 1, 2, 2), d => Backend.AvgPool2dBackward(Pool, Floats(1, 1, 1, 1), d)),
    };

    private static readonly ConvGeometry Conv = new(Batch: 1, InChannels: 1, Height: 3, Width: 3, OutChannels: 1, KernelH: 2, KernelW: 2);
    private static readonly PoolGeometry Pool = new(Batch: 1, Channels: 1, Height: 2, Width: 2, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2);

    private static View Write(View dst, Action<View> call)
    {
        call(dst);
        return dst;
    }

    [Theory]
    [MemberData(nameof(Writers))]
    public void A_backend_write_touches_its_destination(string method)
    {
        var dst = Calls[method]();
        Assert.True(dst.Storage.Version > 0, $"{method} wrote its destination without recording it");
    }
}
