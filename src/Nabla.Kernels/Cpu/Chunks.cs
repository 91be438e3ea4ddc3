namespace Nabla.Kernels.Cpu;

/// <summary>Splits a dense range of elements into chunks for <see cref="CpuParallel"/>, when it is large enough to pay.</summary>
internal static class Chunks
{
    /// <summary>
    /// Below this many elements one thread streams the range faster than a hand-off to a worker costs (the dispatch
    /// and moving the data between the cores' caches); above it, elementwise kernels are memory-bound and a second core
    /// adds bandwidth.
    /// </summary>
    public const int ParallelThreshold = 1 << 16;

    /// <summary>Chunk size: a multiple of every vector width, large enough that claiming one is cheap.</summary>
    private const int ChunkLength = 1 << 14;

    /// <summary>Runs <paramref name="body"/>(state, start, length) over [0, n) in chunks, on up to <paramref name="threads"/> threads.</summary>
    /// <remarks>
    /// The chunks do not depend on the thread count, so neither do the results: SIMD libraries may treat a range's
    /// ragged end differently (a last element can differ by an ulp), and that end must fall in the same place.
    /// The body takes its data as an explicit <paramref name="state"/> so that callers can pass a static lambda: a small
    /// range then runs with no allocation at all (a capturing lambda costs a closure and a delegate on every call, which
    /// a tiny op notices).
    /// </remarks>
    public static void For<TState>(int n, int threads, TState state, Action<TState, int, int> body)
    {
        if (n < ParallelThreshold) body(state, 0, n);
        else InChunks(n, threads, state, body);
    }

    // Apart from For because its lambda captures the parameters: the compiler allocates that closure on entry to the
    // method that declares them, before any branch, so in For itself even a small range paid for it: 72 of a 4-element
    // add's 232 bytes of garbage; that add with recording on took 185 ns, now 143 (Zen 3, median of five loops).
    private static void InChunks<TState>(int n, int threads, TState state, Action<TState, int, int> body)
    {
        int chunks = (n + ChunkLength - 1) / ChunkLength;
        CpuParallel.For(chunks, threads, c =>
        {
            int start = c * ChunkLength;
            body(state, start, Math.Min(ChunkLength, n - start));
        });
    }
}
