using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AutogradFast.Simd;

// In-register block transposes for packing the operands GEMM reads across their rows
// (A of NN and NT, B of NT): the packed micro-panels want those values column by column.
// Panels narrower than a block, or machines without SSE/AVX, are packed element by element.
internal static unsafe partial class GemmMicroKernel
{
    /// <summary>
    /// The side of the square blocks <see cref="TransposeBlock{T}"/> moves for a panel <paramref name="width"/>
    /// wide (at most the width; 0: no vector transpose here, pack element by element).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int TransposeSide<T>(int width) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Avx.IsSupported && width >= 8 ? 8 : Sse.IsSupported && width >= 4 ? 4 : 0;
        if (typeof(T) == typeof(double))
            return Avx.IsSupported && width >= 4 ? 4 : 0;
        return 0;
    }

    /// <summary>
    /// <c>dst[p*ldd + r] = src[r*ld + p]</c> for r, p &lt; <paramref name="side"/> (from <see cref="TransposeSide{T}"/>):
    /// 8 × 8 or 4 × 4 floats, or 4 × 4 doubles, through unpacks and lane permutes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransposeBlock<T>(int side, T* src, nint ld, T* dst, nint ldd) where T : unmanaged
    {
        if (typeof(T) == typeof(double)) Transpose4x4((double*)src, ld, (double*)dst, ldd);
        else if (side == 8) Transpose8x8((float*)src, ld, (float*)dst, ldd);
        else Transpose4x4((float*)src, ld, (float*)dst, ldd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, nint ld, float* dst, nint ldd)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + ld);
        Vector256<float> r2 = Avx.LoadVector256(src + 2 * ld), r3 = Avx.LoadVector256(src + 3 * ld);
        Vector256<float> r4 = Avx.LoadVector256(src + 4 * ld), r5 = Avx.LoadVector256(src + 5 * ld);
        Vector256<float> r6 = Avx.LoadVector256(src + 6 * ld), r7 = Avx.LoadVector256(src + 7 * ld);
        // Pairs of rows interleaved: t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5], …
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        // Quads: s0 = r0[0] r1[0] r2[0] r3[0] | r0[4] r1[4] r2[4] r3[4], …
        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);
        // Lanes: column j of the block is rows 0-3 from s(j%4) and rows 4-7 from s(j%4 + 4), low lane for j < 4.
        Avx.Store(dst, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(dst + 2 * ldd, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(dst + 3 * ldd, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(dst + 4 * ldd, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(dst + 5 * ldd, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(dst + 6 * ldd, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(dst + 7 * ldd, Avx.Permute2x128(s3, s7, 0x31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x4(float* src, nint ld, float* dst, nint ldd)
    {
        Vector128<float> r0 = Sse.LoadVector128(src), r1 = Sse.LoadVector128(src + ld);
        Vector128<float> r2 = Sse.LoadVector128(src + 2 * ld), r3 = Sse.LoadVector128(src + 3 * ld);
        // t0 = r0[0] r1[0] r0[1] r1[1], t1 = r0[2] r1[2] r0[3] r1[3], …
        Vector128<float> t0 = Sse.UnpackLow(r0, r1), t1 = Sse.UnpackHigh(r0, r1);
        Vector128<float> t2 = Sse.UnpackLow(r2, r3), t3 = Sse.UnpackHigh(r2, r3);
        Sse.Store(dst, Sse.MoveLowToHigh(t0, t2));
        Sse.Store(dst + ldd, Sse.MoveHighToLow(t2, t0));
        Sse.Store(dst + 2 * ldd, Sse.MoveLowToHigh(t1, t3));
        Sse.Store(dst + 3 * ldd, Sse.MoveHighToLow(t3, t1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x4(double* src, nint ld, double* dst, nint ldd)
    {
        Vector256<double> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + ld);
        Vector256<double> r2 = Avx.LoadVector256(src + 2 * ld), r3 = Avx.LoadVector256(src + 3 * ld);
        // t0 = r0[0] r1[0] | r0[2] r1[2], t1 = r0[1] r1[1] | r0[3] r1[3], …
        Vector256<double> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<double> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Avx.Store(dst, Avx.Permute2x128(t0, t2, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(t1, t3, 0x20));
        Avx.Store(dst + 2 * ldd, Avx.Permute2x128(t0, t2, 0x31));
        Avx.Store(dst + 3 * ldd, Avx.Permute2x128(t1, t3, 0x31));
    }
}
