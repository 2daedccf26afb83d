using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AutogradFast.Simd;

/// <summary>
/// Sums of <c>op(x[i], y[i])</c> (sum, dot, sum of squares). The input is cut into fixed chunks
/// whose boundaries depend only on the length; each chunk is summed with four vector accumulators
/// and a scalar tail, and chunk results are combined in order in double (float inputs) or T. The
/// result is therefore deterministic, independent of how chunks are later spread over threads, and
/// accurate for millions of float32 terms.
/// </summary>
internal static unsafe class ReductionDriver
{
    public const int ChunkLength = 4096;

    /// <summary>Chunk sums are independent: large inputs compute them on the worker pool, then combine them in order here.</summary>
    private const int MaxParallelChunks = 4096;

    public static T Sum<T, TOp, TX, TY>(TX x, TY y, nint length)
        where T : unmanaged, INumber<T>
        where TOp : struct, IElementwiseOperator
        where TX : unmanaged, ISource<T>
        where TY : unmanaged, ISource<T>
    {
        int chunks = (int)((length + ChunkLength - 1) / ChunkLength);
        if (chunks <= MaxParallelChunks && Threading.Chunking.ShouldSplit(length))
        {
            T* partials = stackalloc T[chunks];
            var job = new SumJob<T, TX, TY> { X = x, Y = y, Length = length, Partials = partials };
            int perTask = Threading.Chunking.ChunkElements / ChunkLength;
            job.ChunksPerTask = perTask;
            Threading.WorkerPool.For((chunks + perTask - 1) / perTask, &SumChunks<T, TOp, TX, TY>, &job);
            return Combine(partials, chunks);
        }
        if (typeof(T) == typeof(float))
        {
            double total = 0;
            for (nint start = 0; start < length; start += ChunkLength)
                total += Numeric.ToDouble(SumChunk<T, TOp, TX, TY>(x, y, start, Math.Min(ChunkLength, length - start)));
            return Numeric.FromDouble<T>(total);
        }
        T sum = T.Zero;
        for (nint start = 0; start < length; start += ChunkLength)
            sum += SumChunk<T, TOp, TX, TY>(x, y, start, Math.Min(ChunkLength, length - start));
        return sum;
    }

