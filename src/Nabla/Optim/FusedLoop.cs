using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Nabla.Kernels.Cpu;

namespace Nabla.Optim;

/// <summary>
/// Runs an <see cref="IFusedUpdate{T}"/> over a parameter in one pass: every element of the parameter, its gradient
/// and its state is read and written once, <see cref="Vector{T}.Count"/> lanes at a time. The last partial vector
/// goes through the same rule on zero-padded copies, so each optimizer writes its rule once.
/// </summary>
internal static class FusedLoop
{
    /// <summary>
    /// Least elements split over threads. An update touches three to five arrays per element, so it pays to split
    /// smaller ranges than elementwise kernels do (<see cref="Chunks.ParallelThreshold"/>): measured on 2 threads, SGD
    /// with momentum on 128×256 took 6.7–8.0 µs split against 9.0–12.9 µs on one thread, Adam on 64×32×5×5
    /// 17 µs against 25–28 µs.
    /// </summary>
    private const int ParallelThreshold = 1 << 14;

    /// <summary>
    /// Applies <paramref name="update"/> to every element. State spans are either empty (unused) or as long as
    /// <paramref name="param"/>; <paramref name="grad"/> must be as long as <paramref name="param"/>.
    /// </summary>
    /// <remarks>
    /// Large parameters are cut into one part per thread, up to <paramref name="threads"/> (the parameter's device
    /// budget). Each element's update depends on that element alone, so the result is the same for any thread count.
    /// </remarks>
    public static unsafe void Run<T, TUpdate>(in TUpdate update, Span<T> param, ReadOnlySpan<T> grad, Span<T> s0 = default, Span<T> s1 = default, Span<T> s2 = default, int threads = 1)
        where T : unmanaged
        where TUpdate : struct, IFusedUpdate<T>
    {
        int n = param.Length;
        if (grad.Length != n || (!s0.IsEmpty && s0.Length != n) || (!s1.IsEmpty && s1.Length != n) || (!s2.IsEmpty && s2.Length != n))
            throw new InvalidOperationException("optimizer: parameter, gradient and state buffers differ in length");
        if (threads <= 1 || n < ParallelThreshold)
        {
            RunRange(update, param, grad, s0, s1, s2);
            return;
        }
        // Spans cannot enter a closure; the buffers are pinned for the duration and handed over as addresses.
        fixed (T* pp = param, pg = grad, p0 = s0, p1 = s1, p2 = s2)
        {
            nint ap = (nint)pp, ag = (nint)pg, a0 = (nint)p0, a1 = (nint)p1, a2 = (nint)p2;
            bool has0 = !s0.IsEmpty, has1 = !s1.IsEmpty, has2 = !s2.IsEmpty;
            var rule = update;
            // One contiguous part per thread, cut at multiples of 64 elements (every vector width divides that, so
            // the result does not depend on the cut). Part t runs on the same thread from step to step (see
            // CpuParallel.For), whose cache then still holds that part of the parameter and its state. Measured on
            // the MLP's SGD step (235 k parameters, 2 threads): 69–79 µs against 93–105 µs with 16 K chunks handed
            // out in turn.
            CpuParallel.For(threads, threads, t =>
            {
                int start = (int)((long)n * t / threads) & ~63;
                int length = (t == threads - 1 ? n : (int)((long)n * (t + 1) / threads) & ~63) - start;
                RunRange(rule,
                    new Span<T>((T*)ap + start, length), new ReadOnlySpan<T>((T*)ag + start, length),
                    has0 ? new Span<T>((T*)a0 + start, length) : default,
                    has1 ? new Span<T>((T*)a1 + start, length) : default,
                    has2 ? new Span<T>((T*)a2 + start, length) : default);
            });
        }
    }

