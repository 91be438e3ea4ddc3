namespace Nabla.Tests;

/// <summary>
/// For tests of the buffer pool, whose reuse counts a garbage collection can change (it hands back every dead tensor's
/// buffer at once): runs a test's attempt again until one sees no collection during what it measures.
/// </summary>
internal static class NoCollection
{
    private const int Attempts = 50;

    /// <summary>Calls <paramref name="attempt"/> until it returns true, at most <see cref="Attempts"/> times, then fails.</summary>
    /// <param name="attempt">
    /// One run of the test: false when <see cref="GC.CollectionCount(int)"/> changed during its measured part; otherwise
    /// it asserts what it tests and returns true.
    /// </param>
    /// <param name="during">Where no collection may run, for the failure message ("during the test").</param>
    public static void Retry(Func<bool> attempt, string during = "during the test")
    {
        for (int i = 0; i < Attempts; i++)
            if (attempt()) return;
        Assert.Fail($"a garbage collection ran {during} in every one of {Attempts} attempts");
    }
}
