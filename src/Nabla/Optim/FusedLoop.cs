using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Nabla.Optim;

/// <summary>
/// Runs an <see cref="IFusedUpdate{T}"/> over a parameter in one pass: every element of the parameter, its gradient
/// and its state is read and written once, <see cref="Vector{T}.Count"/> lanes at a time. The last partial vector
/// goes through the same rule on zero-padded copies, so each optimizer writes its rule once.
/// </summary>
internal static class FusedLoop
{
    /// <summary>
    /// Applies <paramref name="update"/> to every element. State spans are either empty (unused) or as long as
    /// <paramref name="param"/>; <paramref name="grad"/> must be as long as <paramref name="param"/>.
    /// </summary>
    public static void Run<T, TUpdate>(in TUpdate update, Span<T> param, ReadOnlySpan<T> grad, Span<T> s0 = default, Span<T> s1 = default, Span<T> s2 = default)
        where T : unmanaged
        where TUpdate : struct, IFusedUpdate<T>
    {
        int n = param.Length;
        if (grad.Length != n || (!s0.IsEmpty && s0.Length != n) || (!s1.IsEmpty && s1.Length != n) || (!s2.IsEmpty && s2.Length != n))
            throw new InvalidOperationException("optimizer: parameter, gradient and state buffers differ in length");
        bool has0 = !s0.IsEmpty, has1 = !s1.IsEmpty, has2 = !s2.IsEmpty;
        ref T p = ref MemoryMarshal.GetReference(param);
        ref T g = ref MemoryMarshal.GetReference(grad);
        ref T a = ref MemoryMarshal.GetReference(s0);
        ref T b = ref MemoryMarshal.GetReference(s1);
        ref T c = ref MemoryMarshal.GetReference(s2);
        int width = Vector<T>.Count;
        int i = 0;
        for (; i <= n - width; i += width)
        {
            nuint at = (nuint)i;
            Vector<T> vp = Vector.LoadUnsafe(ref p, at);
            Vector<T> vg = Vector.LoadUnsafe(ref g, at);
            Vector<T> va = has0 ? Vector.LoadUnsafe(ref a, at) : default;
            Vector<T> vb = has1 ? Vector.LoadUnsafe(ref b, at) : default;
            Vector<T> vc = has2 ? Vector.LoadUnsafe(ref c, at) : default;
            update.Apply(ref vp, vg, ref va, ref vb, ref vc);
            vp.StoreUnsafe(ref p, at);
            if (has0) va.StoreUnsafe(ref a, at);
            if (has1) vb.StoreUnsafe(ref b, at);
            if (has2) vc.StoreUnsafe(ref c, at);
        }
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

    /// <summary>Broadcasts a hyperparameter (given in double, as PyTorch's Python floats are) to every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Splat<T>(double value) where T : unmanaged, INumberBase<T> => new(T.CreateTruncating(value));

    private static Span<T> Lanes<T>(ref Vector<T> v) where T : unmanaged =>
        MemoryMarshal.CreateSpan(ref Unsafe.As<Vector<T>, T>(ref v), Vector<T>.Count);
}
