using System.Numerics;

namespace Nabla.Optim;

/// <summary>
/// The per-element rule of an optimizer, applied to one vector of lanes at a time by <see cref="FusedLoop"/>:
/// the parameter, its gradient and up to three state buffers (unused ones are zero and their results ignored).
/// Implementations are readonly structs, so the loop is specialized and inlined per optimizer and element type.
/// </summary>
internal interface IFusedUpdate<T> where T : unmanaged
{
    void Apply(ref Vector<T> param, Vector<T> grad, ref Vector<T> s0, ref Vector<T> s1, ref Vector<T> s2);
}
