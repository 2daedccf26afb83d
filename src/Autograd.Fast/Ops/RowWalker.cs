namespace AutogradFast.Ops;

/// <summary>
/// Walks the rows (all dimensions but the last) of a shape, keeping the element offset of each
/// row in up to three operands with their own strides (0 where an operand is broadcast). Kernels
/// then run vectorised along the last dimension.
/// </summary>
internal struct RowWalker
{
    private readonly Dims _shape, _s0, _s1, _s2;
    private readonly int _outerRank;
    private Dims _index;
    public nint Offset0, Offset1, Offset2;

    public RowWalker(in Dims shape, int rank, in Dims strides0, in Dims strides1, in Dims strides2)
    {
        _shape = shape;
        _s0 = strides0;
        _s1 = strides1;
        _s2 = strides2;
        _outerRank = Math.Max(rank - 1, 0);
        _index = default;
        Offset0 = Offset1 = Offset2 = 0;
    }

    /// <summary>Number of rows and their length for a shape (a 0-d tensor is one row of one).</summary>
    public static (int Rows, int Length) Extent(in Dims shape, int rank)
    {
        if (rank == 0) return (1, 1);
        int length = shape[rank - 1];
        int rows = 1;
        for (int d = 0; d < rank - 1; d++) rows *= shape[d];
        return (length == 0 ? 0 : rows, length);
    }

    /// <summary>Advances to the next row (odometer order, last outer dimension fastest).</summary>
    public void Next()
    {
        for (int d = _outerRank - 1; d >= 0; d--)
        {
            Offset0 += _s0[d];
            Offset1 += _s1[d];
            Offset2 += _s2[d];
            if (++_index[d] < _shape[d]) return;
            Offset0 -= (nint)_s0[d] * _shape[d];
            Offset1 -= (nint)_s1[d] * _shape[d];
            Offset2 -= (nint)_s2[d] * _shape[d];
            _index[d] = 0;
        }
    }
}
