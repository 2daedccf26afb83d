using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace AutogradFast.Simd;

/// <summary>
/// <c>a * b + c</c> rounded once, at every width, the same bits as <see cref="MathF.FusedMultiplyAdd"/>
/// and <see cref="Math.FusedMultiplyAdd"/> (hardware FMA where present, the scalar call per lane
/// otherwise), and a clamp without NaN fix-ups (callers handle NaN themselves).
/// </summary>
internal static class Fused
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c)
    {
        if (Fma.IsSupported) return Fma.MultiplyAdd(a, b, c);
        if (AdvSimd.IsSupported) return AdvSimd.FusedMultiplyAdd(c, a, b);
        return Vector128.Create(
            MathF.FusedMultiplyAdd(a.GetElement(0), b.GetElement(0), c.GetElement(0)), MathF.FusedMultiplyAdd(a.GetElement(1), b.GetElement(1), c.GetElement(1)),
            MathF.FusedMultiplyAdd(a.GetElement(2), b.GetElement(2), c.GetElement(2)), MathF.FusedMultiplyAdd(a.GetElement(3), b.GetElement(3), c.GetElement(3)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> MultiplyAdd(Vector128<double> a, Vector128<double> b, Vector128<double> c)
    {
        if (Fma.IsSupported) return Fma.MultiplyAdd(a, b, c);
        if (AdvSimd.Arm64.IsSupported) return AdvSimd.Arm64.FusedMultiplyAdd(c, a, b);
        return Vector128.Create(
            Math.FusedMultiplyAdd(a.GetElement(0), b.GetElement(0), c.GetElement(0)), Math.FusedMultiplyAdd(a.GetElement(1), b.GetElement(1), c.GetElement(1)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c)
        => Fma.IsSupported ? Fma.MultiplyAdd(a, b, c)
            : Vector256.Create(MultiplyAdd(a.GetLower(), b.GetLower(), c.GetLower()), MultiplyAdd(a.GetUpper(), b.GetUpper(), c.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> MultiplyAdd(Vector256<double> a, Vector256<double> b, Vector256<double> c)
        => Fma.IsSupported ? Fma.MultiplyAdd(a, b, c)
            : Vector256.Create(MultiplyAdd(a.GetLower(), b.GetLower(), c.GetLower()), MultiplyAdd(a.GetUpper(), b.GetUpper(), c.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c)
        => Avx512F.IsSupported ? Avx512F.FusedMultiplyAdd(a, b, c)
            : Vector512.Create(MultiplyAdd(a.GetLower(), b.GetLower(), c.GetLower()), MultiplyAdd(a.GetUpper(), b.GetUpper(), c.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> MultiplyAdd(Vector512<double> a, Vector512<double> b, Vector512<double> c)
        => Avx512F.IsSupported ? Avx512F.FusedMultiplyAdd(a, b, c)
            : Vector512.Create(MultiplyAdd(a.GetLower(), b.GetLower(), c.GetLower()), MultiplyAdd(a.GetUpper(), b.GetUpper(), c.GetUpper()));

#if NET9_0_OR_GREATER
    // Min/Max became IEEE 754 (NaN-propagating) in .NET 9 at the cost of fix-up instructions; the native forms are the old ones.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Clamp<T>(Vector128<T> v, Vector128<T> low, Vector128<T> high) => Vector128.MinNative(Vector128.MaxNative(v, low), high);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Clamp<T>(Vector256<T> v, Vector256<T> low, Vector256<T> high) => Vector256.MinNative(Vector256.MaxNative(v, low), high);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Clamp<T>(Vector512<T> v, Vector512<T> low, Vector512<T> high) => Vector512.MinNative(Vector512.MaxNative(v, low), high);
#else
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Clamp<T>(Vector128<T> v, Vector128<T> low, Vector128<T> high) => Vector128.Min(Vector128.Max(v, low), high);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Clamp<T>(Vector256<T> v, Vector256<T> low, Vector256<T> high) => Vector256.Min(Vector256.Max(v, low), high);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Clamp<T>(Vector512<T> v, Vector512<T> low, Vector512<T> high) => Vector512.Min(Vector512.Max(v, low), high);
#endif
}
