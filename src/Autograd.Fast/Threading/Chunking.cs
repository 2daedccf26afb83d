using System.Runtime.CompilerServices;

namespace AutogradFast.Threading;

/// <summary>
/// How large elementwise work is cut for the worker pool: fixed 64 Ki-element chunks, so a chunk's
/// bounds depend on the length alone (never on the thread count), and only runs long enough to
/// amortise waking a worker are split.
/// </summary>
internal static class Chunking
{
    public const int ChunkElements = 1 << 16;

    // Inline, the length test first: small runs never reach WorkerPool's class-initialisation check.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ShouldSplit(nint length) => length >= 2 * ChunkElements && WorkerPool.Threads > 1;

    public static int ChunkCount(nint length) => (int)((length + ChunkElements - 1) / ChunkElements);

    public static (nint Start, nint Length) Range(int chunk, nint length)
    {
        nint start = (nint)chunk * ChunkElements;
        return (start, Math.Min(ChunkElements, length - start));
    }
}
