using System.Runtime.CompilerServices;

namespace AutogradFast.Storage;

/// <summary>
/// A growable array whose elements never move: it grows by adding pages, allocated on the pinned
/// heap. A <c>ref</c> to a tensor record or node therefore stays valid while ops allocate more of
/// them, and a pointer to a record's inline data stays valid across garbage collections.
/// </summary>
internal struct PagedArray<T> where T : unmanaged
{
    private const int PageBits = 10;
    private const int PageSize = 1 << PageBits;
    private T[][] _pages;
    private int _capacity;

    public readonly int Capacity => _capacity;

    public ref T this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref _pages[index >> PageBits][index & (PageSize - 1)];
    }

    /// <summary>Makes <paramref name="index"/> addressable.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void EnsureCapacity(int index)
    {
        if (index >= _capacity) Grow(index);
    }

    private void Grow(int index)
    {
        _pages ??= new T[4][];
        while (_capacity <= index)
        {
            int page = _capacity >> PageBits;
            if (page == _pages.Length) Array.Resize(ref _pages, _pages.Length * 2);
            _pages[page] = GC.AllocateArray<T>(PageSize, pinned: true);
            _capacity += PageSize;
        }
    }
}
