using System.Runtime.CompilerServices;
using AutogradFast.Graph;
using AutogradFast.Simd;
using AutogradFast.Storage;
using AutogradFast.Ops;
using static AutogradFast.Ops.OpSupport;

namespace AutogradFast
{
// + - * / and unary minus, tensor-tensor (broadcasting) and with a scalar on either side.
public readonly partial struct Tensor
{
    public static Tensor operator +(Tensor a, Tensor b) => Arithmetic.Binary<AddOperator>(a, b, OpKind.Add);
    public static Tensor operator -(Tensor a, Tensor b) => Arithmetic.Binary<SubtractOperator>(a, b, OpKind.Sub);
    public static Tensor operator *(Tensor a, Tensor b) => Arithmetic.Binary<MultiplyOperator>(a, b, OpKind.Mul);
    public static Tensor operator /(Tensor a, Tensor b) => Arithmetic.Binary<DivideOperator>(a, b, OpKind.Div);

    public static Tensor operator +(Tensor a, double s) => Arithmetic.Scalar<AddOperator>(a, s, false, OpKind.AddScalar);
    public static Tensor operator +(Tensor a, long s) => Arithmetic.Scalar<AddOperator>(a, s, true, OpKind.AddScalar);
    public static Tensor operator +(double s, Tensor a) => Arithmetic.Scalar<AddOperator>(a, s, false, OpKind.AddScalar);
    public static Tensor operator +(long s, Tensor a) => Arithmetic.Scalar<AddOperator>(a, s, true, OpKind.AddScalar);

    public static Tensor operator -(Tensor a, double s) => Arithmetic.Scalar<SubtractOperator>(a, s, false, OpKind.SubScalar);
    public static Tensor operator -(Tensor a, long s) => Arithmetic.Scalar<SubtractOperator>(a, s, true, OpKind.SubScalar);
    public static Tensor operator -(double s, Tensor a) => Arithmetic.Scalar<SubtractOperator>(a, s, false, OpKind.RsubScalar);
    public static Tensor operator -(long s, Tensor a) => Arithmetic.Scalar<SubtractOperator>(a, s, true, OpKind.RsubScalar);

    public static Tensor operator *(Tensor a, double s) => Arithmetic.Scalar<MultiplyOperator>(a, s, false, OpKind.MulScalar);
    public static Tensor operator *(Tensor a, long s) => Arithmetic.Scalar<MultiplyOperator>(a, s, true, OpKind.MulScalar);
    public static Tensor operator *(double s, Tensor a) => Arithmetic.Scalar<MultiplyOperator>(a, s, false, OpKind.MulScalar);
    public static Tensor operator *(long s, Tensor a) => Arithmetic.Scalar<MultiplyOperator>(a, s, true, OpKind.MulScalar);

    public static Tensor operator /(Tensor a, double s) => Arithmetic.Scalar<DivideOperator>(a, s, false, OpKind.DivScalar);
    public static Tensor operator /(Tensor a, long s) => Arithmetic.Scalar<DivideOperator>(a, s, false, OpKind.DivScalar); // true division

    /// <summary><c>s / x</c> is <c>x.reciprocal() * s</c>, as in PyTorch (grad_fn MulBackward0).</summary>
    public static Tensor operator /(double s, Tensor a) => a.Reciprocal() * s;
    public static Tensor operator /(long s, Tensor a) => a.Reciprocal() * (double)s;

    public static Tensor operator -(Tensor a) => a.Neg();

    public Tensor Add(Tensor other) => this + other;

    /// <summary><c>torch.add(self, other, alpha=alpha)</c>: self + alpha * other.</summary>
    public Tensor Add(Tensor other, double alpha)
    {
        if (alpha == 1) return this + other;
        TensorContext c = ContextOf(this, other);
        return new Tensor(c, Arithmetic.AddAlpha(c, Slot, other.Slot, alpha));
    }
    public Tensor Sub(Tensor other) => this - other;
    public Tensor Mul(Tensor other) => this * other;
    public Tensor Div(Tensor other) => this / other;

    /// <summary><c>-x</c></summary>
    public Tensor Neg()
    {
        TensorContext c = Ctx;
        return new Tensor(c, Arithmetic.Neg(c, Slot));
    }

    /// <summary><c>1 / x</c></summary>
    public Tensor Reciprocal()
    {
        TensorContext c = Ctx;
        return new Tensor(c, Arithmetic.Reciprocal(c, Slot));
    }
}
}

