using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AutogradFast.Simd;

/// <summary>
/// <c>d[i] = c + s[i]</c> written with non-temporal (streaming) stores, which bypass the caches:
/// for a large write-only destination (a <c>.grad</c> written onto its deferred zero), the write
/// needs no read for ownership and does not evict the data the next step reads again. The same
/// bits as <see cref="AddOperator"/> with the constant first. A destination not aligned to the
/// vector and machines without these stores (Arm) run the same vector loop with plain stores; the
/// ragged tail is scalar. Call <see cref="Fence"/> before another thread may read the destination.
/// </summary>
internal static unsafe class StreamingStore
{
    public static void AddOnto<T>(T constant, T* source, T* destination, nint n) where T : unmanaged, INumber<T>
    {
        // The streaming test is loop-invariant; without the instruction (or alignment) the same loop stores plainly.
        nint i = 0;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            bool streaming = Avx512F.IsSupported && ((nint)destination & 63) == 0;
            Vector512<T> c = Vector512.Create(constant);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                Vector512<T> v = c + Vector512.Load(source + i);
                if (streaming) Store(destination + i, v);
                else v.Store(destination + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated && n >= Vector256<T>.Count)
        {
            bool streaming = Avx.IsSupported && ((nint)destination & 31) == 0;
            Vector256<T> c = Vector256.Create(constant);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                Vector256<T> v = c + Vector256.Load(source + i);
                if (streaming) Store(destination + i, v);
                else v.Store(destination + i);
            }
        }
        else if (Vector128.IsHardwareAccelerated && n >= Vector128<T>.Count)
        {
            bool streaming = Sse2.IsSupported && ((nint)destination & 15) == 0;
            Vector128<T> c = Vector128.Create(constant);
            for (; i <= n - Vector128<T>.Count; i += Vector128<T>.Count)
            {
                Vector128<T> v = c + Vector128.Load(source + i);
                if (streaming) Store(destination + i, v);
                else v.Store(destination + i);
            }
        }
        for (; i < n; i++) destination[i] = constant + source[i];
    }

    /// <summary>Orders the streaming stores before any later store (a worker's completion signal).</summary>
    public static void Fence()
    {
        if (Sse.IsSupported) Sse.StoreFence();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(T* at, Vector512<T> v) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) Avx512F.StoreAlignedNonTemporal((float*)at, v.AsSingle());
        else if (typeof(T) == typeof(double)) Avx512F.StoreAlignedNonTemporal((double*)at, v.AsDouble());
        else v.Store(at);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(T* at, Vector256<T> v) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) Avx.StoreAlignedNonTemporal((float*)at, v.AsSingle());
        else if (typeof(T) == typeof(double)) Avx.StoreAlignedNonTemporal((double*)at, v.AsDouble());
        else v.Store(at);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(T* at, Vector128<T> v) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) Sse.StoreAlignedNonTemporal((float*)at, v.AsSingle());
        else if (typeof(T) == typeof(double)) Sse2.StoreAlignedNonTemporal((double*)at, v.AsDouble());
        else v.Store(at);
    }
}
