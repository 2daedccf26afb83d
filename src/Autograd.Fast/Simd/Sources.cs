using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AutogradFast.Simd;

/// <summary>
/// An operand of an elementwise driver: either elements in memory or one scalar broadcast to every
/// lane. Generic specialisation turns each combination into its own straight-line loop, so
/// <c>x * 3</c>, <c>3 - x</c> and <c>x * y</c> share one driver without a branch per element.
/// </summary>
internal interface ISource<T> where T : unmanaged
{
    T Scalar(nint i);
    Vector128<T> V128(nint i);
    Vector256<T> V256(nint i);
    Vector512<T> V512(nint i);
}

internal readonly unsafe struct Elements<T>(T* pointer) : ISource<T> where T : unmanaged
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public T Scalar(nint i) => pointer[i];
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector128<T> V128(nint i) => Vector128.Load(pointer + i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<T> V256(nint i) => Vector256.Load(pointer + i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<T> V512(nint i) => Vector512.Load(pointer + i);
}

internal readonly struct Broadcast<T>(T value) : ISource<T> where T : unmanaged
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public T Scalar(nint i) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector128<T> V128(nint i) => Vector128.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<T> V256(nint i) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<T> V512(nint i) => Vector512.Create(value);
}
