using System.Runtime.CompilerServices;
using AutogradFast.Graph;
using AutogradFast.Simd;
using AutogradFast.Storage;

namespace AutogradFast.Ops;

/// <summary>
/// A tensor inside the library: a slot of a context whose handle was already checked. Backward rules
/// are written with it (<c>b.Grad * b.Other</c>), and its ops are the very ops behind the public
/// <see cref="Tensor"/> API, so they record when grad mode is on: that is how the same rule computes
/// a gradient in a plain backward and builds the graph of a gradient under createGraph.
/// </summary>
internal readonly struct Var
{
    public readonly TensorContext C;
    public readonly int Slot;

    /// <summary>
    /// Only on a rule's <see cref="Backward.LastGrad"/>: the elementwise ops that can (scalar mul and
    /// div, the fused backward kernels) write their result into this tensor instead of a new one.
    /// </summary>
    private readonly bool _overwritable;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Var(TensorContext c, int slot)
    {
        C = c;
        Slot = slot;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Var(TensorContext c, int slot, bool overwritable)
    {
        C = c;
        Slot = slot;
        _overwritable = overwritable;
    }

    /// <summary>The slot an op may write its same-shaped, same-dtype result into, or -1.</summary>
    private int Reusable => _overwritable ? Slot : -1;

    public ref TensorRecord Record
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref C.Records[Slot];
    }

    public DType DType => Record.DType;

    public int Rank => Record.Rank;

    public int NumEl => Record.NumEl;

    /// <summary>The shape (a copy: records may be reused while a rule runs).</summary>
    public Dims Shape => Record.Shape;

    public Tensor ToTensor() => new(C, Slot);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Var Make(int slot) => new(C, slot);

    // ---- arithmetic ----
    public static Var operator +(Var a, Var b) => a.Make(Arithmetic.Binary<AddOperator>(a.C, a.Slot, b.Slot, OpKind.Add));
    public static Var operator -(Var a, Var b) => a.Make(Arithmetic.Binary<SubtractOperator>(a.C, a.Slot, b.Slot, OpKind.Sub));
    public static Var operator *(Var a, Var b) => a.Make(a._overwritable
        ? Arithmetic.BinaryReusing<MultiplyOperator>(a.C, a.Slot, b.Slot, OpKind.Mul, a.Slot)
        : Arithmetic.Binary<MultiplyOperator>(a.C, a.Slot, b.Slot, OpKind.Mul));
    public static Var operator /(Var a, Var b) => a.Make(Arithmetic.Binary<DivideOperator>(a.C, a.Slot, b.Slot, OpKind.Div));
    public static Var operator +(Var a, double s) => a.Make(Arithmetic.Scalar<AddOperator>(a.C, a.Slot, s, false, OpKind.AddScalar));
    public static Var operator -(Var a, double s) => a.Make(Arithmetic.Scalar<SubtractOperator>(a.C, a.Slot, s, false, OpKind.SubScalar));
    public static Var operator -(double s, Var a) => a.Make(Arithmetic.Scalar<SubtractOperator>(a.C, a.Slot, s, false, OpKind.RsubScalar));
    public static Var operator *(Var a, double s) => a.Make(Arithmetic.Scalar<MultiplyOperator>(a.C, a.Slot, s, false, OpKind.MulScalar, a.Reusable));
    public static Var operator /(Var a, double s) => a.Make(Arithmetic.Scalar<DivideOperator>(a.C, a.Slot, s, false, OpKind.DivScalar, a.Reusable));
    public static Var operator -(Var a) => a.Make(Arithmetic.Neg(a.C, a.Slot));

    /// <summary><c>a * (k * b)</c> in one kernel.</summary>
    public static Var ScaledMul(Var a, Var b, double k) => a.Make(Arithmetic.ScaledMul(a.C, a.Slot, b.Slot, k));

    /// <summary><c>grad * x + grad * x</c> (x * x's and x.dot(x)'s gradient) as <c>grad * (2 * x)</c>: the same bits, one kernel.</summary>
    public static Var DoubledProduct(Var grad, Var x) => grad.Make(Arithmetic.ScaledMul(grad.C, grad.Slot, x.Slot, 2, OpKind.DoubledProduct, grad.Reusable));

    // ---- elementwise functions and their fused backward kernels ----
    public Var Pow(double p) => Make(Exponential.Pow(C, Slot, p));
    public Var Log() => Make(Exponential.Transcendental(C, Slot, OpKind.Log));

    /// <summary><c>grad * (p * self^(p-1))</c> as one kernel (pow's rule).</summary>
    public static Var PowBackward(Var grad, Var self, double p) => grad.Make(Exponential.PowBackward(grad.C, grad.Slot, self.Slot, p, grad.Reusable));
    public static Var TanhBackward(Var grad, Var result) => grad.Make(Exponential.FusedBackward(grad.C, grad.Slot, result.Slot, OpKind.TanhBackward, grad.Reusable));
    public static Var SigmoidBackward(Var grad, Var result) => grad.Make(Exponential.FusedBackward(grad.C, grad.Slot, result.Slot, OpKind.SigmoidBackward, grad.Reusable));
    public static Var ThresholdBackward(Var grad, Var result) => grad.Make(Exponential.FusedBackward(grad.C, grad.Slot, result.Slot, OpKind.ThresholdBackward, grad.Reusable));

    // ---- reductions ----
    public Var Sum() => Make(Reduction.Sum(C, Slot, OpKind.Sum));
    public Var Mean() => Make(Reduction.Sum(C, Slot, OpKind.Mean));

    /// <summary>Sums over the dimensions that <paramref name="shape"/> broadcasts (PyTorch's sum_to_size).</summary>
    public Var SumToSize(in Dims shape, int rank) => Make(Reduction.SumToSize(C, Slot, shape, rank));

    // ---- products ----
    public static Var Dot(Var a, Var b) => a.Make(Products.Dot(a.C, a.Slot, b.Slot));
    public static Var Mm(Var a, Var b) => a.Make(Products.Mm(a.C, a.Slot, b.Slot));
    public static Var Mv(Var a, Var v) => a.Make(Products.Mv(a.C, a.Slot, v.Slot));

    /// <summary><c>a.mm(b.t())</c>: unrecorded, b is read transposed in place (no view made).</summary>
    public static Var MmT(Var a, Var b) => a.Make(Products.MmTransposed(a.C, a.Slot, false, b.Slot, true));

    /// <summary><c>a.t().mm(b)</c>: unrecorded, a is read transposed in place (no view made).</summary>
    public static Var TMm(Var a, Var b) => a.Make(Products.MmTransposed(a.C, a.Slot, true, b.Slot, false));

    /// <summary><c>a.t().mv(v)</c>: unrecorded, a is read transposed in place (no view made).</summary>
    public static Var TMv(Var a, Var v) => a.Make(Products.MvTransposed(a.C, a.Slot, v.Slot));

    // ---- views ----
    public Var T() => Make(Views.T(C, Slot));
    public Var Transpose(int dim0, int dim1) => Make(Views.Transpose(C, Slot, dim0, dim1, OpKind.Transpose));
    public Var Unsqueeze(int dim) => Make(Views.Unsqueeze(C, Slot, dim));
    public Var Squeeze(int dim) => Make(Views.Squeeze(C, Slot, dim));
    public Var Expand(in Dims shape, int rank) => Make(Views.Expand(C, Slot, shape.AsSpan(rank)));

    // ---- parts of a tensor (select, slice and index assignment gradients) ----
    public static Var RegionScatter(Var part, in Dims shape, int rank, in ViewGeometry where, OpKind kind = OpKind.RegionScatter)
        => part.Make(Regions.Scatter(part.C, part.Slot, shape, rank, where, kind));
    public static Var RegionOf(Var whole, in ViewGeometry where) => whole.Make(Regions.Of(whole.C, whole.Slot, where));
    public static Var RegionZeroed(Var whole, in ViewGeometry where) => whole.Make(Regions.Zeroed(whole.C, whole.Slot, where));

    // ---- copies and selection ----
    public Var To(DType dtype) => Make(Copies.To(C, Slot, dtype));

    /// <summary><c>this.copy_(source)</c>, recorded as CopyBackwards when source requires grad; returns this.</summary>
    public Var Copy_(Var source)
    {
        InPlace.Copy(C, Slot, source.Slot);
        return this;
    }

    /// <summary><c>clone()</c>: a contiguous copy, recorded as CloneBackward0.</summary>
    public Var Clone() => Make(Copies.Clone(C, Slot));

    /// <summary>Zeros shaped and typed like this tensor (a constant: no history).</summary>
    public Var ZerosLike()
    {
        ref TensorRecord r = ref Record;
        return Make(C.NewTensor(r.DType, r.Shape.AsSpan(r.Rank), zero: true));
    }

    public static Var Where(Var condition, Var a, Var b) => a.Make(Selection.Where(a.C, condition.Slot, a.Slot, b.Slot));

    public Var EqualTo(double value) => Make(Comparisons.Compare(C, Operand.Of(Slot), Operand.Of(value), Comparison.Equal));

    /// <summary>A 0-d tensor of this one's dtype holding <paramref name="value"/> (a constant: no history).</summary>
    public Var Constant(double value)
    {
        int slot = C.NewTensor(DType, [], zero: false);
        Fill.Scalar(C, slot, value);
        return Make(slot);
    }
}
