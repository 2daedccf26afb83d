using System.Numerics;
using Autograd.Fast.Ops;
using Autograd.Fast.Simd;
using Autograd.Fast.Storage;

namespace Autograd.Fast
{
    // Comparisons give bool tensors (no gradient); a one-element result converts to bool in `if` and `while`.
    public readonly partial struct Tensor
    {
        public static Tensor operator ==(Tensor a, Tensor b) => Comparisons.Compare(a, Operand.Of(b.Slot), b, Comparison.Equal);
        public static Tensor operator !=(Tensor a, Tensor b) => Comparisons.Compare(a, Operand.Of(b.Slot), b, Comparison.NotEqual);
        public static Tensor operator <(Tensor a, Tensor b) => Comparisons.Compare(a, Operand.Of(b.Slot), b, Comparison.Less);
        public static Tensor operator >(Tensor a, Tensor b) => Comparisons.Compare(a, Operand.Of(b.Slot), b, Comparison.Greater);
        public static Tensor operator <=(Tensor a, Tensor b) => Comparisons.Compare(a, Operand.Of(b.Slot), b, Comparison.LessOrEqual);
        public static Tensor operator >=(Tensor a, Tensor b) => Comparisons.Compare(a, Operand.Of(b.Slot), b, Comparison.GreaterOrEqual);

        public static Tensor operator ==(Tensor a, double s) => Comparisons.Compare(a, Operand.Of(s), a, Comparison.Equal);
        public static Tensor operator !=(Tensor a, double s) => Comparisons.Compare(a, Operand.Of(s), a, Comparison.NotEqual);
        public static Tensor operator <(Tensor a, double s) => Comparisons.Compare(a, Operand.Of(s), a, Comparison.Less);
        public static Tensor operator >(Tensor a, double s) => Comparisons.Compare(a, Operand.Of(s), a, Comparison.Greater);
        public static Tensor operator <=(Tensor a, double s) => Comparisons.Compare(a, Operand.Of(s), a, Comparison.LessOrEqual);
        public static Tensor operator >=(Tensor a, double s) => Comparisons.Compare(a, Operand.Of(s), a, Comparison.GreaterOrEqual);
    }
}

namespace Autograd.Fast.Ops
{
    internal static unsafe class Comparisons
    {
        public static Tensor Compare(Tensor a, Operand b, Tensor bTensor, Comparison op)
        {
            TensorContext c = OpSupport.ContextOf(a, bTensor);
            DType dtype = b.IsScalar
                ? OpSupport.WithScalar(c.Records[a.Slot].DType, double.IsInteger(b.Scalar))
                : DTypeInfo.Promote(c.Records[a.Slot].DType, c.Records[b.Slot].DType);
            if (dtype == DType.Bool) dtype = DType.Int64; // compare bools as 0/1
            Dims shape = c.Records[a.Slot].Shape;
            int rank = c.Records[a.Slot].Rank;
            if (!b.IsScalar) rank = Broadcasting.BroadcastShape(c.Records[a.Slot], c.Records[b.Slot], out shape);
            int result = c.NewTensor(DType.Bool, shape.AsSpan(rank), zero: false);
            // Bring both operands to the result's shape and the compared dtype, contiguous.
            int x = Expand(c, Operand.Of(a.Slot), result, dtype);
            int y = Expand(c, b, result, dtype);
            int n = c.Records[result].NumEl;
            switch (dtype)
            {
                case DType.Float32: Run<float>(c, op, x, y, result, n); break;
                case DType.Float64: Run<double>(c, op, x, y, result, n); break;
                default: Run<long>(c, op, x, y, result, n); break;
            }
            c.ReleaseTemporary(x);
            c.ReleaseTemporary(y);
            return new Tensor(c, result);
        }

        private static void Run<T>(TensorContext c, Comparison op, int x, int y, int result, int n) where T : unmanaged, INumber<T>
            => ComparisonDriver.Compare(op, c.Pointer<T>(x), false, c.Pointer<T>(y), false, c.Pointer<bool>(result), n);

        private static int Expand(TensorContext c, Operand operand, int like, DType dtype)
        {
            ref TensorRecord r = ref c.Records[like];
            int temp = c.NewTensor(dtype, r.Shape.AsSpan(r.Rank), zero: false, temporary: true);
            Executor.Run<CopyOperator>(c, operand, default, default, temp);
            return temp;
        }
    }
}
