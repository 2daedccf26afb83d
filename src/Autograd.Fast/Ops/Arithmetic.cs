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

    public static Tensor operator +(Tensor a, double s) => Arithmetic.Scalar(a, s, false, OpKind.AddScalar);
    public static Tensor operator +(Tensor a, long s) => Arithmetic.Scalar(a, s, true, OpKind.AddScalar);
    public static Tensor operator +(double s, Tensor a) => Arithmetic.Scalar(a, s, false, OpKind.AddScalar);
    public static Tensor operator +(long s, Tensor a) => Arithmetic.Scalar(a, s, true, OpKind.AddScalar);

    public static Tensor operator -(Tensor a, double s) => Arithmetic.Scalar(a, s, false, OpKind.SubScalar);
    public static Tensor operator -(Tensor a, long s) => Arithmetic.Scalar(a, s, true, OpKind.SubScalar);
    public static Tensor operator -(double s, Tensor a) => Arithmetic.Scalar(a, s, false, OpKind.RsubScalar);
    public static Tensor operator -(long s, Tensor a) => Arithmetic.Scalar(a, s, true, OpKind.RsubScalar);

    public static Tensor operator *(Tensor a, double s) => Arithmetic.Scalar(a, s, false, OpKind.MulScalar);
    public static Tensor operator *(Tensor a, long s) => Arithmetic.Scalar(a, s, true, OpKind.MulScalar);
    public static Tensor operator *(double s, Tensor a) => Arithmetic.Scalar(a, s, false, OpKind.MulScalar);
    public static Tensor operator *(long s, Tensor a) => Arithmetic.Scalar(a, s, true, OpKind.MulScalar);

    public static Tensor operator /(Tensor a, double s) => Arithmetic.Scalar(a, s, false, OpKind.DivScalar);
    public static Tensor operator /(Tensor a, long s) => Arithmetic.Scalar(a, s, false, OpKind.DivScalar); // true division

    /// <summary><c>s / x</c> is <c>x.reciprocal() * s</c>, as in PyTorch (grad_fn MulBackward0).</summary>
    public static Tensor operator /(double s, Tensor a) => a.Reciprocal() * s;
    public static Tensor operator /(long s, Tensor a) => a.Reciprocal() * (double)s;

    public static Tensor operator -(Tensor a) => a.Neg();

    public Tensor Add(Tensor other) => this + other;
    public Tensor Sub(Tensor other) => this - other;
    public Tensor Mul(Tensor other) => this * other;
    public Tensor Div(Tensor other) => this / other;

    /// <summary><c>-x</c></summary>
    public Tensor Neg() => Arithmetic.Unary<NegateOperator>(this, OpKind.Neg, floatingResult: false);

    /// <summary><c>1 / x</c></summary>
    public Tensor Reciprocal() => Arithmetic.Reciprocal(this);
}
}

namespace AutogradFast.Ops
{
    internal static class Arithmetic
    {
        // add: grad_a = grad; grad_b = grad            (un-broadcast by the engine)
        // sub: grad_a = grad; grad_b = -grad
        // mul: grad_a = grad * b; grad_b = grad * a
        // div: grad_a = grad / b; grad_b = -grad * a / (b * b)
        public static Tensor Binary<TOp>(Tensor a, Tensor b, OpKind kind) where TOp : struct, IElementwiseOperator
        {
            TensorContext c = ContextOf(a, b);
            ref TensorRecord ra = ref c.Records[a.Slot];
            ref TensorRecord rb = ref c.Records[b.Slot];
            DType dtype = PromoteOperands(ra, rb);
            if (kind == OpKind.Div) dtype = FloatingResult(dtype); // true division
            if (dtype == DType.Bool) ThrowHelper.BoolArithmetic(OpNames.Symbol(kind));
            int rank = Broadcasting.BroadcastShape(ra, rb, out Dims shape);
            int result = Elementwise<TOp>(c, dtype, shape.AsSpan(rank), temporary: false, Operand.Of(a.Slot), Operand.Of(b.Slot), Operand.None);
            if (Recorder.ShouldRecord(c, a.Slot, b.Slot))
            {
                ref Node n = ref Recorder.Record(c, kind, result, a.Slot, b.Slot);
                if (kind is OpKind.Mul or OpKind.Div) Recorder.Save(c, ref n, a.Slot, b.Slot);
            }
            return new Tensor(c, result);
        }

        /// <summary>
        /// PyTorch's result_type for two tensors: a 0-d tensor decides the dtype only when its category
        /// (bool &lt; integer &lt; floating) is above the other tensor's, so float32 (2,3) * float64 () is float32.
        /// </summary>
        public static DType PromoteOperands(in TensorRecord a, in TensorRecord b)
        {
            if ((a.Rank == 0) == (b.Rank == 0)) return DTypeInfo.Promote(a.DType, b.DType);
            (DType dimensioned, DType zeroDim) = a.Rank == 0 ? (b.DType, a.DType) : (a.DType, b.DType);
            return Category(zeroDim) > Category(dimensioned) ? zeroDim : dimensioned;
        }

        private static int Category(DType dtype) => dtype switch { DType.Bool => 0, DType.Int64 => 1, _ => 2 };

