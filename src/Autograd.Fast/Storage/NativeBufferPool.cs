using System.Runtime.InteropServices;

namespace AutogradFast.Storage;

/// <summary>
/// 64-byte-aligned native buffers in power-of-two size classes. A returned buffer goes back on its
/// class's free stack, so a steady-state step rents without touching the OS or the managed heap.
/// One pool per thread context: no locks.
/// </summary>
internal sealed unsafe class NativeBufferPool : IDisposable
{
    public const int Alignment = 64;
    private const int MinClassBytesLog2 = 6; // 64 bytes: one cache line, one Vector512
    private const int ClassCount = 40;

    private readonly nint[][] _free = new nint[ClassCount][];
    private readonly int[] _freeCount = new int[ClassCount];
    private long _bytesOwned;

    /// <summary>Bytes currently held from the OS, rented or free (what a growth test watches).</summary>
    public long BytesOwned => _bytesOwned;

    public static int SizeClass(long bytes)
    {
        int log2 = bytes <= (1L << MinClassBytesLog2) ? MinClassBytesLog2 : 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1));
        return log2 - MinClassBytesLog2;
    }

    public static long ClassBytes(int sizeClass) => 1L << (sizeClass + MinClassBytesLog2);

    public nint Rent(int sizeClass)
    {
        ref int count = ref _freeCount[sizeClass];
        if (count > 0) return _free[sizeClass][--count];
        long bytes = ClassBytes(sizeClass);
        nint p = (nint)NativeMemory.AlignedAlloc((nuint)bytes, Alignment);
        if (p == 0) throw new OutOfMemoryException($"Could not allocate a tensor buffer of {bytes} bytes.");
        _bytesOwned += bytes;
        return p;
    }

    public void Return(nint pointer, int sizeClass)
    {
        nint[]? stack = _free[sizeClass];
        ref int count = ref _freeCount[sizeClass];
        if (stack is null || count == stack.Length) Array.Resize(ref _free[sizeClass], Math.Max(4, count * 2));
        _free[sizeClass][count++] = pointer;
    }

    public void Dispose()
    {
        for (int c = 0; c < ClassCount; c++)
        {
            for (int i = 0; i < _freeCount[c]; i++) NativeMemory.AlignedFree((void*)_free[c][i]);
            _freeCount[c] = 0;
        }
    }
}