namespace AutogradFast.Ops
{
    internal static unsafe class Arithmetic
    {
        [MethodImpl(MethodImplOptions.NoInlining)] // an entry point: a root of its own (README, "Inlining")
        public static Tensor Binary<TOp>(Tensor a, Tensor b, OpKind kind) where TOp : struct, IElementwiseOperator
        {
            TensorContext c = ContextOf(a, b);
            return new Tensor(c, Binary<TOp>(c, a.Slot, b.Slot, kind));
        }

        [MethodImpl(MethodImplOptions.NoInlining)] // an entry point: a root of its own (README, "Inlining")
        public static Tensor Scalar<TOp>(Tensor a, double s, bool scalarIsIntegral, OpKind kind) where TOp : struct, IElementwiseOperator
        {
            TensorContext c = a.Ctx;
            return new Tensor(c, Scalar<TOp>(c, a.Slot, s, scalarIsIntegral, kind));
        }

        public static int Binary<TOp>(TensorContext c, int a, int b, OpKind kind) where TOp : struct, IElementwiseOperator
            => Binary<TOp>(c, a, b, kind, reusable: -1);

        /// <summary><see cref="Binary{TOp}(TensorContext, int, int, OpKind)"/> with its result written into <paramref name="reusable"/> where it fits (a rule's <see cref="Graph.Backward.LastGrad"/>).</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int BinaryReusing<TOp>(TensorContext c, int a, int b, OpKind kind, int reusable) where TOp : struct, IElementwiseOperator
            => Binary<TOp>(c, a, b, kind, reusable);

        [MethodImpl(MethodImplOptions.AggressiveInlining)] // one body for both: the public ops' -1 folds away
        private static int Binary<TOp>(TensorContext c, int a, int b, OpKind kind, int reusable) where TOp : struct, IElementwiseOperator
        {
            ref TensorRecord ra = ref c.Records[a];
            ref TensorRecord rb = ref c.Records[b];
            DType dtype = PromoteOperands(ra, rb);
            if (kind == OpKind.Div) dtype = FloatingResult(dtype); // true division
            if (dtype == DType.Bool) ThrowHelper.BoolArithmetic(OpRows.Symbol(kind));
            int rank = Broadcasting.BroadcastShape(ra, rb, out Dims shape);
            int result = reusable >= 0
                ? ElementwiseReusing<TOp>(c, reusable, dtype, shape.AsSpan(rank), Operand.Of(a), Operand.Of(b), Operand.None)
                : Elementwise<TOp>(c, dtype, shape.AsSpan(rank), temporary: false, Operand.Of(a), Operand.Of(b), Operand.None);
            if (Recorder.ShouldRecord(c, a, b)) Recorder.Record(c, kind, result, a, b);
            return result;
        }

        /// <summary><c>a + alpha * b</c> in one kernel (<c>b * alpha + a</c>, PyTorch's order), recorded as AddBackward0 with its alpha.</summary>
        public static int AddAlpha(TensorContext c, int a, int b, double alpha)
        {
            ref TensorRecord ra = ref c.Records[a];
            ref TensorRecord rb = ref c.Records[b];
            DType dtype = PromoteOperands(ra, rb);
            if (dtype == DType.Bool) ThrowHelper.BoolArithmetic(OpRows.Symbol(OpKind.AddAlpha));
            int rank = Broadcasting.BroadcastShape(ra, rb, out Dims shape);
            int result = Elementwise<MultiplyAddOperator>(c, dtype, shape.AsSpan(rank), temporary: false, Operand.Of(b), Operand.Of(alpha), Operand.Of(a));
            if (Recorder.ShouldRecord(c, a, b)) Recorder.Record(c, OpKind.AddAlpha, result, a, b, scalar: alpha);
            return result;
        }

        /// <summary>
        /// PyTorch's result_type for two tensors: a 0-d tensor decides the dtype only when its category
        /// (bool &lt; integer &lt; floating) is above the other tensor's, so float32 (2,3) * float64 () is float32.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // one compare in the common case, equal dtypes
        public static DType PromoteOperands(in TensorRecord a, in TensorRecord b)
            => a.DType == b.DType ? a.DType : PromoteMixedOperands(a, b);

        private static DType PromoteMixedOperands(in TensorRecord a, in TensorRecord b)
        {
            if ((a.Rank == 0) == (b.Rank == 0)) return DTypeInfo.Promote(a.DType, b.DType);
            (DType dimensioned, DType zeroDim) = a.Rank == 0 ? (b.DType, a.DType) : (a.DType, b.DType);
            return Category(zeroDim) > Category(dimensioned) ? zeroDim : dimensioned;
        }

