using System.Numerics;
using System.Runtime.CompilerServices;

namespace AutogradFast.Simd;

/// <summary>
/// Conversions between an element type and double: <c>T.CreateTruncating</c>, with the float and
/// double cases spelled out, because NativeAOT leaves the generic conversion as a call (one per scalar
/// op or reduction otherwise).
/// </summary>
internal static class Numeric
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T FromDouble<T>(double value) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float))
        {
            float f = (float)value;
            return Unsafe.As<float, T>(ref f);
        }
        if (typeof(T) == typeof(double)) return Unsafe.As<double, T>(ref value);
        return T.CreateTruncating(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToDouble<T>(T value) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float)) return Unsafe.As<T, float>(ref value);
        if (typeof(T) == typeof(double)) return Unsafe.As<T, double>(ref value);
        return double.CreateTruncating(value);
    }
}
