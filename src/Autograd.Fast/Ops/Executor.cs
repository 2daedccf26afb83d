using System.Numerics;
using System.Runtime.CompilerServices;
using AutogradFast.Simd;
using AutogradFast.Storage;
using AutogradFast.Threading;

namespace AutogradFast.Ops;

/// <summary>An elementwise operand: a tensor slot, or a scalar (as in <c>x * 3</c>).</summary>
internal readonly struct Operand
{
    private readonly int _slotPlusOne; // so that default(Operand) is None
    public readonly double Scalar;

    private Operand(int slot, double scalar)
    {
        _slotPlusOne = slot + 1;
        Scalar = scalar;
    }

    public int Slot => _slotPlusOne - 1;

    public static Operand Of(int slot) => new(slot, 0);

    public static Operand Of(double scalar) => new(-1, scalar);

    /// <summary>An operand the operator ignores.</summary>
    public static readonly Operand None = new(-1, 0);

    public bool IsScalar => Slot < 0;
}

/// <summary>
/// Runs any <see cref="IElementwiseOperator"/> over up to three operands into a contiguous result,
/// with broadcasting. Equal-shaped contiguous operands run as one flat call; otherwise it walks the
/// result's rows and runs the driver along the last dimension, each operand either streamed or
/// broadcast. Operands that are neither (a transposed view) are first copied contiguous.
/// </summary>
internal static unsafe class Executor
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // the dtype switch, into each op: one call less per op on scalar graphs
    public static void Run<TOp>(TensorContext c, Operand x, Operand y, Operand z, int result) where TOp : struct, IElementwiseOperator
    {
        switch (c.Records[result].DType)
        {
            case DType.Float32: Run<float, TOp>(c, x, y, z, result); break;
            case DType.Float64: Run<double, TOp>(c, x, y, z, result); break;
            case DType.Int64: Run<long, TOp>(c, x, y, z, result); break;
            default: ThrowHelper.BoolArithmetic("arithmetic"); break;
        }
    }

    /// <summary>An operand ready for a row walk over the result's shape (see <see cref="Prepare"/>).</summary>
    internal struct Prepared<T> where T : unmanaged
    {
        public T* Pointer;
        public Dims Strides;
        public bool Flat;       // contiguous with the result's shape, or a single broadcast value
        public bool Broadcast;  // a single value for every element
        public int Temporary;   // a contiguous copy to release, or -1
        public T Value;         // storage for a scalar operand
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // the walk over operands: a root of its own, so an op's inlined path stays short
    private static void Run<T, TOp>(TensorContext c, Operand x, Operand y, Operand z, int result)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
    {
        ref TensorRecord o = ref c.Records[result];
        DType dtype = o.DType;
        int n = o.NumEl;
        T* d = c.Pointer<T>(ref o, result);
        // Fast path: every operand is a scalar or a same-dtype contiguous tensor of one element or
        // of the result's element count (which, for a broadcastable operand, means the same layout).
        T sx, sy, sz;
        T* ex, ey, ez;
        if (TryFlat(c, x, dtype, n, &sx, out ex, out bool bx) && TryFlat(c, y, dtype, n, &sy, out ey, out bool by) && TryFlat(c, z, dtype, n, &sz, out ez, out bool bz))
        {
            if (n == 1) *d = TOp.Invoke(*ex, *ey, *ez); // scalar graphs: no driver
            else RunFlat<T, TOp>(Kinds(bx, by, bz), ex, ey, ez, d, n);
            return;
        }
        RunGeneral<T, TOp>(c, x, y, z, result);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // three calls per op: on scalar graphs the call itself was the cost
    private static bool TryFlat<T>(TensorContext c, Operand operand, DType dtype, int n, T* scalar, out T* pointer, out bool broadcast)
        where T : unmanaged, INumber<T>
    {
        if (operand.IsScalar)
        {
            *scalar = Numeric.FromDouble<T>(operand.Scalar);
            pointer = scalar;
            broadcast = true;
            return true;
        }
        ref TensorRecord r = ref c.Records[operand.Slot];
        pointer = null;
        broadcast = r.NumEl == 1;
        if (r.DType != dtype || (!broadcast && (r.NumEl != n || !r.IsContiguous))) return false;
        pointer = c.Pointer<T>(ref r, operand.Slot);
        return true;
    }

    private static void RunGeneral<T, TOp>(TensorContext c, Operand x, Operand y, Operand z, int result)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
    {
        ref TensorRecord o = ref c.Records[result];
        Prepared<T> px = default, py = default, pz = default;
        Prepare(c, x, ref px, o.DType, o.Shape, o.Rank);
        Prepare(c, y, ref py, o.DType, o.Shape, o.Rank);
        Prepare(c, z, ref pz, o.DType, o.Shape, o.Rank);
        // Scalars live in the Prepared structs on this stack frame: point at them only now.
        if (x.IsScalar) px.Pointer = &px.Value;
        if (y.IsScalar) py.Pointer = &py.Value;
        if (z.IsScalar) pz.Pointer = &pz.Value;
        T* d = c.Pointer<T>(result);
        try
        {
            if (px.Flat && py.Flat && pz.Flat)
            {
                RunFlat<T, TOp>(Kinds(px.Broadcast, py.Broadcast, pz.Broadcast), px.Pointer, py.Pointer, pz.Pointer, d, o.NumEl);
                return;
            }
            var (rows, length) = RowWalker.Extent(o.Shape, o.Rank);
            int inner = o.Rank - 1;
            int kinds = Kinds(px.Strides[inner] == 0, py.Strides[inner] == 0, pz.Strides[inner] == 0);
            var walk = new RowWalker(o.Shape, o.Rank, px.Strides, py.Strides, pz.Strides);
            for (int row = 0; row < rows; row++, walk.Next())
                RunFlat<T, TOp>(kinds, px.Pointer + walk.Offset0, py.Pointer + walk.Offset1, pz.Pointer + walk.Offset2, d + (nint)row * length, length);
        }
        finally
        {
            if (px.Temporary >= 0) c.ReleaseTemporary(px.Temporary);
            if (py.Temporary >= 0) c.ReleaseTemporary(py.Temporary);
            if (pz.Temporary >= 0) c.ReleaseTemporary(pz.Temporary);
        }
    }

    /// <summary>
    /// Readies an operand to be read at <paramref name="shape"/> in <paramref name="dtype"/>: a scalar or
    /// one-element tensor becomes one broadcast value, a contiguous tensor of that shape streams flat,
    /// anything else gets broadcast strides (a contiguous copy first when its last dimension is neither
    /// contiguous nor broadcast, a cast copy when its dtype differs). The caller points a scalar's
    /// <see cref="Prepared{T}.Pointer"/> at its <see cref="Prepared{T}.Value"/> and releases
    /// <see cref="Prepared{T}.Temporary"/>.
    /// </summary>
    internal static void Prepare<T>(TensorContext c, Operand operand, ref Prepared<T> p, DType dtype, in Dims shape, int rank) where T : unmanaged, INumber<T>
    {
        p.Temporary = -1;
        if (operand.IsScalar)
        {
            p.Value = Numeric.FromDouble<T>(operand.Scalar);
            p.Flat = p.Broadcast = true;
            return; // strides stay 0; the caller points at Value
        }
        int slot = operand.Slot;
        if (c.Records[slot].DType != dtype)
        {
            // Mixed dtypes (float32 with float64, an int64 gradient): compute in the result's dtype.
            p.Temporary = StridedCopy.CastToTemporary(c, slot, dtype);
            slot = p.Temporary;
        }
        ref TensorRecord r = ref c.Records[slot];
        if (r.NumEl == 1)
        {
            p.Pointer = c.Pointer<T>(slot);
            p.Flat = p.Broadcast = true;
            return;
        }
        if (r.IsContiguous && Broadcasting.SameShape(r, shape.AsSpan(rank)))
        {
            p.Pointer = c.Pointer<T>(slot);
            p.Strides = r.Strides;
            p.Flat = true;
            return;
        }
        p.Strides = Broadcasting.ExpandedStrides(r, shape, rank);
        int innerStride = p.Strides[rank - 1];
        if (innerStride is not 0 and not 1)
        {
            p.Temporary = StridedCopy.ContiguousOrSelf(c, slot); // never a cast temporary: those are contiguous
            slot = p.Temporary;
            p.Strides = Broadcasting.ExpandedStrides(c.Records[slot], shape, rank);
        }
        p.Pointer = c.Pointer<T>(slot);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Kinds(bool x, bool y, bool z) => (x ? 1 : 0) | (y ? 2 : 0) | (z ? 4 : 0);

    /// <summary>One contiguous run; bit k of <paramref name="kinds"/> says operand k is one broadcast value.</summary>
    /// <summary>Large runs are cut into fixed chunks spread over the worker pool (elementwise: any split gives the same bits).</summary>
    private static void RunFlat<T, TOp>(int kinds, T* x, T* y, T* z, T* d, nint n)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
    {
        if (!Chunking.ShouldSplit(n))
        {
            RunFlatSerial<T, TOp>(kinds, x, y, z, d, n);
            return;
        }
        var job = new FlatJob<T> { Kinds = kinds, X = x, Y = y, Z = z, D = d, Length = n };
        WorkerPool.For(Chunking.ChunkCount(n), &RunFlatChunk<T, TOp>, &job);
    }

    private struct FlatJob<T> where T : unmanaged
    {
        public int Kinds;
        public T* X, Y, Z, D;
        public nint Length;
    }

    private static void RunFlatChunk<T, TOp>(void* state, int chunk)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
    {
        ref FlatJob<T> job = ref *(FlatJob<T>*)state;
        var (start, length) = Chunking.Range(chunk, job.Length);
        // A broadcast operand (its bit set in Kinds) is one value: it does not move with the chunk.
        RunFlatSerial<T, TOp>(job.Kinds,
            (job.Kinds & 1) != 0 ? job.X : job.X + start,
            (job.Kinds & 2) != 0 ? job.Y : job.Y + start,
            (job.Kinds & 4) != 0 ? job.Z : job.Z + start,
            job.D + start, length);
    }

    public static void RunFlatSerial<T, TOp>(int kinds, T* x, T* y, T* z, T* d, nint n)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
    {
        switch (kinds)
        {
            case 0: ElementwiseDriver.Apply<T, TOp, Elements<T>, Elements<T>, Elements<T>>(new(x), new(y), new(z), d, n); break;
            case 1: ElementwiseDriver.Apply<T, TOp, Broadcast<T>, Elements<T>, Elements<T>>(new(*x), new(y), new(z), d, n); break;
            case 2: ElementwiseDriver.Apply<T, TOp, Elements<T>, Broadcast<T>, Elements<T>>(new(x), new(*y), new(z), d, n); break;
            case 3: ElementwiseDriver.Apply<T, TOp, Broadcast<T>, Broadcast<T>, Elements<T>>(new(*x), new(*y), new(z), d, n); break;
            case 4: ElementwiseDriver.Apply<T, TOp, Elements<T>, Elements<T>, Broadcast<T>>(new(x), new(y), new(*z), d, n); break;
            case 5: ElementwiseDriver.Apply<T, TOp, Broadcast<T>, Elements<T>, Broadcast<T>>(new(*x), new(y), new(*z), d, n); break;
            case 6: ElementwiseDriver.Apply<T, TOp, Elements<T>, Broadcast<T>, Broadcast<T>>(new(x), new(*y), new(*z), d, n); break;
            default: ElementwiseDriver.Apply<T, TOp, Broadcast<T>, Broadcast<T>, Broadcast<T>>(new(*x), new(*y), new(*z), d, n); break;
        }
    }
}