    /// <summary>The same ordered combination as the serial loop, so both give the same bits.</summary>
    public static T Combine<T>(T* partials, int chunks) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float))
        {
            double total = 0;
            for (int i = 0; i < chunks; i++) total += Numeric.ToDouble(partials[i]);
            return Numeric.FromDouble<T>(total);
        }
        T sum = T.Zero;
        for (int i = 0; i < chunks; i++) sum += partials[i];
        return sum;
    }

    private struct SumJob<T, TX, TY> where T : unmanaged where TX : unmanaged where TY : unmanaged
    {
        public TX X;
        public TY Y;
        public nint Length;
        public T* Partials;
        public int ChunksPerTask;
    }

    private static void SumChunks<T, TOp, TX, TY>(void* state, int task)
        where T : unmanaged, INumber<T>
        where TOp : struct, IElementwiseOperator
        where TX : unmanaged, ISource<T>
        where TY : unmanaged, ISource<T>
    {
        ref SumJob<T, TX, TY> job = ref *(SumJob<T, TX, TY>*)state;
        int first = task * job.ChunksPerTask;
        for (int chunk = first; chunk < first + job.ChunksPerTask; chunk++)
        {
            nint start = (nint)chunk * ChunkLength;
            if (start >= job.Length) break;
            job.Partials[chunk] = SumChunk<T, TOp, TX, TY>(job.X, job.Y, start, Math.Min(ChunkLength, job.Length - start));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T SumChunk<T, TOp, TX, TY>(TX x, TY y, nint start, nint n)
        where T : unmanaged, INumber<T>
        where TOp : struct, IElementwiseOperator
        where TX : unmanaged, ISource<T>
        where TY : unmanaged, ISource<T>
        => ChunkSum<T>.Whole<TOp, TX, TY>(x, y, start, n);
}

/// <summary>
/// The sum of one chunk (at most <see cref="ReductionDriver.ChunkLength"/> elements) in the one order
/// every sum uses: four vector accumulators of the widest accelerated width the chunk fills, then
/// single vectors, the accumulators added pairwise, then a scalar tail. The chunk may arrive in
/// pieces (a fused program's stages, whose values exist one stage at a time): every piece but the
/// last holds a whole number of four-vector steps (any multiple of 64 elements does), so the pieces
/// run exactly the loop one call over the chunk runs, and give the same bits.
/// </summary>
internal struct ChunkSum<T> where T : unmanaged, INumber<T>
{
    private Vector512<T> _a0, _a1, _a2, _a3; // the 256- and 128-bit paths keep theirs in the low lanes
    private T _sum;                          // the scalar path's running sum
    private readonly int _bits;              // the vector width, chosen from the whole chunk's length

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ChunkSum(nint length) => _bits = WidthFor(length);

    /// <summary>A whole chunk in one call (no state: nothing is read from or kept in a struct).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Whole<TOp, TX, TY>(TX x, TY y, nint start, nint length)
        where TOp : struct, IElementwiseOperator where TX : unmanaged, ISource<T> where TY : unmanaged, ISource<T>
        => Run<TOp, TX, TY>(ref Unsafe.NullRef<ChunkSum<T>>(), x, y, start, length, fresh: true, last: true);

    /// <summary>Adds a piece that is not the chunk's last: its length is a multiple of four vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add<TOp, TX, TY>(TX x, TY y, nint start, nint length)
        where TOp : struct, IElementwiseOperator where TX : unmanaged, ISource<T> where TY : unmanaged, ISource<T>
        => Run<TOp, TX, TY>(ref this, x, y, start, length, fresh: false, last: false);

    /// <summary>Adds the chunk's last piece and returns the chunk's sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Finish<TOp, TX, TY>(TX x, TY y, nint start, nint length)
        where TOp : struct, IElementwiseOperator where TX : unmanaged, ISource<T> where TY : unmanaged, ISource<T>
        => Run<TOp, TX, TY>(ref this, x, y, start, length, fresh: false, last: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int WidthFor(nint length)
        => Vector512.IsHardwareAccelerated && length >= Vector512<T>.Count ? 512
            : Vector256.IsHardwareAccelerated && length >= Vector256<T>.Count ? 256
            : Vector128.IsHardwareAccelerated && length >= Vector128<T>.Count ? 128 : 0;

    /// <remarks>
    /// <paramref name="fresh"/>: a whole chunk, the state is not read and the width is tested in place;
    /// <paramref name="last"/>: the state is not written. So a sum that is not in pieces runs what it
    /// ran before pieces existed (the tiny graphs' instructions per step are unchanged).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Run<TOp, TX, TY>(ref ChunkSum<T> state, TX x, TY y, nint start, nint n, bool fresh, bool last)
        where TOp : struct, IElementwiseOperator where TX : unmanaged, ISource<T> where TY : unmanaged, ISource<T>
    {
        Broadcast<T> none = default;
        nint i = 0;
        T sum = fresh ? T.Zero : state._sum;
        if (fresh ? Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count : state._bits == 512)
        {
            nint w = Vector512<T>.Count;
            Vector512<T> a0 = fresh ? default : state._a0, a1 = fresh ? default : state._a1, a2 = fresh ? default : state._a2, a3 = fresh ? default : state._a3;
            for (; i <= n - 4 * w; i += 4 * w)
            {
                nint p = start + i;
                a0 += TOp.Invoke(x.V512(p), y.V512(p), none.V512(0));
                a1 += TOp.Invoke(x.V512(p + w), y.V512(p + w), none.V512(0));
                a2 += TOp.Invoke(x.V512(p + 2 * w), y.V512(p + 2 * w), none.V512(0));
                a3 += TOp.Invoke(x.V512(p + 3 * w), y.V512(p + 3 * w), none.V512(0));
            }
            if (!last)
            {
                (state._a0, state._a1, state._a2, state._a3) = (a0, a1, a2, a3);
                return T.Zero;
            }
            for (; i <= n - w; i += w) a0 += TOp.Invoke(x.V512(start + i), y.V512(start + i), none.V512(0));
            sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (fresh ? Vector256.IsHardwareAccelerated && n >= Vector256<T>.Count : state._bits == 256)
        {
            nint w = Vector256<T>.Count;
            Vector256<T> a0 = fresh ? default : state._a0.GetLower(), a1 = fresh ? default : state._a1.GetLower(),
                a2 = fresh ? default : state._a2.GetLower(), a3 = fresh ? default : state._a3.GetLower();
            for (; i <= n - 4 * w; i += 4 * w)
            {
                nint p = start + i;
                a0 += TOp.Invoke(x.V256(p), y.V256(p), none.V256(0));
                a1 += TOp.Invoke(x.V256(p + w), y.V256(p + w), none.V256(0));
                a2 += TOp.Invoke(x.V256(p + 2 * w), y.V256(p + 2 * w), none.V256(0));
                a3 += TOp.Invoke(x.V256(p + 3 * w), y.V256(p + 3 * w), none.V256(0));
            }
            if (!last)
            {
                (state._a0, state._a1, state._a2, state._a3) = (a0.ToVector512Unsafe(), a1.ToVector512Unsafe(), a2.ToVector512Unsafe(), a3.ToVector512Unsafe());
                return T.Zero;
            }
            for (; i <= n - w; i += w) a0 += TOp.Invoke(x.V256(start + i), y.V256(start + i), none.V256(0));
            sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        else if (fresh ? Vector128.IsHardwareAccelerated && n >= Vector128<T>.Count : state._bits == 128)
        {
            nint w = Vector128<T>.Count;
            Vector128<T> a0 = fresh ? default : state._a0.GetLower().GetLower(), a1 = fresh ? default : state._a1.GetLower().GetLower(),
                a2 = fresh ? default : state._a2.GetLower().GetLower(), a3 = fresh ? default : state._a3.GetLower().GetLower();
            for (; i <= n - 4 * w; i += 4 * w)
            {
                nint p = start + i;
                a0 += TOp.Invoke(x.V128(p), y.V128(p), none.V128(0));
                a1 += TOp.Invoke(x.V128(p + w), y.V128(p + w), none.V128(0));
                a2 += TOp.Invoke(x.V128(p + 2 * w), y.V128(p + 2 * w), none.V128(0));
                a3 += TOp.Invoke(x.V128(p + 3 * w), y.V128(p + 3 * w), none.V128(0));
            }
            if (!last)
            {
                (state._a0, state._a1, state._a2, state._a3) = (a0.ToVector256Unsafe().ToVector512Unsafe(), a1.ToVector256Unsafe().ToVector512Unsafe(),
                    a2.ToVector256Unsafe().ToVector512Unsafe(), a3.ToVector256Unsafe().ToVector512Unsafe());
                return T.Zero;
            }
            for (; i <= n - w; i += w) a0 += TOp.Invoke(x.V128(start + i), y.V128(start + i), none.V128(0));
            sum = Vector128.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < n; i++) sum += TOp.Invoke(x.Scalar(start + i), y.Scalar(start + i), T.Zero);
        if (!last) state._sum = sum;
        return sum;
    }
}

/// <summary>The reductions ops call.</summary>
internal static unsafe class Reductions
{
    /// <summary>Σ x</summary>
    public static T Sum<T>(T* x, nint n) where T : unmanaged, INumber<T>
        => ReductionDriver.Sum<T, AddOperator, Elements<T>, Broadcast<T>>(new(x), default, n);

    /// <summary>Σ x·y</summary>
    public static T Dot<T>(T* x, T* y, nint n) where T : unmanaged, INumber<T>
        => ReductionDriver.Sum<T, MultiplyOperator, Elements<T>, Elements<T>>(new(x), new(y), n);
}
