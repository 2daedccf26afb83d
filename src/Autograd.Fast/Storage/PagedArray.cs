using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AutogradFast.Storage;

/// <summary>
/// A growable array whose elements never move: it grows by adding pages, allocated on the pinned
/// heap. A <c>ref</c> to a tensor record or node therefore stays valid while ops allocate more of
/// them, and a pointer to a record's inline data stays valid across garbage collections.
/// </summary>
internal unsafe struct PagedArray<T> where T : unmanaged
{
    private const int PageBits = 10;
    private const int PageSize = 1 << PageBits;
    private T[][] _pages;       // keeps the pinned pages alive
    private nint[] _addresses;  // their addresses: indexing is two loads, no bounds checks
    private int _capacity;

    public readonly int Capacity => _capacity;

    /// <summary>The element at <paramref name="index"/>, which must be below <see cref="Capacity"/> (callers index slots they made).</summary>
    public ref T this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            Debug.Assert((uint)index < (uint)_capacity);
            nint page = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_addresses), index >> PageBits);
            return ref ((T*)page)[index & (PageSize - 1)];
        }
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
        _addresses ??= new nint[4];
        while (_capacity <= index)
        {
            int page = _capacity >> PageBits;
            if (page == _pages.Length)
            {
                Array.Resize(ref _pages, _pages.Length * 2);
                Array.Resize(ref _addresses, _pages.Length);
            }
            _pages[page] = GC.AllocateArray<T>(PageSize, pinned: true);
            _addresses[page] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_pages[page]));
            _capacity += PageSize;
        }
    }
}
