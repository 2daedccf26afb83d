using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AutogradFast.Simd;

/// <summary>
/// <c>exp(x)</c> for float32 and float64 at every width, within 1-2 ulp (Cephes' reductions): x = n ln2
/// + r with |r| &lt;= ln2/2 (ln2 split in two so n ln2 is exact), a polynomial (float) or Padé form
/// (double) for e^r, and 2^n applied as two power-of-two factors so the result overflows to +inf,
/// underflows gradually to 0 and passes NaN. The scalar path does the same operations in the same
/// order, with fused multiply-adds everywhere (correctly rounded at every width and in the scalar
/// path, so every width and the tail give identical bits; they also halve the dependency chain).
/// It replaces TensorPrimitives.Exp, whose float path widens to double and costs several times more.
/// </summary>
internal readonly struct ExpOperator : IElementwiseOperator
{
    // float32
    private const float FloatLowest = -104f;          // exp(-104) < half the smallest subnormal: 0
    private const float FloatHighest = 89f;           // exp(89) > float.MaxValue: +inf
    private const float FloatLog2E = 1.44269504088896341f;
    private const float FloatRound = 12582912f;       // 1.5 * 2^23: adding and subtracting rounds to an integer
    private const float FloatLn2High = 0.693359375f;  // 9 significant bits: n * FloatLn2High is exact
    private const float FloatLn2Low = -2.12194440e-4f;
    private const float F5 = 1.9875691500e-4f, F4 = 1.3981999507e-3f, F3 = 8.3334519073e-3f;
    private const float F2 = 4.1665795894e-2f, F1 = 1.6666665459e-1f, F0 = 5.0000001201e-1f;

    // float64
    private const double DoubleLowest = -746d;        // below the smallest subnormal: 0
    private const double DoubleHighest = 710d;        // above double.MaxValue: +inf
    private const double DoubleLog2E = 1.4426950408889634073599;
    private const double DoubleRound = 6755399441055744d; // 1.5 * 2^52
    private const double DoubleLn2High = 6.93145751953125e-1;
    private const double DoubleLn2Low = 1.42860682030941723212e-6;
    private const double P0 = 1.26177193074810590878e-4, P1 = 3.02994407707441961300e-2, P2 = 9.99999999999999999910e-1;
    private const double Q0 = 3.00198505138664455042e-6, Q1 = 2.52448340349684104192e-3, Q2 = 2.27265548208155028766e-1, Q3 = 2.0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // large only before the dtype branch folds away
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float))
        {
            float v = Unsafe.As<T, float>(ref x);
            if (float.IsNaN(v)) return x;
            float c = Math.Clamp(v, FloatLowest, FloatHighest);
            float n = MathF.FusedMultiplyAdd(c, FloatLog2E, FloatRound) - FloatRound;
            float r = MathF.FusedMultiplyAdd(n, -FloatLn2Low, MathF.FusedMultiplyAdd(n, -FloatLn2High, c));
            float p = MathF.FusedMultiplyAdd(F5, r, F4);
            p = MathF.FusedMultiplyAdd(p, r, F3);
            p = MathF.FusedMultiplyAdd(p, r, F2);
            p = MathF.FusedMultiplyAdd(p, r, F1);
            p = MathF.FusedMultiplyAdd(p, r, F0);
            p = MathF.FusedMultiplyAdd(p, r * r, r) + 1f;
            int k = (int)n, k1 = k >> 1, k2 = k - k1;
            float result = p * BitConverter.Int32BitsToSingle((k1 + 127) << 23) * BitConverter.Int32BitsToSingle((k2 + 127) << 23);
            return Unsafe.As<float, T>(ref result);
        }
        if (typeof(T) == typeof(double))
        {
            double v = Unsafe.As<T, double>(ref x);
            if (double.IsNaN(v)) return x;
            double c = Math.Clamp(v, DoubleLowest, DoubleHighest);
            double n = Math.FusedMultiplyAdd(c, DoubleLog2E, DoubleRound) - DoubleRound;
            double r = Math.FusedMultiplyAdd(n, -DoubleLn2Low, Math.FusedMultiplyAdd(n, -DoubleLn2High, c));
            double rr = r * r;
            double px = r * Math.FusedMultiplyAdd(Math.FusedMultiplyAdd(P0, rr, P1), rr, P2);
            double qx = Math.FusedMultiplyAdd(Math.FusedMultiplyAdd(Math.FusedMultiplyAdd(Q0, rr, Q1), rr, Q2), rr, Q3);
            double e = Math.FusedMultiplyAdd(px / (qx - px), 2.0, 1.0);
            long k = (long)n, k1 = k >> 1, k2 = k - k1;
            double result = e * BitConverter.Int64BitsToDouble((k1 + 1023) << 52) * BitConverter.Int64BitsToDouble((k2 + 1023) << 52);
            return Unsafe.As<double, T>(ref result);
        }
        throw new NotSupportedException("exp is computed in floating point");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // large only before the dtype branch folds away
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float))
        {
            Vector128<float> v = x.AsSingle();
            Vector128<float> c = Fused.Clamp(v, Vector128.Create(FloatLowest), Vector128.Create(FloatHighest));
            Vector128<float> n = Fused.MultiplyAdd(c, Vector128.Create(FloatLog2E), Vector128.Create(FloatRound)) - Vector128.Create(FloatRound);
            Vector128<float> r = Fused.MultiplyAdd(n, Vector128.Create(-FloatLn2Low), Fused.MultiplyAdd(n, Vector128.Create(-FloatLn2High), c));
            Vector128<float> p = Fused.MultiplyAdd(Vector128.Create(F5), r, Vector128.Create(F4));
            p = Fused.MultiplyAdd(p, r, Vector128.Create(F3));
            p = Fused.MultiplyAdd(p, r, Vector128.Create(F2));
            p = Fused.MultiplyAdd(p, r, Vector128.Create(F1));
            p = Fused.MultiplyAdd(p, r, Vector128.Create(F0));
            p = Fused.MultiplyAdd(p, r * r, r) + Vector128<float>.One;
            Vector128<float> result = ScaleByPowerOfTwo(p, n);
            return Vector128.ConditionalSelect(Vector128.Equals(v, v), result, v).As<float, T>();
        }
        if (typeof(T) == typeof(double))
        {
            Vector128<double> v = x.AsDouble();
            Vector128<double> c = Fused.Clamp(v, Vector128.Create(DoubleLowest), Vector128.Create(DoubleHighest));
            Vector128<double> n = Fused.MultiplyAdd(c, Vector128.Create(DoubleLog2E), Vector128.Create(DoubleRound)) - Vector128.Create(DoubleRound);
            Vector128<double> r = Fused.MultiplyAdd(n, Vector128.Create(-DoubleLn2Low), Fused.MultiplyAdd(n, Vector128.Create(-DoubleLn2High), c));
            Vector128<double> rr = r * r;
            Vector128<double> px = r * Fused.MultiplyAdd(Fused.MultiplyAdd(Vector128.Create(P0), rr, Vector128.Create(P1)), rr, Vector128.Create(P2));
            Vector128<double> qx = Fused.MultiplyAdd(Fused.MultiplyAdd(Fused.MultiplyAdd(Vector128.Create(Q0), rr, Vector128.Create(Q1)), rr, Vector128.Create(Q2)), rr, Vector128.Create(Q3));
            Vector128<double> e = Fused.MultiplyAdd(px / (qx - px), Vector128.Create(2.0), Vector128<double>.One);
            Vector128<double> result = ScaleByPowerOfTwo(e, n);
            return Vector128.ConditionalSelect(Vector128.Equals(v, v), result, v).As<double, T>();
        }
        throw new NotSupportedException("exp is computed in floating point");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // large only before the dtype branch folds away
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float))
        {
            Vector256<float> v = x.AsSingle();
            Vector256<float> c = Fused.Clamp(v, Vector256.Create(FloatLowest), Vector256.Create(FloatHighest));
            Vector256<float> n = Fused.MultiplyAdd(c, Vector256.Create(FloatLog2E), Vector256.Create(FloatRound)) - Vector256.Create(FloatRound);
            Vector256<float> r = Fused.MultiplyAdd(n, Vector256.Create(-FloatLn2Low), Fused.MultiplyAdd(n, Vector256.Create(-FloatLn2High), c));
            Vector256<float> p = Fused.MultiplyAdd(Vector256.Create(F5), r, Vector256.Create(F4));
            p = Fused.MultiplyAdd(p, r, Vector256.Create(F3));
            p = Fused.MultiplyAdd(p, r, Vector256.Create(F2));
            p = Fused.MultiplyAdd(p, r, Vector256.Create(F1));
            p = Fused.MultiplyAdd(p, r, Vector256.Create(F0));
            p = Fused.MultiplyAdd(p, r * r, r) + Vector256<float>.One;
            Vector256<float> result = ScaleByPowerOfTwo(p, n);
            return Vector256.ConditionalSelect(Vector256.Equals(v, v), result, v).As<float, T>();
        }
        if (typeof(T) == typeof(double))
        {
            Vector256<double> v = x.AsDouble();
            Vector256<double> c = Fused.Clamp(v, Vector256.Create(DoubleLowest), Vector256.Create(DoubleHighest));
            Vector256<double> n = Fused.MultiplyAdd(c, Vector256.Create(DoubleLog2E), Vector256.Create(DoubleRound)) - Vector256.Create(DoubleRound);
            Vector256<double> r = Fused.MultiplyAdd(n, Vector256.Create(-DoubleLn2Low), Fused.MultiplyAdd(n, Vector256.Create(-DoubleLn2High), c));
            Vector256<double> rr = r * r;
            Vector256<double> px = r * Fused.MultiplyAdd(Fused.MultiplyAdd(Vector256.Create(P0), rr, Vector256.Create(P1)), rr, Vector256.Create(P2));
            Vector256<double> qx = Fused.MultiplyAdd(Fused.MultiplyAdd(Fused.MultiplyAdd(Vector256.Create(Q0), rr, Vector256.Create(Q1)), rr, Vector256.Create(Q2)), rr, Vector256.Create(Q3));
            Vector256<double> e = Fused.MultiplyAdd(px / (qx - px), Vector256.Create(2.0), Vector256<double>.One);
            Vector256<double> result = ScaleByPowerOfTwo(e, n);
            return Vector256.ConditionalSelect(Vector256.Equals(v, v), result, v).As<double, T>();
        }
        throw new NotSupportedException("exp is computed in floating point");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // large only before the dtype branch folds away
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float))
        {
            Vector512<float> v = x.AsSingle();
            Vector512<float> c = Fused.Clamp(v, Vector512.Create(FloatLowest), Vector512.Create(FloatHighest));
            Vector512<float> n = Fused.MultiplyAdd(c, Vector512.Create(FloatLog2E), Vector512.Create(FloatRound)) - Vector512.Create(FloatRound);
            Vector512<float> r = Fused.MultiplyAdd(n, Vector512.Create(-FloatLn2Low), Fused.MultiplyAdd(n, Vector512.Create(-FloatLn2High), c));
            Vector512<float> p = Fused.MultiplyAdd(Vector512.Create(F5), r, Vector512.Create(F4));
            p = Fused.MultiplyAdd(p, r, Vector512.Create(F3));
            p = Fused.MultiplyAdd(p, r, Vector512.Create(F2));
            p = Fused.MultiplyAdd(p, r, Vector512.Create(F1));
            p = Fused.MultiplyAdd(p, r, Vector512.Create(F0));
            p = Fused.MultiplyAdd(p, r * r, r) + Vector512<float>.One;
            Vector512<float> result = ScaleByPowerOfTwo(p, n);
            return Vector512.ConditionalSelect(Vector512.Equals(v, v), result, v).As<float, T>();
        }
        if (typeof(T) == typeof(double))
        {
            Vector512<double> v = x.AsDouble();
            Vector512<double> c = Fused.Clamp(v, Vector512.Create(DoubleLowest), Vector512.Create(DoubleHighest));
            Vector512<double> n = Fused.MultiplyAdd(c, Vector512.Create(DoubleLog2E), Vector512.Create(DoubleRound)) - Vector512.Create(DoubleRound);
            Vector512<double> r = Fused.MultiplyAdd(n, Vector512.Create(-DoubleLn2Low), Fused.MultiplyAdd(n, Vector512.Create(-DoubleLn2High), c));
            Vector512<double> rr = r * r;
            Vector512<double> px = r * Fused.MultiplyAdd(Fused.MultiplyAdd(Vector512.Create(P0), rr, Vector512.Create(P1)), rr, Vector512.Create(P2));
            Vector512<double> qx = Fused.MultiplyAdd(Fused.MultiplyAdd(Fused.MultiplyAdd(Vector512.Create(Q0), rr, Vector512.Create(Q1)), rr, Vector512.Create(Q2)), rr, Vector512.Create(Q3));
            Vector512<double> e = Fused.MultiplyAdd(px / (qx - px), Vector512.Create(2.0), Vector512<double>.One);
            Vector512<double> result = ScaleByPowerOfTwo(e, n);
            return Vector512.ConditionalSelect(Vector512.Equals(v, v), result, v).As<double, T>();
        }
        throw new NotSupportedException("exp is computed in floating point");
    }

    // ---- p * 2^n ----------------------------------------------------------------------------------
    // n is an integer in [-150, 128] (float) or [-1076, 1024] (double), p in [0.7, 1.5). AVX-512's
    // vscalef computes p * 2^n rounded once; elsewhere two power-of-two factors 2^(n >> 1) and
    // 2^(n - (n >> 1)), each a normal number: the first product is exact, the second rounds once, so
    // both forms give the same bits, subnormal and overflowing results included (the scalar path above
    // uses the factors). The conversion to integers is the native one: n is in range, so .NET 9's
    // saturating fix-ups would be four instructions for nothing.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> ScaleByPowerOfTwo(Vector128<float> p, Vector128<float> n)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.Scale(p, n);
        Vector128<int> k = ToInt32(n), k1 = Vector128.ShiftRightArithmetic(k, 1), k2 = k - k1;
        return p * Vector128.ShiftLeft(k1 + Vector128.Create(127), 23).AsSingle() * Vector128.ShiftLeft(k2 + Vector128.Create(127), 23).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ScaleByPowerOfTwo(Vector256<float> p, Vector256<float> n)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.Scale(p, n);
        Vector256<int> k = ToInt32(n), k1 = Vector256.ShiftRightArithmetic(k, 1), k2 = k - k1;
        return p * Vector256.ShiftLeft(k1 + Vector256.Create(127), 23).AsSingle() * Vector256.ShiftLeft(k2 + Vector256.Create(127), 23).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ScaleByPowerOfTwo(Vector512<float> p, Vector512<float> n)
    {
        if (Avx512F.IsSupported) return Avx512F.Scale(p, n);
        Vector512<int> k = ToInt32(n), k1 = Vector512.ShiftRightArithmetic(k, 1), k2 = k - k1;
        return p * Vector512.ShiftLeft(k1 + Vector512.Create(127), 23).AsSingle() * Vector512.ShiftLeft(k2 + Vector512.Create(127), 23).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> ScaleByPowerOfTwo(Vector128<double> p, Vector128<double> n)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.Scale(p, n);
        Vector128<long> k = ToInt64(n), k1 = Vector128.ShiftRightArithmetic(k, 1), k2 = k - k1;
        return p * Vector128.ShiftLeft(k1 + Vector128.Create(1023L), 52).AsDouble() * Vector128.ShiftLeft(k2 + Vector128.Create(1023L), 52).AsDouble();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> ScaleByPowerOfTwo(Vector256<double> p, Vector256<double> n)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.Scale(p, n);
        Vector256<long> k = ToInt64(n), k1 = Vector256.ShiftRightArithmetic(k, 1), k2 = k - k1;
        return p * Vector256.ShiftLeft(k1 + Vector256.Create(1023L), 52).AsDouble() * Vector256.ShiftLeft(k2 + Vector256.Create(1023L), 52).AsDouble();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> ScaleByPowerOfTwo(Vector512<double> p, Vector512<double> n)
    {
        if (Avx512F.IsSupported) return Avx512F.Scale(p, n);
        Vector512<long> k = ToInt64(n), k1 = Vector512.ShiftRightArithmetic(k, 1), k2 = k - k1;
        return p * Vector512.ShiftLeft(k1 + Vector512.Create(1023L), 52).AsDouble() * Vector512.ShiftLeft(k2 + Vector512.Create(1023L), 52).AsDouble();
    }

#if NET9_0_OR_GREATER
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector128<int> ToInt32(Vector128<float> n) => Vector128.ConvertToInt32Native(n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector256<int> ToInt32(Vector256<float> n) => Vector256.ConvertToInt32Native(n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector512<int> ToInt32(Vector512<float> n) => Vector512.ConvertToInt32Native(n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector128<long> ToInt64(Vector128<double> n) => Vector128.ConvertToInt64Native(n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector256<long> ToInt64(Vector256<double> n) => Vector256.ConvertToInt64Native(n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector512<long> ToInt64(Vector512<double> n) => Vector512.ConvertToInt64Native(n);
#else
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector128<int> ToInt32(Vector128<float> n) => Vector128.ConvertToInt32(n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector256<int> ToInt32(Vector256<float> n) => Vector256.ConvertToInt32(n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector512<int> ToInt32(Vector512<float> n) => Vector512.ConvertToInt32(n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector128<long> ToInt64(Vector128<double> n) => Vector128.ConvertToInt64(n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector256<long> ToInt64(Vector256<double> n) => Vector256.ConvertToInt64(n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector512<long> ToInt64(Vector512<double> n) => Vector512.ConvertToInt64(n);
#endif
}
