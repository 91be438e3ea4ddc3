using System.Runtime;

namespace Nabla.Cli;

/// <summary>
/// The runtime's multi-core JIT (<see cref="ProfileOptimization"/>) for <c>train</c> and <c>eval</c>: each run records
/// which methods it compiled, and the next run of the same command compiles them on a spare core while the main thread
/// starts up (parsing, loading and standardizing Fashion-MNIST, building the model), instead of one by one on the main
/// thread at their first call. The training runtime compiles every method fully optimized at once
/// (build/TrainingRuntime.props), which is what makes the first step slow to reach without it. Zen 3, 2 cores,
/// <c>scripts/nabla train --data fashion-mnist --model cnn --epochs 1 --limit 64</c>, alternated, four runs each:
/// process start to the end of the first step (metrics.json's first_step_seconds) 1.39–1.52 s without, 0.79–0.96 s with;
/// again later, the profile deleted before each run without it, 1.27–1.54 s against 0.59–0.86 s.
/// </summary>
/// <remarks>
/// The profile lives beside the program (<see cref="AppContext.BaseDirectory"/>, a build's output), so nothing is
/// written to the user's home. It only guides which methods are compiled ahead, never what runs: a stale one at worst
/// compiles methods that are not called, and, as ProfileOptimization's documentation says, a corrupt profile or a
/// folder that cannot be written leaves the program running without it. The first run of a fresh build records one.
/// </remarks>
internal static class JitProfile
{
    public static void Start(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("train" or "eval")) return;
        try
        {
            string dir = Path.Combine(AppContext.BaseDirectory, "jit-profiles");
            Directory.CreateDirectory(dir);
            ProfileOptimization.SetProfileRoot(dir);
            ProfileOptimization.StartProfile($"{args[0]}.jitprofile");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only install: the command runs as it would without the profile, only its start is slower.
        }
    }
}
