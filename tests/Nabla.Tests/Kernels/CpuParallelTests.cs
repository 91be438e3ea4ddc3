using Nabla.Kernels.Cpu;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>
/// <see cref="CpuParallel.For"/>: every index exactly once, errors surfaced, helpers really used, safe under contention.
/// Run alone: whether a helper joins a call depends on the worker's mailbox being free, which other tests running
/// kernels at the same time would make a matter of chance.
/// </summary>
[Collection(nameof(CpuParallelTests))]
[CollectionDefinition(nameof(CpuParallelTests), DisableParallelization = true)]
public class CpuParallelTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(7, 2)]
    [InlineData(100, 2)]
    [InlineData(100, 8)]
    [InlineData(5, 1)]
    public void Every_index_runs_exactly_once(int count, int threads)
    {
        for (int round = 0; round < 50; round++)
        {
            var hits = new int[count];
            CpuParallel.For(count, threads, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void The_caller_runs_index_zero()
    {
        int caller = Environment.CurrentManagedThreadId;
        for (int round = 0; round < 100; round++)
        {
            int ranOn = -1;
            CpuParallel.For(2, 2, i => { if (i == 0) ranOn = Environment.CurrentManagedThreadId; });
            Assert.Equal(caller, ranOn);
        }
    }

    /// <summary>
    /// Index 0 waits until index 1 has started: that only finishes if a helper runs index 1 meanwhile, also after the
    /// worker has gone to sleep (idle for longer than its spin) and must be woken, and right after tiny calls that the
    /// caller finished alone before the worker looked (their jobs must not block the worker's mailbox).
    /// </summary>
    [Fact]
    public void A_helper_runs_concurrently_also_after_sleeping()
    {
        if (Environment.ProcessorCount < 2) return; // no helper threads exist on one processor
        foreach (int idleMs in new[] { 0, 20, 0, 50 })
        {
            Thread.Sleep(idleMs);
            for (int tiny = 0; tiny < 3; tiny++) CpuParallel.For(2, 2, _ => { });
            Assert.True(IndexOneStartsWhileIndexZeroWaits(), $"index 1 did not start while index 0 waited (idle {idleMs} ms before the call)");
        }
    }

    /// <summary>A For(2, 2) call whose index 0 waits (up to 5 s) for index 1 to start: whether it did, on a helper.</summary>
    private static bool IndexOneStartsWhileIndexZeroWaits()
    {
        int started = 0;
        bool sawOther = false;
        CpuParallel.For(2, 2, i =>
        {
            Interlocked.Increment(ref started);
            if (i != 0) return;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (Volatile.Read(ref started) < 2 && clock.Elapsed < TimeSpan.FromSeconds(5)) Thread.SpinWait(10);
            sawOther = Volatile.Read(ref started) == 2;
        });
        return sawOther;
    }

    /// <summary>
    /// A helper's index that outlasts the caller's spin (50 µs) makes the caller block; the helper must then wake it,
    /// and only then (a call never returns before every index has finished). Run on its own thread so a missed wake-up
    /// fails the test instead of hanging it.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(20)]
    public void A_caller_that_blocked_is_woken_when_the_last_index_finishes(int helperMs)
    {
        if (Environment.ProcessorCount < 2) return;
        for (int round = 0; round < 5; round++)
        {
            int finished = 0;
            var caller = new Thread(() => CpuParallel.For(2, 2, i =>
            {
                if (i == 1) Thread.Sleep(helperMs);
                Interlocked.Increment(ref finished);
            })) { IsBackground = true };
            caller.Start();
            Assert.True(caller.Join(TimeSpan.FromSeconds(10)), $"the caller was not woken (helper index took {helperMs} ms)");
            Assert.Equal(2, Volatile.Read(ref finished));
        }
    }

    [Fact]
    public void The_first_exception_is_rethrown_after_the_claimed_indices_finish()
    {
        int finished = 0;
        var error = Assert.Throws<InvalidOperationException>(() => CpuParallel.For(64, 2, i =>
        {
            if (i == 3) throw new InvalidOperationException("index 3");
            Interlocked.Increment(ref finished);
        }));
        Assert.Equal("index 3", error.Message);
        // Indices claimed after the failure are skipped, so at most 63 finished, and the call returned only after
        // every claimed index was done: nothing is still running and incrementing.
        int seen = Volatile.Read(ref finished);
        Thread.Sleep(10);
        Assert.Equal(seen, Volatile.Read(ref finished));
        Assert.True(seen <= 63);
    }

    [Fact]
    public void Concurrent_and_nested_callers_all_complete()
    {
        var totals = new long[16];
        Parallel.For(0, totals.Length, caller =>
        {
            for (int round = 0; round < 200; round++)
            {
                CpuParallel.For(4, 2, i => CpuParallel.For(3, 2, j => Interlocked.Add(ref totals[caller], i * 3 + j + 1)));
            }
        });
        // Σ over i < 4, j < 3 of (3i + j + 1) = Σ 1..12 = 78, per round.
        Assert.All(totals, t => Assert.Equal(200 * 78, t));
    }

    // ------------------------------------------------------------------------------------------------- Defer

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 1)]
    [InlineData(1, 2)]
    [InlineData(64, 2)]
    [InlineData(100, 8)]
    public void Deferred_work_runs_every_index_exactly_once_by_the_end_of_wait(int count, int threads)
    {
        for (int round = 0; round < 50; round++)
        {
            var hits = new int[count];
            var pending = CpuParallel.Defer(count, threads, i => Interlocked.Increment(ref hits[i]));
            pending.Wait();
            Assert.All(hits, h => Assert.Equal(1, h));
            pending.Wait();   // a second wait finds nothing left
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    /// <summary>
    /// While the caller does something else (here: nothing but looking), the helper runs the deferred indices, oldest
    /// job first, also after it has gone to sleep and must be woken by the offer.
    /// </summary>
    [Fact]
    public void A_helper_runs_deferred_work_oldest_first_while_the_caller_is_busy()
    {
        if (Environment.ProcessorCount < 2) return;
        int caller = Environment.CurrentManagedThreadId;
        foreach (int idleMs in new[] { 0, 50 })
        {
            Thread.Sleep(idleMs);
            var order = new System.Collections.Concurrent.ConcurrentQueue<(char Job, int Thread)>();
            var first = CpuParallel.Defer(8, 2, _ => { Thread.SpinWait(2000); order.Enqueue(('a', Environment.CurrentManagedThreadId)); });
            var second = CpuParallel.Defer(8, 2, _ => order.Enqueue(('b', Environment.CurrentManagedThreadId)));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (order.Count < 16 && clock.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(1);
            Assert.Equal(16, order.Count);
            Assert.All(order, e => Assert.NotEqual(caller, e.Thread));
            Assert.Equal(new string('a', 8) + new string('b', 8), new string([.. order.Select(e => e.Job)]));
            first.Wait();
            second.Wait();
        }
    }

    /// <summary>
    /// A For call posted while the helper works through deferred indices still gets the helper (between two of them):
    /// index 0 finishes only if index 1 starts on another thread meanwhile.
    /// </summary>
    [Fact]
    public void For_calls_still_get_a_helper_while_deferred_work_is_pending()
    {
        if (Environment.ProcessorCount < 2) return;
        int ran = 0;
        var pending = CpuParallel.Defer(2000, 2, _ => { Thread.SpinWait(500); Interlocked.Increment(ref ran); });
        for (int round = 0; round < 20; round++)
            Assert.True(IndexOneStartsWhileIndexZeroWaits(), $"round {round}: the For call's index 1 did not start while deferred work was pending");
        pending.Wait();
        Assert.Equal(2000, Volatile.Read(ref ran));
    }

    [Fact]
    public void Wait_rethrows_the_first_exception_of_deferred_work_after_the_rest_has_finished()
    {
        int finished = 0;
        var pending = CpuParallel.Defer(64, 2, i =>
        {
            if (i == 5) throw new InvalidOperationException("index 5");
            Interlocked.Increment(ref finished);
        });
        var error = Assert.Throws<InvalidOperationException>(pending.Wait);
        Assert.Equal("index 5", error.Message);
        int seen = Volatile.Read(ref finished);
        Thread.Sleep(10);
        Assert.Equal(seen, Volatile.Read(ref finished));
    }
}