        // add/sub scalar: grad_a = grad;  rsub (s - a): grad_a = -grad
        // mul scalar: grad_a = grad * s;  div scalar: grad_a = grad / s
        public static Tensor Scalar(Tensor a, double s, bool scalarIsIntegral, OpKind kind)
        {
            TensorContext c = a.Ctx;
            DType dtype = WithScalar(c.Records[a.Slot].DType, scalarIsIntegral);
            if (kind == OpKind.DivScalar) dtype = FloatingResult(dtype);
            if (dtype == DType.Bool) ThrowHelper.BoolArithmetic(OpNames.Symbol(kind));
            Operand x = Operand.Of(a.Slot), k = Operand.Of(s);
            int result = kind switch
            {
                OpKind.AddScalar => Map<AddOperator>(c, a.Slot, dtype, x, k),
                OpKind.SubScalar => Map<SubtractOperator>(c, a.Slot, dtype, x, k),
                OpKind.RsubScalar => Map<SubtractOperator>(c, a.Slot, dtype, k, x),
                OpKind.MulScalar => Map<MultiplyOperator>(c, a.Slot, dtype, x, k),
                _ => Map<DivideOperator>(c, a.Slot, dtype, x, k),
            };
            if (Recorder.ShouldRecord(c, a.Slot))
            {
                ref Node n = ref Recorder.Record(c, kind, result, a.Slot);
                n.Scalar = s;
                // PyTorch saves the scalar of mul and div (as a tensor, freed after backward), not of add and sub.
                if (kind is OpKind.MulScalar or OpKind.DivScalar) Recorder.SaveScalarOnly(ref n, s);
            }
            return new Tensor(c, result);
        }

        // neg: grad_a = -grad
        public static Tensor Unary<TOp>(Tensor a, OpKind kind, bool floatingResult) where TOp : struct, IElementwiseOperator
        {
            TensorContext c = a.Ctx;
            DType dtype = c.Records[a.Slot].DType;
            if (dtype == DType.Bool) ThrowHelper.BoolArithmetic(OpNames.Symbol(kind));
            int result = Map<TOp>(c, a.Slot, floatingResult ? FloatingResult(dtype) : dtype, Operand.Of(a.Slot));
            if (Recorder.ShouldRecord(c, a.Slot)) Recorder.Record(c, kind, result, a.Slot);
            return new Tensor(c, result);
        }

        // reciprocal: grad_a = -grad * y * y   (y = 1 / a)
        public static Tensor Reciprocal(Tensor a)
        {
            TensorContext c = a.Ctx;
            int result = Map<DivideOperator>(c, a.Slot, FloatingResult(c.Records[a.Slot].DType), Operand.Of(1.0), Operand.Of(a.Slot));
            if (Recorder.ShouldRecord(c, a.Slot))
            {
                ref Node n = ref Recorder.Record(c, OpKind.Reciprocal, result, a.Slot);
                Recorder.Save(c, ref n, result);
            }
            return new Tensor(c, result);
        }

        // ---- backward rules (called from Derivatives.Apply) ----

        public static void AddBackward(TensorContext c, ref Node n, int g, out int g0, out int g1)
        {
            bool both = n.Edge0 != Node.NoEdge && n.Edge1 != Node.NoEdge;
            g0 = n.Edge0 != Node.NoEdge ? g : -1;
            g1 = n.Edge1 == Node.NoEdge ? -1 : both ? CopyOf(c, g) : g;
        }

        public static void SubBackward(TensorContext c, ref Node n, int g, out int g0, out int g1)
        {
            g0 = n.Edge0 != Node.NoEdge ? g : -1;
            g1 = n.Edge1 != Node.NoEdge ? GradMap<NegateOperator>(c, g, Operand.Of(g)) : -1;
        }

        public static void MulBackward(TensorContext c, ref Node n, int g, out int g0, out int g1)
        {
            if (n.Saved0 == n.Saved1 && n.Edge0 == n.Edge1 && n.Edge0 != Node.NoEdge)
            {
                // a * a: both gradients go to the same place; g * (2 * a) in one pass equals g*a + g*a bit for bit.
                g0 = GradMap<GradTimesScaledOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved0), Operand.Of(2.0));
                g1 = -1;
                return;
            }
            g0 = n.Edge0 != Node.NoEdge ? GradMap<MultiplyOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved1)) : -1;
            g1 = n.Edge1 != Node.NoEdge ? GradMap<MultiplyOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved0)) : -1;
        }

        public static void DivBackward(TensorContext c, ref Node n, int g, out int g0, out int g1)
        {
            g0 = n.Edge0 != Node.NoEdge ? GradMap<DivideOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved1)) : -1;
            g1 = n.Edge1 != Node.NoEdge ? GradMap<DivisorGradOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved0), Operand.Of(n.Saved1)) : -1;
        }

        public static int ScalarBackward(TensorContext c, ref Node n, int g) => n.Kind switch
        {
            OpKind.AddScalar or OpKind.SubScalar => g,
            OpKind.RsubScalar => GradMap<NegateOperator>(c, g, Operand.Of(g)),
            OpKind.MulScalar => GradMap<MultiplyOperator>(c, g, Operand.Of(g), Operand.Of(n.Scalar)),
            _ => GradMap<DivideOperator>(c, g, Operand.Of(g), Operand.Of(n.Scalar)),
        };

        public static int NegBackward(TensorContext c, int g) => GradMap<NegateOperator>(c, g, Operand.Of(g));

        public static int ReciprocalBackward(TensorContext c, ref Node n, int g)
            => GradMap<ReciprocalGradOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved0));
    }
}
