using Nabla.Kernels;
using Nabla.Kernels.Cpu;

namespace Nabla;

public enum DeviceType { Cpu, Cuda }

/// <summary>
/// Where a tensor's storage lives and which kernels compute on it. Devices are explicit values: tensors carry
/// theirs, and ops on tensors from different devices are errors, never silent copies.
/// </summary>
public sealed class Device
{
    private Device(DeviceType type, int index, IBackend backend)
    {
        Type = type;
        Index = index;
        Backend = backend;
    }

    public DeviceType Type { get; }

    public int Index { get; }

    /// <summary>The kernels of this device.</summary>
    public IBackend Backend { get; }

    /// <summary>The CPU, using every core the process may use.</summary>
    public static Device Cpu { get; } = new(DeviceType.Cpu, 0, new CpuBackend(Environment.ProcessorCount));

    /// <summary>A CPU device whose kernels use at most <paramref name="threads"/> threads (the <c>--threads</c> option).</summary>
    public static Device CpuWithThreads(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "thread count must be positive");
        return threads == Environment.ProcessorCount ? Cpu : CpuOfItsOwn(threads);
    }

    /// <summary>A CPU device with a backend (thread pool and buffer pool) shared with no other device.</summary>
    internal static Device CpuOfItsOwn(int threads) => new(DeviceType.Cpu, 0, new CpuBackend(threads));

    public override string ToString() => Type == DeviceType.Cpu ? "cpu" : $"cuda:{Index}";
}