    private static void RunRange<T, TUpdate>(in TUpdate update, Span<T> param, ReadOnlySpan<T> grad, Span<T> s0, Span<T> s1, Span<T> s2)
        where T : unmanaged
        where TUpdate : struct, IFusedUpdate<T>
    {
        int n = param.Length;
        bool has0 = !s0.IsEmpty, has1 = !s1.IsEmpty, has2 = !s2.IsEmpty;
        // One loop per set of state buffers in use, so the loop body tests no flags (the JIT folds TState's constants).
        int i = (has0, has1, has2) switch
        {
            (false, false, false) => Vectors<T, TUpdate, States<No, No, No>>(update, param, grad, s0, s1, s2),
            (true, false, false) => Vectors<T, TUpdate, States<Yes, No, No>>(update, param, grad, s0, s1, s2),
            (true, true, false) => Vectors<T, TUpdate, States<Yes, Yes, No>>(update, param, grad, s0, s1, s2),
            (true, false, true) => Vectors<T, TUpdate, States<Yes, No, Yes>>(update, param, grad, s0, s1, s2),
            (true, true, true) => Vectors<T, TUpdate, States<Yes, Yes, Yes>>(update, param, grad, s0, s1, s2),
            (false, true, false) => Vectors<T, TUpdate, States<No, Yes, No>>(update, param, grad, s0, s1, s2),
            (false, false, true) => Vectors<T, TUpdate, States<No, No, Yes>>(update, param, grad, s0, s1, s2),
            (false, true, true) => Vectors<T, TUpdate, States<No, Yes, Yes>>(update, param, grad, s0, s1, s2),
        };
        if (i == n) return;

        // The tail: the same rule on zero-padded vectors; only the real lanes are written back.
        int rest = n - i;
        Vector<T> tp = default, tg = default, ta = default, tb = default, tc = default;
        param[i..].CopyTo(Lanes(ref tp));
        grad[i..].CopyTo(Lanes(ref tg));
        if (has0) s0[i..].CopyTo(Lanes(ref ta));
        if (has1) s1[i..].CopyTo(Lanes(ref tb));
        if (has2) s2[i..].CopyTo(Lanes(ref tc));
        update.Apply(ref tp, tg, ref ta, ref tb, ref tc);
        Lanes(ref tp)[..rest].CopyTo(param[i..]);
        if (has0) Lanes(ref ta)[..rest].CopyTo(s0[i..]);
        if (has1) Lanes(ref tb)[..rest].CopyTo(s1[i..]);
        if (has2) Lanes(ref tc)[..rest].CopyTo(s2[i..]);
    }

    /// <summary>The whole vectors of the range; returns where the tail starts.</summary>
    private static int Vectors<T, TUpdate, TState>(in TUpdate update, Span<T> param, ReadOnlySpan<T> grad, Span<T> s0, Span<T> s1, Span<T> s2)
        where T : unmanaged
        where TUpdate : struct, IFusedUpdate<T>
        where TState : struct, IStates
    {
        ref T p = ref MemoryMarshal.GetReference(param);
        ref T g = ref MemoryMarshal.GetReference(grad);
        ref T a = ref MemoryMarshal.GetReference(s0);
        ref T b = ref MemoryMarshal.GetReference(s1);
        ref T c = ref MemoryMarshal.GetReference(s2);
        int n = param.Length, width = Vector<T>.Count, i = 0;
        for (; i <= n - width; i += width)
        {
            nuint at = (nuint)i;
            Vector<T> vp = Vector.LoadUnsafe(ref p, at);
            Vector<T> vg = Vector.LoadUnsafe(ref g, at);
            Vector<T> va = TState.Has0 ? Vector.LoadUnsafe(ref a, at) : default;
            Vector<T> vb = TState.Has1 ? Vector.LoadUnsafe(ref b, at) : default;
            Vector<T> vc = TState.Has2 ? Vector.LoadUnsafe(ref c, at) : default;
            update.Apply(ref vp, vg, ref va, ref vb, ref vc);
            vp.StoreUnsafe(ref p, at);
            if (TState.Has0) va.StoreUnsafe(ref a, at);
            if (TState.Has1) vb.StoreUnsafe(ref b, at);
            if (TState.Has2) vc.StoreUnsafe(ref c, at);
        }
        return i;
    }

    /// <summary>Which of the three state buffers a loop reads and writes, as compile-time constants.</summary>
    private interface IStates
    {
        static abstract bool Has0 { get; }
        static abstract bool Has1 { get; }
        static abstract bool Has2 { get; }
    }

    private interface IFlag
    {
        static abstract bool Value { get; }
    }

    private readonly struct Yes : IFlag { public static bool Value => true; }

    private readonly struct No : IFlag { public static bool Value => false; }

    private readonly struct States<T0, T1, T2> : IStates where T0 : struct, IFlag where T1 : struct, IFlag where T2 : struct, IFlag
    {
        public static bool Has0 => T0.Value;
        public static bool Has1 => T1.Value;
        public static bool Has2 => T2.Value;
    }

    /// <summary>Broadcasts a hyperparameter (given in double, as PyTorch's Python floats are) to every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Splat<T>(double value) where T : unmanaged, INumberBase<T> => new(T.CreateTruncating(value));

    private static Span<T> Lanes<T>(ref Vector<T> v) where T : unmanaged =>
        MemoryMarshal.CreateSpan(ref Unsafe.As<Vector<T>, T>(ref v), Vector<T>.Count);
}
