using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AutogradFast.Simd;

internal enum Comparison : byte { Equal, NotEqual, Less, LessOrEqual, Greater, GreaterOrEqual }

/// <summary>A comparison at every width: all-ones lanes where it holds (IEEE semantics: NaN compares false except !=).</summary>
internal interface IComparisonOperator
{
    static abstract bool Invoke<T>(T x, T y) where T : unmanaged, INumber<T>;
    static abstract Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y) where T : unmanaged, INumber<T>;
    static abstract Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, INumber<T>;
    static abstract Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y) where T : unmanaged, INumber<T>;
}

internal readonly struct EqualComparison : IComparisonOperator
{
    public static bool Invoke<T>(T x, T y) where T : unmanaged, INumber<T> => x == y;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y) where T : unmanaged, INumber<T> => Vector128.Equals(x, y);
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, INumber<T> => Vector256.Equals(x, y);
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y) where T : unmanaged, INumber<T> => Vector512.Equals(x, y);
}

internal readonly struct NotEqualComparison : IComparisonOperator
{
    public static bool Invoke<T>(T x, T y) where T : unmanaged, INumber<T> => x != y;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y) where T : unmanaged, INumber<T> => ~Vector128.Equals(x, y);
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, INumber<T> => ~Vector256.Equals(x, y);
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y) where T : unmanaged, INumber<T> => ~Vector512.Equals(x, y);
}

internal readonly struct LessComparison : IComparisonOperator
{
    public static bool Invoke<T>(T x, T y) where T : unmanaged, INumber<T> => x < y;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y) where T : unmanaged, INumber<T> => Vector128.LessThan(x, y);
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, INumber<T> => Vector256.LessThan(x, y);
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y) where T : unmanaged, INumber<T> => Vector512.LessThan(x, y);
}

internal readonly struct LessOrEqualComparison : IComparisonOperator
{
    public static bool Invoke<T>(T x, T y) where T : unmanaged, INumber<T> => x <= y;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y) where T : unmanaged, INumber<T> => Vector128.LessThanOrEqual(x, y);
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, INumber<T> => Vector256.LessThanOrEqual(x, y);
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y) where T : unmanaged, INumber<T> => Vector512.LessThanOrEqual(x, y);
}

internal readonly struct GreaterComparison : IComparisonOperator
{
    public static bool Invoke<T>(T x, T y) where T : unmanaged, INumber<T> => x > y;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y) where T : unmanaged, INumber<T> => Vector128.GreaterThan(x, y);
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, INumber<T> => Vector256.GreaterThan(x, y);
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y) where T : unmanaged, INumber<T> => Vector512.GreaterThan(x, y);
}

internal readonly struct GreaterOrEqualComparison : IComparisonOperator
{
    public static bool Invoke<T>(T x, T y) where T : unmanaged, INumber<T> => x >= y;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y) where T : unmanaged, INumber<T> => Vector128.GreaterThanOrEqual(x, y);
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, INumber<T> => Vector256.GreaterThanOrEqual(x, y);
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y) where T : unmanaged, INumber<T> => Vector512.GreaterThanOrEqual(x, y);
}

/// <summary>
/// Elementwise comparisons producing bool bytes, shaped like <see cref="ElementwiseDriver"/>: the
/// widest accelerated width first, then the ragged tail as one overlapping last vector (the
/// destination is never an operand, so rewriting a few bools is harmless); scalar code only below one
/// Vector128. A vector compare gives one bit per lane (<c>ExtractMostSignificantBits</c>); a
/// 256-entry table widens eight bits to eight bool bytes at once.
/// </summary>
internal static unsafe class ComparisonDriver
{
    private static readonly ulong[] s_bitsToBools = BuildBitsToBools();

    private static ulong[] BuildBitsToBools()
    {
        var table = new ulong[256];
        for (int bits = 0; bits < 256; bits++)
            for (int b = 0; b < 8; b++)
                if ((bits & (1 << b)) != 0) table[bits] |= 1UL << (8 * b);
        return table;
    }

