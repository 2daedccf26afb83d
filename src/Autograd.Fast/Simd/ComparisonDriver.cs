using System.Numerics;
using System.Runtime.Intrinsics;

namespace AutogradFast.Simd;

internal enum Comparison : byte { Equal, NotEqual, Less, LessOrEqual, Greater, GreaterOrEqual }

/// <summary>
/// Elementwise comparisons producing bool bytes. Vector compares give one bit per lane
/// (<c>ExtractMostSignificantBits</c>); a 256-entry table widens eight bits to eight bool bytes at once.
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

    public static void Compare<T>(Comparison op, T* x, bool xIsScalar, T* y, bool yIsScalar, bool* d, nint n)
        where T : unmanaged, INumber<T>
    {
        nint i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.Count >= 4)
        {
            nint w = Vector256<T>.Count;
            for (; i <= n - w; i += w)
            {
                Vector256<T> a = xIsScalar ? Vector256.Create(*x) : Vector256.Load(x + i);
                Vector256<T> b = yIsScalar ? Vector256.Create(*y) : Vector256.Load(y + i);
                Vector256<T> mask = op switch
                {
                    Comparison.Equal => Vector256.Equals(a, b),
                    Comparison.NotEqual => ~Vector256.Equals(a, b),
                    Comparison.Less => Vector256.LessThan(a, b),
                    Comparison.LessOrEqual => Vector256.LessThanOrEqual(a, b),
                    Comparison.Greater => Vector256.GreaterThan(a, b),
                    _ => Vector256.GreaterThanOrEqual(a, b),
                };
                WriteBools(mask.ExtractMostSignificantBits(), (int)w, d + i);
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            nint w = Vector128<T>.Count;
            for (; i <= n - w; i += w)
            {
                Vector128<T> a = xIsScalar ? Vector128.Create(*x) : Vector128.Load(x + i);
                Vector128<T> b = yIsScalar ? Vector128.Create(*y) : Vector128.Load(y + i);
                Vector128<T> mask = op switch
                {
                    Comparison.Equal => Vector128.Equals(a, b),
                    Comparison.NotEqual => ~Vector128.Equals(a, b),
                    Comparison.Less => Vector128.LessThan(a, b),
                    Comparison.LessOrEqual => Vector128.LessThanOrEqual(a, b),
                    Comparison.Greater => Vector128.GreaterThan(a, b),
                    _ => Vector128.GreaterThanOrEqual(a, b),
                };
                WriteBools(mask.ExtractMostSignificantBits(), (int)w, d + i);
            }
        }
        for (; i < n; i++)
        {
            T a = xIsScalar ? *x : x[i];
            T b = yIsScalar ? *y : y[i];
            d[i] = op switch
            {
                Comparison.Equal => a == b,
                Comparison.NotEqual => a != b,
                Comparison.Less => a < b,
                Comparison.LessOrEqual => a <= b,
                Comparison.Greater => a > b,
                _ => a >= b,
            };
        }
    }

    private static void WriteBools(uint bits, int lanes, bool* d)
    {
        if (lanes == 8) { *(ulong*)d = s_bitsToBools[bits]; return; }
        ulong packed = s_bitsToBools[bits & 0xFF];
        for (int b = 0; b < lanes; b++) d[b] = ((packed >> (8 * b)) & 1) != 0;
    }
}
