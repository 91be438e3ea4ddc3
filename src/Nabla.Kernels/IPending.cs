namespace Nabla.Kernels;

/// <summary>Work a backend has started and may still be doing; its results must not be read before <see cref="Wait"/> returns.</summary>
public interface IPending
{
    /// <summary>Finishes the work (on the calling thread, for whatever has not started yet) and returns when it is done; rethrows its first exception.</summary>
    void Wait();
}
