using System.Runtime.CompilerServices;
using AutogradFast.Simd;
using AutogradFast.Storage;

namespace AutogradFast.Ops;

/// <summary>What forward ops and backward rules share: result allocation and elementwise maps.</summary>
internal static class OpSupport
{
    public static TensorContext ContextOf(Tensor a, Tensor b)
    {
        TensorContext c = a.Ctx;
        // b in the context a's check entered needs only its generation checked; anything else takes b's full check.
        if (!b.IsLiveIn(c) && b.Ctx != c) ThrowHelper.ForeignTensor<int>();
        return c;
    }

    /// <summary>The dtype of <c>tensor op scalar</c>: PyTorch's wrapped-number rule (an int tensor with a float scalar gives float32).</summary>
    public static DType WithScalar(DType tensor, bool scalarIsIntegral)
        => tensor.IsFloatingPoint() ? tensor : scalarIsIntegral ? DType.Int64 : DType.Float32;

    /// <summary>Transcendental results are floating point even for integer inputs.</summary>
    public static DType FloatingResult(DType dtype) => dtype.IsFloatingPoint() ? dtype : DType.Float32;

    /// <summary>A new tensor in the current scope, shaped like <paramref name="like"/>, holding op(x, y, z).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // on every elementwise op's hot path (README, "Inlining")
    public static int Map<TOp>(TensorContext c, int like, DType dtype, Operand x, Operand y = default, Operand z = default)
        where TOp : struct, IElementwiseOperator
        => MapInto<TOp>(c, like, dtype, temporary: false, x, y, z);

    /// <summary>An engine temporary shaped and typed like <paramref name="like"/> (a gradient), holding op(x, y, z).</summary>
    public static int GradMap<TOp>(TensorContext c, int like, Operand x, Operand y = default, Operand z = default)
        where TOp : struct, IElementwiseOperator
        => MapInto<TOp>(c, like, c.Records[like].DType, temporary: true, x, y, z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MapInto<TOp>(TensorContext c, int like, DType dtype, bool temporary, Operand x, Operand y, Operand z)
        where TOp : struct, IElementwiseOperator
    {
        ref TensorRecord r = ref c.Records[like];
        return Elementwise<TOp>(c, dtype, r.Shape.AsSpan(r.Rank), temporary, x, y, z);
    }

    /// <summary>
    /// A new tensor holding op(x, y, z): deferred for fusion when it is large (<see cref="Fusion"/>),
    /// computed now otherwise. Every elementwise op and gradient rule produces its result here.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Elementwise<TOp>(TensorContext c, DType dtype, ReadOnlySpan<int> shape, bool temporary, Operand x, Operand y, Operand z)
        where TOp : struct, IElementwiseOperator
    {
        if (Dims.NumEl(shape) >= c.FusionMinElements && dtype.IsFloatingPoint())
        {
            int pending = Fusion.TryDefer(c, Fusion.ElementwiseKernelFor<TOp>(dtype), 0, 0, dtype, shape, temporary, x, y, z);
            if (pending >= 0) return pending;
        }
        int result = c.NewTensor(dtype, shape, zero: false, temporary);
        Executor.Run<TOp>(c, x, y, z, result);
        return result;
    }

    /// <summary>
    /// op(x, y, z) written into <paramref name="reusable"/> when it is given (a gradient its rule may
    /// overwrite, <see cref="Graph.Backward.LastGrad"/>) and has the result's dtype and shape; else a
    /// new tensor, as <see cref="Elementwise{TOp}"/>. The kernels read and write each element at one
    /// index, so the operand being overwritten is read before its element is written.
    /// </summary>
    public static int ElementwiseReusing<TOp>(TensorContext c, int reusable, DType dtype, ReadOnlySpan<int> shape, Operand x, Operand y, Operand z)
        where TOp : struct, IElementwiseOperator
    {
        if (reusable >= 0 && c.Records[reusable].DType == dtype && Broadcasting.SameShape(c.Records[reusable], shape))
            return OverwriteWith<TOp>(c, reusable, x, y, z);
        return Elementwise<TOp>(c, dtype, shape, temporary: false, x, y, z);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int OverwriteWith<TOp>(TensorContext c, int reusable, Operand x, Operand y, Operand z) where TOp : struct, IElementwiseOperator
    {
        Executor.Run<TOp>(c, x, y, z, reusable);
        c.GradientsOverwritten++;
        return reusable;
    }

    /// <summary><see cref="Map{TOp}"/> through <see cref="ElementwiseReusing{TOp}"/>, out of line: the rules that inline a scalar op stay small.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int MapReusing<TOp>(TensorContext c, int reusable, int like, DType dtype, Operand x, Operand y = default, Operand z = default)
        where TOp : struct, IElementwiseOperator
    {
        ref TensorRecord r = ref c.Records[like];
        if (reusable == like && r.DType == dtype) return OverwriteWith<TOp>(c, reusable, x, y, z); // grad * s: shaped like the gradient itself
        return ElementwiseReusing<TOp>(c, reusable, dtype, r.Shape.AsSpan(r.Rank), x, y, z);
    }

    /// <summary>A contiguous engine-temporary copy of a gradient (dense memory is copied as bytes; anything else through the executor).</summary>
    public static unsafe int CopyOf(TensorContext c, int grad)
    {
        ref TensorRecord r = ref c.Records[grad];
        if (r.IsPending || !r.IsContiguous) return GradMap<CopyOperator>(c, grad, Operand.Of(grad));
        int copy = c.NewTensor(r.DType, r.Shape.AsSpan(r.Rank), zero: false, temporary: true);
        long bytes = (long)r.NumEl * r.DType.ElementSize();
        Buffer.MemoryCopy(c.BytePointer(grad), c.BytePointer(copy), bytes, bytes);
        return copy;
    }

    /// <summary>
    /// The slot to hold as a <c>.Grad</c> for user tensor <paramref name="slot"/>: itself (a .Grad
    /// aliases the assigned tensor, as in PyTorch), or a copy the holders own when it could not
    /// outlive its scope: a view of tiny data, whose elements live in its base's record.
    /// </summary>
    public static int HoldableAsGrad(TensorContext c, int slot)
    {
        ref TensorRecord r = ref c.Records[slot];
        if (!r.IsInline || r.InlineOwner == slot) return slot;
        int copy = CopyOf(c, slot);
        c.Records[copy].ScopeDepth = TensorRecord.OwnedByLeaves;
        return copy;
    }

    /// <summary>Replaces an engine temporary (a broadcast or strided gradient) by a dense copy, releasing it.</summary>
    public static int WriteOut(TensorContext c, int grad)
    {
        int dense = CopyOf(c, grad);
        c.ReleaseTemporary(grad);
        return dense;
    }
}
