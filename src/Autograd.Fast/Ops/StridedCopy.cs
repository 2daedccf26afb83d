using System.Numerics;
using System.Numerics.Tensors;
using AutogradFast.Simd;
using AutogradFast.Storage;

namespace AutogradFast.Ops;

/// <summary>Copies between strided views and contiguous buffers, and dtype conversion.</summary>
internal static unsafe class StridedCopy
{
    /// <summary>Copies the tensor's elements in row-major order to <paramref name="destination"/>.</summary>
    public static void ToContiguous<T>(TensorContext c, int slot, T* destination) where T : unmanaged
    {
        ref TensorRecord r = ref c.Records[slot];
        T* src = c.Pointer<T>(slot);
        if (r.IsContiguous)
        {
            Buffer.MemoryCopy(src, destination, (long)r.NumEl * sizeof(T), (long)r.NumEl * sizeof(T));
            return;
        }
        Copy(src, r.Strides, destination, Dims.ContiguousStrides(new Size(r.Shape, r.Rank).AsSpan()), r.Shape, r.Rank);
    }

    /// <summary>dst[i] = src[i] over a shape, both strided; the inner run is copied, filled or gathered.</summary>
    public static void Copy<T>(T* src, in Dims srcStrides, T* dst, in Dims dstStrides, in Dims shape, int rank) where T : unmanaged
    {
        var (rows, length) = RowWalker.Extent(shape, rank);
        int si = rank == 0 ? 1 : srcStrides[rank - 1];
        int di = rank == 0 ? 1 : dstStrides[rank - 1];
        var walk = new RowWalker(shape, rank, srcStrides, dstStrides, default);
        for (int row = 0; row < rows; row++, walk.Next())
        {
            T* s = src + walk.Offset0;
            T* d = dst + walk.Offset1;
            if (si == 1 && di == 1) new ReadOnlySpan<T>(s, length).CopyTo(new Span<T>(d, length));
            else if (si == 0 && di == 1) new Span<T>(d, length).Fill(*s);
            else for (int i = 0; i < length; i++) d[(nint)i * di] = s[(nint)i * si]; // transposed views: a gather
        }
    }

    /// <summary>
    /// Copies elements between two slots of the same dtype, each seen through its own strides and an
    /// extra element offset, over <paramref name="shape"/>: the one strided copy of every dtype
    /// (a stride-0 source broadcasts).
    /// </summary>
    public static void CopyRegion(TensorContext c, int src, in Dims srcStrides, int srcOffset, int dst, in Dims dstStrides, int dstOffset, in Dims shape, int rank)
    {
        switch (c.Records[dst].DType.ElementSize())
        {
            case 1: Copy((byte*)c.BytePointer(src) + srcOffset, srcStrides, (byte*)c.BytePointer(dst) + dstOffset, dstStrides, shape, rank); break;
            case 4: Copy((int*)c.BytePointer(src) + srcOffset, srcStrides, (int*)c.BytePointer(dst) + dstOffset, dstStrides, shape, rank); break;
            default: Copy((long*)c.BytePointer(src) + srcOffset, srcStrides, (long*)c.BytePointer(dst) + dstOffset, dstStrides, shape, rank); break;
        }
    }

    /// <summary>The slot itself when contiguous, otherwise a contiguous engine temporary (caller releases).</summary>
    public static int ContiguousOrSelf(TensorContext c, int slot) => c.Records[slot].IsContiguous ? slot : Clone(c, slot, temporary: true);

    /// <summary>A new contiguous tensor (an engine temporary, or in the current scope) with the slot's elements, bit for bit.</summary>
    public static int Clone(TensorContext c, int slot, bool temporary)
    {
        ref TensorRecord r = ref c.Records[slot];
        int copy = c.NewTensor(r.DType, new Size(r.Shape, r.Rank).AsSpan(), zero: false, temporary);
        switch (r.DType)
        {
            case DType.Float32: ToContiguous(c, slot, c.Pointer<float>(copy)); break;
            case DType.Float64: ToContiguous(c, slot, c.Pointer<double>(copy)); break;
            case DType.Int64: ToContiguous(c, slot, c.Pointer<long>(copy)); break;
            default: ToContiguous(c, slot, c.Pointer<bool>(copy)); break;
        }
        return copy;
    }

    /// <summary>A contiguous temporary holding the slot's values converted to <paramref name="dtype"/>.</summary>
    public static int CastToTemporary(TensorContext c, int slot, DType dtype, bool temporary = true)
    {
        int source = ContiguousOrSelf(c, slot);
        ref TensorRecord r = ref c.Records[source];
        int result = c.NewTensor(dtype, new Size(r.Shape, r.Rank).AsSpan(), zero: false, temporary);
        int n = r.NumEl;
        switch (r.DType)
        {
            case DType.Float32: ConvertFrom(c.Pointer<float>(source), c, result, dtype, n); break;
            case DType.Float64: ConvertFrom(c.Pointer<double>(source), c, result, dtype, n); break;
            case DType.Int64: ConvertFrom(c.Pointer<long>(source), c, result, dtype, n); break;
            default: ConvertFrom((byte*)c.Pointer<bool>(source), c, result, dtype, n); break;
        }
        if (source != slot) c.ReleaseTemporary(source);
        return result;
    }

    private static void ConvertFrom<TFrom>(TFrom* src, TensorContext c, int result, DType dtype, int n)
        where TFrom : unmanaged, INumber<TFrom>
    {
        var from = new ReadOnlySpan<TFrom>(src, n);
        switch (dtype)
        {
            case DType.Float32: TensorPrimitives.ConvertTruncating(from, new Span<float>(c.Pointer<float>(result), n)); break;
            case DType.Float64: TensorPrimitives.ConvertTruncating(from, new Span<double>(c.Pointer<double>(result), n)); break;
            case DType.Int64: TensorPrimitives.ConvertTruncating(from, new Span<long>(c.Pointer<long>(result), n)); break;
            default:
                // bool(x) is x != 0
                TFrom zero = TFrom.Zero;
                ComparisonDriver.Compare(Comparison.NotEqual, src, false, &zero, true, c.Pointer<bool>(result), n);
                break;
        }
    }
}
