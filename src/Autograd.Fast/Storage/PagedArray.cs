using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AutogradFast.Storage;

/// <summary>
/// A growable array whose elements never move: it grows by adding pages of native memory, 64-byte
/// aligned, so a <c>ref</c> to a tensor record or node stays valid while ops allocate more of them, a
/// pointer to a record's inline data stays valid, and a 128-byte record spans exactly two cache lines.
/// The owner calls <see cref="Free"/> when it is finalized.
/// </summary>
internal unsafe struct PagedArray<T> where T : unmanaged
{
    private const int PageBits = 10;
    private const int PageSize = 1 << PageBits;
    private nint[] _addresses;  // the pages: indexing is two loads, no bounds checks
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
        _addresses ??= new nint[4];
        while (_capacity <= index)
        {
            int page = _capacity >> PageBits;
            if (page == _addresses.Length) Array.Resize(ref _addresses, _addresses.Length * 2);
            nuint bytes = (nuint)(PageSize * sizeof(T));
            void* p = NativeMemory.AlignedAlloc(bytes, 64);
            NativeMemory.Clear(p, bytes);
            _addresses[page] = (nint)p;
            _capacity += PageSize;
        }
    }

    /// <summary>Returns every page (the owner is gone).</summary>
    public void Free()
    {
        if (_addresses is null) return;
        for (int i = 0; i < _addresses.Length; i++)
        {
            if (_addresses[i] != 0) NativeMemory.AlignedFree((void*)_addresses[i]);
            _addresses[i] = 0;
        }
        _capacity = 0;
    }
}
