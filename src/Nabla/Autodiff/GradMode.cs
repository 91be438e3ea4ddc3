namespace Nabla.Autodiff;

/// <summary>
/// Whether operations are recorded for reverse mode on the current thread. This is the library's one piece of
/// ambient state, kept on purpose: it mirrors <c>torch.no_grad()</c>, is per thread, and is only changed through
/// the scope returned by <see cref="Autograd.NoGrad"/>, which restores it.
/// </summary>
internal static class GradMode
{
    [ThreadStatic]
    private static int _disabledDepth;

    public static bool IsEnabled => _disabledDepth == 0;

    internal static void Disable() => _disabledDepth++;

    internal static void Restore() => _disabledDepth--;
}

/// <summary>A scope in which no operation is recorded; dispose it to restore recording.</summary>
public readonly struct NoGradScope : IDisposable
{
    internal NoGradScope(bool active)
    {
        Active = active;
        if (active) GradMode.Disable();
    }

    private bool Active { get; }

    public void Dispose()
    {
        if (Active) GradMode.Restore();
    }
}