        private static int Category(DType dtype) => dtype switch { DType.Bool => 0, DType.Int64 => 1, _ => 2 };

        /// <summary>A scalar op of a kind known only at run time (an in-place op's recorded kind).</summary>
        public static int Scalar(TensorContext c, int a, double s, bool scalarIsIntegral, OpKind kind) => kind switch
        {
            OpKind.AddScalar => Scalar<AddOperator>(c, a, s, scalarIsIntegral, kind),
            OpKind.SubScalar or OpKind.RsubScalar => Scalar<SubtractOperator>(c, a, s, scalarIsIntegral, kind),
            OpKind.MulScalar => Scalar<MultiplyOperator>(c, a, s, scalarIsIntegral, kind),
            OpKind.DivScalar => Scalar<DivideOperator>(c, a, s, scalarIsIntegral, kind),
            _ => ThrowHelper.NotAnOpOf<int>(kind, "Scalar"),
        };

        /// <summary>
        /// <c>a op s</c> (<c>s - a</c> for rsub), the operator given with its kind: one kernel instantiation
        /// per call site, so a rule that calls it (<c>b.Grad * b.Scalar</c>) stays small enough to inline.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // into its Tensor and Var operators: one call level less per op
        public static int Scalar<TOp>(TensorContext c, int a, double s, bool scalarIsIntegral, OpKind kind, int reusable = -1) where TOp : struct, IElementwiseOperator
        {
            DType dtype = c.Records[a].DType;
            if (!dtype.IsFloatingPoint())
            {
                dtype = WithScalar(dtype, scalarIsIntegral);
                if (kind == OpKind.DivScalar) dtype = FloatingResult(dtype);
                if (dtype == DType.Bool) ThrowHelper.BoolArithmetic(OpRows.Symbol(kind));
            }
            Operand x = Operand.Of(a), k = Operand.Of(s);
            bool reversed = kind == OpKind.RsubScalar;
            // A reusable gradient (a rule's last read of it, see Backward.LastGrad) takes the result out
            // of line; every other call passes -1, a constant the inlined branch folds away.
            int result = reusable >= 0
                ? MapReusing<TOp>(c, reusable, a, dtype, reversed ? k : x, reversed ? x : k)
                : Map<TOp>(c, a, dtype, reversed ? k : x, reversed ? x : k);
            if (Recorder.ShouldRecord(c, a)) Recorder.Record(c, kind, result, a, scalar: s);
            return result;
        }

        public static int Neg(TensorContext c, int a)
        {
            DType dtype = c.Records[a].DType;
            if (dtype == DType.Bool) ThrowHelper.BoolArithmetic(OpRows.Symbol(OpKind.Neg));
            int result = Map<NegateOperator>(c, a, dtype, Operand.Of(a));
            if (Recorder.ShouldRecord(c, a)) Recorder.Record(c, OpKind.Neg, result, a);
            return result;
        }

        public static int Reciprocal(TensorContext c, int a)
        {
            int result = Map<DivideOperator>(c, a, FloatingResult(c.Records[a].DType), Operand.Of(1.0), Operand.Of(a));
            if (Recorder.ShouldRecord(c, a)) Recorder.Record(c, OpKind.Reciprocal, result, a);
            return result;
        }

        /// <summary>
        /// <c>a * (k * b)</c> in one kernel (a gradient times a constant multiple of a saved value: pow 2's
        /// and x * x's rules). Differentiable in turn: its row is <see cref="ScaledMulBackward"/>.
        /// </summary>
        public static int ScaledMul(TensorContext c, int a, int b, double k, OpKind kind = OpKind.ScaledMul, int reusable = -1)
        {
            ref TensorRecord ra = ref c.Records[a];
            int rank = Broadcasting.BroadcastShape(ra, c.Records[b], out Dims shape);
            int result = ElementwiseReusing<GradTimesScaledOperator>(c, reusable, PromoteOperands(ra, c.Records[b]), shape.AsSpan(rank), Operand.Of(a), Operand.Of(b), Operand.Of(k));
            if (Recorder.ShouldRecord(c, a, b)) Recorder.Record(c, kind, result, a, b, scalar: k);
            return result;
        }

        // ---- rows: name, saves, backward rule (derivatives.yaml's line as a comment) ----