    /// <summary>d[i] = x[i] op y[i]; an operand marked scalar is one value compared with every element.</summary>
    public static void Compare<T>(Comparison op, T* x, bool xIsScalar, T* y, bool yIsScalar, bool* d, nint n)
        where T : unmanaged, INumber<T>
    {
        switch (op)
        {
            case Comparison.Equal: Compare<T, EqualComparison>(x, xIsScalar, y, yIsScalar, d, n); break;
            case Comparison.NotEqual: Compare<T, NotEqualComparison>(x, xIsScalar, y, yIsScalar, d, n); break;
            case Comparison.Less: Compare<T, LessComparison>(x, xIsScalar, y, yIsScalar, d, n); break;
            case Comparison.LessOrEqual: Compare<T, LessOrEqualComparison>(x, xIsScalar, y, yIsScalar, d, n); break;
            case Comparison.Greater: Compare<T, GreaterComparison>(x, xIsScalar, y, yIsScalar, d, n); break;
            case Comparison.GreaterOrEqual: Compare<T, GreaterOrEqualComparison>(x, xIsScalar, y, yIsScalar, d, n); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown comparison");
        }
    }

    private static void Compare<T, TCmp>(T* x, bool xIsScalar, T* y, bool yIsScalar, bool* d, nint n)
        where T : unmanaged, INumber<T> where TCmp : struct, IComparisonOperator
    {
        if (!xIsScalar && !yIsScalar) Apply<T, TCmp, Elements<T>, Elements<T>>(new(x), new(y), d, n);
        else if (!yIsScalar) Apply<T, TCmp, Broadcast<T>, Elements<T>>(new(*x), new(y), d, n);
        else if (!xIsScalar) Apply<T, TCmp, Elements<T>, Broadcast<T>>(new(x), new(*y), d, n);
        else Apply<T, TCmp, Broadcast<T>, Broadcast<T>>(new(*x), new(*y), d, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Apply<T, TCmp, TX, TY>(TX x, TY y, bool* d, nint n)
        where T : unmanaged, INumber<T> where TCmp : struct, IComparisonOperator
        where TX : struct, ISource<T> where TY : struct, ISource<T>
    {
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            nint w = Vector512<T>.Count, lastAt = n - w;
            for (nint i = 0; i < lastAt; i += w) WriteBools(TCmp.Invoke(x.V512(i), y.V512(i)).ExtractMostSignificantBits(), (int)w, d + i);
            WriteBools(TCmp.Invoke(x.V512(lastAt), y.V512(lastAt)).ExtractMostSignificantBits(), (int)w, d + lastAt);
        }
        else if (Vector256.IsHardwareAccelerated && n >= Vector256<T>.Count)
        {
            nint w = Vector256<T>.Count, lastAt = n - w;
            for (nint i = 0; i < lastAt; i += w) WriteBools(TCmp.Invoke(x.V256(i), y.V256(i)).ExtractMostSignificantBits(), (int)w, d + i);
            WriteBools(TCmp.Invoke(x.V256(lastAt), y.V256(lastAt)).ExtractMostSignificantBits(), (int)w, d + lastAt);
        }
        else if (Vector128.IsHardwareAccelerated && n >= Vector128<T>.Count)
        {
            nint w = Vector128<T>.Count, lastAt = n - w;
            for (nint i = 0; i < lastAt; i += w) WriteBools(TCmp.Invoke(x.V128(i), y.V128(i)).ExtractMostSignificantBits(), (int)w, d + i);
            WriteBools(TCmp.Invoke(x.V128(lastAt), y.V128(lastAt)).ExtractMostSignificantBits(), (int)w, d + lastAt);
        }
        else
        {
            for (nint i = 0; i < n; i++) d[i] = TCmp.Invoke(x.Scalar(i), y.Scalar(i));
        }
    }

    /// <summary>Writes one bool byte per lane from a lane bit mask (2, 4, 8 or 16 lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteBools(ulong bits, int lanes, bool* d)
    {
        ulong[] table = s_bitsToBools;
        switch (lanes)
        {
            case 2: Unsafe.WriteUnaligned(d, (ushort)table[bits & 0x3]); break;
            case 4: Unsafe.WriteUnaligned(d, (uint)table[bits & 0xF]); break;
            case 8: Unsafe.WriteUnaligned(d, table[bits & 0xFF]); break;
            default:
                for (int k = 0; k < lanes; k += 8) Unsafe.WriteUnaligned(d + k, table[(bits >> k) & 0xFF]);
                break;
        }
    }
}
