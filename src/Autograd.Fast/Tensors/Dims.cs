using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AutogradFast;

/// <summary>Inline storage for a shape or a stride list, so tensor records hold no arrays.</summary>
[InlineArray(MaxRank)]
internal struct Dims
{
    public const int MaxRank = 8;
    private int _element0;

    /// <summary>The first <paramref name="rank"/> entries.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<int> AsSpan(int rank) => MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AsRef(in _element0), rank);

    public static Dims From(ReadOnlySpan<int> values)
    {
        if (values.Length > MaxRank) ThrowHelper.RankTooLarge(values.Length);
        Dims d = default;
        values.CopyTo(d);
        return d;
    }

    /// <summary>Row-major (C order) strides for <paramref name="shape"/>.</summary>
    public static Dims ContiguousStrides(ReadOnlySpan<int> shape)
    {
        Dims strides = default;
        int stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= shape[i];
        }
        return strides;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NumEl(ReadOnlySpan<int> shape) => shape.Length == 0 ? 1 : NumElOfDims(shape);

    private static int NumElOfDims(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) ThrowHelper.NegativeDimension(d);
            n *= d;
            if (n > int.MaxValue) ThrowHelper.TensorTooLarge(shape);
        }
        return (int)n;
    }

    /// <summary>PyTorch's size text: <c>[2, 1]</c>.</summary>
    public static string Format(ReadOnlySpan<int> shape)
    {
        var sb = new System.Text.StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i]);
        }
        return sb.Append(']').ToString();
    }
}
