using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// The one place CPU kernels split work across threads. Callers pass the thread budget explicitly
/// (it comes from the device), so nothing here reads ambient configuration.
/// </summary>
/// <remarks>
/// Kernels call this many times per training step with bodies that run for tens of microseconds, so the
/// dispatch cost matters more than in a general-purpose scheduler: <see cref="Parallel.For(int, int, Action{int})"/>
/// costs several microseconds per call and wakes thread-pool threads that may be busy elsewhere.
/// Instead a small pool of dedicated worker threads is started on first use (never more than one fewer than
/// the processors, because the calling thread always works too). After finishing a job a worker spins for a
/// short while before sleeping, so back-to-back calls find it awake. Indices are claimed one at a time from a
/// shared counter, so a worker that arrives late, or never (because it is busy with another caller's job),
/// only means the caller runs more of the indices itself: a call never waits for a worker to become free.
/// </remarks>
internal static class CpuParallel
{
    /// <summary>Runs <paramref name="body"/> for each index in [0, count), on at most <paramref name="threads"/> threads.</summary>
    /// <remarks>Returns when every index has run. If bodies throw, the first exception is rethrown here after all claimed indices finish.</remarks>
    public static void For(int count, int threads, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (count <= 0) return;
        int helpers = Math.Min(Math.Min(threads, count), Environment.ProcessorCount) - 1;
        if (helpers <= 0)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        var job = new Job(body, count);
        WorkerPool.Post(job, helpers);
        job.Work();
        job.WaitForCompletion();
        job.ThrowIfFailed();
    }

    /// <summary>One <see cref="For"/> call: the body, the next unclaimed index and the number of indices not yet finished.</summary>
    private sealed class Job
    {
        /// <summary>How long the caller spins for the last indices before blocking: workers usually finish within this.</summary>
        private static readonly long CallerSpinTicks = Stopwatch.Frequency / 20_000; // 50 µs

        private readonly object _gate = new();
        private int _claimed = -1;
        private readonly Action<int> _body;
        private readonly int _count;
        private int _pending;
        private ExceptionDispatchInfo? _error;

        public Job(Action<int> body, int count)
        {
            _body = body;
            _count = count;
            _pending = count;
        }

        /// <summary>Claims and runs indices until none are left. Safe to call from any number of threads, also after the job is done.</summary>
        public void Work()
        {
            int i;
            while ((i = Interlocked.Increment(ref _claimed)) < _count)
            {
                try
                {
                    if (Volatile.Read(ref _error) is null) _body(i);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
                }
                if (Interlocked.Decrement(ref _pending) == 0)
                {
                    lock (_gate) Monitor.PulseAll(_gate);
                }
            }
        }

        public void WaitForCompletion()
        {
            long deadline = Stopwatch.GetTimestamp() + CallerSpinTicks;
            while (Volatile.Read(ref _pending) != 0)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    lock (_gate)
                    {
                        while (Volatile.Read(ref _pending) != 0) Monitor.Wait(_gate);
                    }
                    return;
                }
                Thread.SpinWait(8);
            }
        }

        public void ThrowIfFailed() => _error?.Throw();
    }

    /// <summary>Dedicated background threads that take jobs from a shared queue.</summary>
    private static class WorkerPool
    {
        /// <summary>How long an idle worker keeps polling before it blocks; waking a blocked thread costs tens of microseconds.</summary>
        private static readonly long IdleSpinTicks = Stopwatch.Frequency / 5_000; // 200 µs

        private static readonly ConcurrentQueue<Job> Queue = new();
        private static readonly SemaphoreSlim Wake = new(0);
        private static readonly object GrowGate = new();
        private static int s_started;
        private static int s_sleeping;

        /// <summary>Offers <paramref name="job"/> to <paramref name="helpers"/> workers, starting threads if the pool is smaller.</summary>
        public static void Post(Job job, int helpers)
        {
            if (Volatile.Read(ref s_started) < helpers) Grow(helpers);
            for (int i = 0; i < helpers; i++) Queue.Enqueue(job);
            // Pairs with the increment-then-check in Run: either the worker sees the queued job or we see it sleeping.
            Interlocked.MemoryBarrier();
            int sleeping = Volatile.Read(ref s_sleeping);
            if (sleeping > 0) Wake.Release(Math.Min(sleeping, helpers));
        }

        private static void Grow(int workers)
        {
            lock (GrowGate)
            {
                while (s_started < workers)
                {
                    var thread = new Thread(Run) { IsBackground = true, Name = "Nabla CPU worker" };
                    thread.Start();
                    Volatile.Write(ref s_started, s_started + 1);
                }
            }
        }

        private static void Run()
        {
            while (true)
            {
                if (Queue.TryDequeue(out var job))
                {
                    job.Work();
                    continue;
                }
                long deadline = Stopwatch.GetTimestamp() + IdleSpinTicks;
                while (Queue.IsEmpty && Stopwatch.GetTimestamp() < deadline) Thread.SpinWait(16);
                if (!Queue.IsEmpty) continue;
                Interlocked.Increment(ref s_sleeping);
                // A release that finds no job (another worker took it) only costs one extra trip round this loop.
                if (Queue.IsEmpty) Wake.Wait();
                Interlocked.Decrement(ref s_sleeping);
            }
        }
    }
}
