using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AutogradFast.Simd;

/// <summary>
/// The one loop every elementwise operator runs through: the widest accelerated width first,
/// unrolled by four, then single vectors, then the ragged tail covered by one overlapping last
/// vector. The last vector is computed before the main loop and stored after it, so the driver is
/// correct in place (the destination may be exactly one of the operands). Scalar code
/// runs only when the whole input is shorter than one Vector128.
/// </summary>
internal static unsafe class ElementwiseDriver
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Apply<T, TOp, TX, TY, TZ>(TX x, TY y, TZ z, T* destination, nint length)
        where T : unmanaged, INumber<T>
        where TOp : struct, IElementwiseOperator
        where TX : struct, ISource<T>
        where TY : struct, ISource<T>
        where TZ : struct, ISource<T>
    {
        if (Vector512.IsHardwareAccelerated && length >= Vector512<T>.Count)
            Apply512<T, TOp, TX, TY, TZ>(x, y, z, destination, length);
        else if (Vector256.IsHardwareAccelerated && length >= Vector256<T>.Count)
            Apply256<T, TOp, TX, TY, TZ>(x, y, z, destination, length);
        else if (Vector128.IsHardwareAccelerated && length >= Vector128<T>.Count)
            Apply128<T, TOp, TX, TY, TZ>(x, y, z, destination, length);
        else
            for (nint i = 0; i < length; i++) destination[i] = TOp.Invoke(x.Scalar(i), y.Scalar(i), z.Scalar(i));
    }

    private static void Apply512<T, TOp, TX, TY, TZ>(TX x, TY y, TZ z, T* d, nint n)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
        where TX : struct, ISource<T> where TY : struct, ISource<T> where TZ : struct, ISource<T>
    {
        nint w = Vector512<T>.Count, lastAt = n - w, i = 0;
        Vector512<T> last = TOp.Invoke(x.V512(lastAt), y.V512(lastAt), z.V512(lastAt));
        for (; i <= n - 4 * w; i += 4 * w)
        {
            TOp.Invoke(x.V512(i), y.V512(i), z.V512(i)).Store(d + i);
            TOp.Invoke(x.V512(i + w), y.V512(i + w), z.V512(i + w)).Store(d + i + w);
            TOp.Invoke(x.V512(i + 2 * w), y.V512(i + 2 * w), z.V512(i + 2 * w)).Store(d + i + 2 * w);
            TOp.Invoke(x.V512(i + 3 * w), y.V512(i + 3 * w), z.V512(i + 3 * w)).Store(d + i + 3 * w);
        }
        for (; i <= n - w; i += w) TOp.Invoke(x.V512(i), y.V512(i), z.V512(i)).Store(d + i);
        last.Store(d + lastAt);
    }

    private static void Apply256<T, TOp, TX, TY, TZ>(TX x, TY y, TZ z, T* d, nint n)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
        where TX : struct, ISource<T> where TY : struct, ISource<T> where TZ : struct, ISource<T>
    {
        nint w = Vector256<T>.Count, lastAt = n - w, i = 0;
        Vector256<T> last = TOp.Invoke(x.V256(lastAt), y.V256(lastAt), z.V256(lastAt));
        for (; i <= n - 4 * w; i += 4 * w)
        {
            TOp.Invoke(x.V256(i), y.V256(i), z.V256(i)).Store(d + i);
            TOp.Invoke(x.V256(i + w), y.V256(i + w), z.V256(i + w)).Store(d + i + w);
            TOp.Invoke(x.V256(i + 2 * w), y.V256(i + 2 * w), z.V256(i + 2 * w)).Store(d + i + 2 * w);
            TOp.Invoke(x.V256(i + 3 * w), y.V256(i + 3 * w), z.V256(i + 3 * w)).Store(d + i + 3 * w);
        }
        for (; i <= n - w; i += w) TOp.Invoke(x.V256(i), y.V256(i), z.V256(i)).Store(d + i);
        last.Store(d + lastAt);
    }

    private static void Apply128<T, TOp, TX, TY, TZ>(TX x, TY y, TZ z, T* d, nint n)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
        where TX : struct, ISource<T> where TY : struct, ISource<T> where TZ : struct, ISource<T>
    {
        nint w = Vector128<T>.Count, lastAt = n - w, i = 0;
        Vector128<T> last = TOp.Invoke(x.V128(lastAt), y.V128(lastAt), z.V128(lastAt));
        for (; i <= n - 4 * w; i += 4 * w)
        {
            TOp.Invoke(x.V128(i), y.V128(i), z.V128(i)).Store(d + i);
            TOp.Invoke(x.V128(i + w), y.V128(i + w), z.V128(i + w)).Store(d + i + w);
            TOp.Invoke(x.V128(i + 2 * w), y.V128(i + 2 * w), z.V128(i + 2 * w)).Store(d + i + 2 * w);
            TOp.Invoke(x.V128(i + 3 * w), y.V128(i + 3 * w), z.V128(i + 3 * w)).Store(d + i + 3 * w);
        }
        for (; i <= n - w; i += w) TOp.Invoke(x.V128(i), y.V128(i), z.V128(i)).Store(d + i);
        last.Store(d + lastAt);
    }
}

/// <summary>Short names for the driver's common shapes, so op code reads as the formula.</summary>
internal static unsafe class Elementwise
{
    /// <summary>d = op(x)</summary>
    public static void Unary<T, TOp>(T* x, T* d, nint n) where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
        => ElementwiseDriver.Apply<T, TOp, Elements<T>, Broadcast<T>, Broadcast<T>>(new(x), default, default, d, n);

    /// <summary>d = op(x, y)</summary>
    public static void Binary<T, TOp>(T* x, T* y, T* d, nint n) where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
        => ElementwiseDriver.Apply<T, TOp, Elements<T>, Elements<T>, Broadcast<T>>(new(x), new(y), default, d, n);

    /// <summary>d = op(x, s)</summary>
    public static void BinaryScalar<T, TOp>(T* x, T s, T* d, nint n) where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
        => ElementwiseDriver.Apply<T, TOp, Elements<T>, Broadcast<T>, Broadcast<T>>(new(x), new(s), default, d, n);

    /// <summary>d = op(s, y)</summary>
    public static void ScalarBinary<T, TOp>(T s, T* y, T* d, nint n) where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
        => ElementwiseDriver.Apply<T, TOp, Broadcast<T>, Elements<T>, Broadcast<T>>(new(s), new(y), default, d, n);

    /// <summary>d = op(x, y, z)</summary>
    public static void Ternary<T, TOp>(T* x, T* y, T* z, T* d, nint n) where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
        => ElementwiseDriver.Apply<T, TOp, Elements<T>, Elements<T>, Elements<T>>(new(x), new(y), new(z), d, n);

    /// <summary>d = op(x, y, s)</summary>
    public static void TernaryScalar<T, TOp>(T* x, T* y, T s, T* d, nint n) where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
        => ElementwiseDriver.Apply<T, TOp, Elements<T>, Elements<T>, Broadcast<T>>(new(x), new(y), new(s), d, n);

    /// <summary>d = op(x, s, z)  (axpy: x * s + z)</summary>
    public static void TernaryMiddleScalar<T, TOp>(T* x, T s, T* z, T* d, nint n) where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
        => ElementwiseDriver.Apply<T, TOp, Elements<T>, Broadcast<T>, Elements<T>>(new(x), new(s), new(z), d, n);
}