        internal static readonly OpRow AddRow = new("AddBackward0", Saves.None, &AddBackward);
        internal static readonly OpRow AddScalarRow = new("AddBackward0", Saves.None, &PassBackward);
        internal static readonly OpRow AddAlphaRow = new("AddBackward0", Saves.None, &AddAlphaBackward);
        internal static readonly OpRow SubRow = new("SubBackward0", Saves.None, &SubBackward);
        internal static readonly OpRow SubScalarRow = new("SubBackward0", Saves.None, &PassBackward);
        internal static readonly OpRow RsubScalarRow = new("RsubBackward1", Saves.None, &NegBackward);
        internal static readonly OpRow MulRow = new("MulBackward0", Saves.SelfForOther | Saves.OtherForSelf, &MulBackward);
        internal static readonly OpRow MulScalarRow = new("MulBackward0", Saves.Scalars, &MulScalarBackward);
        internal static readonly OpRow DivRow = new("DivBackward0", Saves.Other | Saves.SelfForOther, &DivBackward);
        internal static readonly OpRow DivScalarRow = new("DivBackward0", Saves.Scalars, &DivScalarBackward);
        internal static readonly OpRow NegRow = new("NegBackward0", Saves.None, &NegBackward);
        internal static readonly OpRow ReciprocalRow = new("ReciprocalBackward0", Saves.Result, &ReciprocalBackward);
        internal static readonly OpRow ScaledMulRow = new("MulBackward0", Saves.SelfForOther | Saves.OtherForSelf, &ScaledMulBackward);
        // x * x's gradient, which PyTorch computes as grad*x + grad*x (AddBackward0)
        internal static readonly OpRow DoubledProductRow = new("AddBackward0", Saves.SelfForOther | Saves.OtherForSelf, &ScaledMulBackward);

        // add: self: grad; other: grad    (the engine sums each back to its input's shape)
        private static void AddBackward(ref Backward b)
        {
            b.Out(0, b.Grad);
            b.Out(1, b.Grad);
        }

        // add with alpha: self: grad; other: maybe_multiply(grad, alpha)
        private static void AddAlphaBackward(ref Backward b)
        {
            b.Out(0, b.Grad);
            if (b.Needs(1)) b.Out(1, b.Grad * b.Scalar); // not LastGrad: input 0 holds grad itself
        }

        // add/sub with a scalar: self: grad
        private static void PassBackward(ref Backward b) => b.Out(0, b.Grad);

        // sub: self: grad; other: -grad
        private static void SubBackward(ref Backward b)
        {
            b.Out(0, b.Grad);
            if (b.Needs(1)) b.Out(1, -b.Grad);
        }

        // neg, rsub: self: -grad
        private static void NegBackward(ref Backward b) => b.Out(0, -b.Grad);

        // mul: self: grad * other; other: grad * self
        private static void MulBackward(ref Backward b)
        {
            if (b.InputsAreOneTensor)
            {
                // x * x: both gradients reach one tensor; grad * (2 * x) equals grad*x + grad*x bit for bit.
                b.Out(0, Var.DoubledProduct(b.LastGrad, b.Self));
                return;
            }
            if (b.Needs(0)) b.Out(0, (b.Needs(1) ? b.Grad : b.LastGrad) * b.Other);
            if (b.Needs(1)) b.Out(1, b.LastGrad * b.Self);
        }

        // mul by a scalar: self: grad * other
        private static void MulScalarBackward(ref Backward b) => b.Out(0, b.LastGrad * b.Scalar);

        // div: self: grad / other; other: div_tensor_other_backward = -grad * ((self / other) / other)
        private static void DivBackward(ref Backward b)
        {
            if (b.Needs(0)) b.Out(0, b.Grad / b.Other);
            if (b.Needs(1)) b.Out(1, -b.Grad * (b.Self / b.Other / b.Other));
        }

        // div by a scalar: self: grad / other
        private static void DivScalarBackward(ref Backward b) => b.Out(0, b.LastGrad / b.Scalar);

        // reciprocal: self: -grad * (result * result)
        private static void ReciprocalBackward(ref Backward b) => b.Out(0, -b.Grad * (b.Result * b.Result));

        // scaled mul, a * (k * b): a: grad * (k * b); b: a * (k * grad)
        private static void ScaledMulBackward(ref Backward b)
        {
            if (b.Needs(0)) b.Out(0, Var.ScaledMul(b.Grad, b.Other, b.Scalar));
            if (b.Needs(1)) b.Out(1, Var.ScaledMul(b.Self, b.Grad, b.Scalar));
        }
    }
}
