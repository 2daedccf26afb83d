using System.Numerics;
using AutogradFast.Simd;
using AutogradFast.Storage;

namespace AutogradFast.Ops;

/// <summary>NumPy broadcasting: the result shape, expanded strides, and the reverse (summing a gradient back to an input's shape).</summary>
internal static unsafe class Broadcasting
{
    /// <summary>The broadcast shape of two records, or PyTorch's error naming both sizes.</summary>
    public static int BroadcastShape(in TensorRecord a, in TensorRecord b, out Dims shape)
    {
        int rank = Math.Max(a.Rank, b.Rank);
        shape = default;
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Rank ? 1 : a.Shape[i - (rank - a.Rank)];
            int db = i < rank - b.Rank ? 1 : b.Shape[i - (rank - b.Rank)];
            if (da != db && da != 1 && db != 1) ThrowHelper.BroadcastMismatch(da, db, i);
            shape[i] = da == 1 ? db : da;
        }
        return rank;
    }

    /// <summary>Strides of <paramref name="r"/> viewed at the broadcast shape: 0 along dims it repeats.</summary>
    public static Dims ExpandedStrides(in TensorRecord r, in Dims shape, int rank)
    {
        Dims strides = default;
        int lead = rank - r.Rank;
        for (int i = lead; i < rank; i++)
            strides[i] = r.Shape[i - lead] == 1 ? 0 : r.Strides[i - lead];
        return strides;
    }

    public static bool SameShape(in TensorRecord a, in TensorRecord b)
    {
        if (a.Rank != b.Rank) return false;
        for (int i = 0; i < a.Rank; i++) if (a.Shape[i] != b.Shape[i]) return false;
        return true;
    }

    public static bool SameShape(in TensorRecord a, ReadOnlySpan<int> shape)
    {
        if (a.Rank != shape.Length) return false;
        for (int i = 0; i < shape.Length; i++) if (a.Shape[i] != shape[i]) return false;
        return true;
    }

    /// <summary>
    /// Sums a contiguous gradient back to <paramref name="target"/>'s shape (which must broadcast to
    /// the gradient's): the engine's one place for undoing broadcasting. Returns a new temporary.
    /// </summary>
    public static int SumToShape(TensorContext c, int grad, in Dims target, int targetRank, bool temporary = true)
    {
        DType dtype = c.Records[grad].DType;
        // A target with more dimensions than the gradient has leading 1s there (an index-assigned value
        // of shape [1, 1, 3] into a row): sum to the rest, then give the result the whole shape.
        int lead = Math.Max(targetRank - c.Records[grad].Rank, 0);
        ReadOnlySpan<int> shape = ((ReadOnlySpan<int>)target)[..targetRank];
        int result = c.NewTensor(dtype, shape[lead..], zero: true, temporary);
        switch (dtype)
        {
            case DType.Float32: SumToShape<float>(c, grad, result); break;
            case DType.Float64: SumToShape<double>(c, grad, result); break;
            case DType.Int64: SumToShape<long>(c, grad, result); break;
            default: ThrowHelper.BoolArithmetic("sum"); break;
        }
        if (lead > 0) c.ReshapeContiguous(result, shape);
        return result;
    }

    /// <summary>
    /// Whether a gradient of shape <paramref name="big"/> sums back to <paramref name="small"/>:
    /// <paramref name="small"/> broadcasts to it, once leading size-1 dimensions beyond its rank are set aside.
    /// </summary>
    public static bool SumsTo(in TensorRecord small, in TensorRecord big)
    {
        int lead = 0;
        while (small.Rank - lead > big.Rank && small.Shape[lead] == 1) lead++;
        int rank = small.Rank - lead;
        if (rank > big.Rank) return false;
        for (int i = 0, offset = big.Rank - rank; i < rank; i++)
        {
            int d = small.Shape[lead + i];
            if (d != 1 && d != big.Shape[offset + i]) return false;
        }
        return true;
    }

    private static void SumToShape<T>(TensorContext c, int grad, int result) where T : unmanaged, INumber<T>
    {
        ref TensorRecord g = ref c.Records[grad];
        ref TensorRecord r = ref c.Records[result];
        int rank = g.Rank;
        Dims into = ExpandedStrides(r, g.Shape, rank);
        var (rows, length) = RowWalker.Extent(g.Shape, rank);
        T* src = c.Pointer<T>(grad);
        T* dst = c.Pointer<T>(result);
        bool innerKept = rank > 0 && into[rank - 1] == 1;
        var walk = new RowWalker(g.Shape, rank, into, default, default);
        for (int row = 0; row < rows; row++, walk.Next())
        {
            T* gRow = src + (nint)row * length;
            T* d = dst + walk.Offset0;
            if (innerKept) Elementwise.Binary<T, AddOperator>(d, gRow, d, length);
            else *d += Reductions.Sum(gRow, length);
        }
    }
}
