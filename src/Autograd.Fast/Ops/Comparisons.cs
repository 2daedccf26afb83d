using System.Numerics;
using AutogradFast.Ops;
using AutogradFast.Simd;
using AutogradFast.Storage;

namespace AutogradFast
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

namespace AutogradFast.Ops
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
            switch (dtype)
            {
                case DType.Float32: Run<float>(c, op, Operand.Of(a.Slot), b, result, dtype); break;
                case DType.Float64: Run<double>(c, op, Operand.Of(a.Slot), b, result, dtype); break;
                default: Run<long>(c, op, Operand.Of(a.Slot), b, result, dtype); break;
            }
            return new Tensor(c, result);
        }

        /// <summary>
        /// Operands of the compared dtype that are contiguous with the result's size (or one value)
        /// are read in place; anything else (broadcast, strided, another dtype) is first expanded.
        /// </summary>
        private static void Run<T>(TensorContext c, Comparison op, Operand a, Operand b, int result, DType dtype) where T : unmanaged, INumber<T>
        {
            int n = c.Records[result].NumEl;
            T sa = default, sb = default;
            int ta = -1, tb = -1;
            T* pa = Direct(c, a, n, dtype, &sa, out bool aScalar);
            if (pa == null)
            {
                ta = Expand(c, a, result, dtype);
                pa = c.Pointer<T>(ta);
            }
            T* pb = Direct(c, b, n, dtype, &sb, out bool bScalar);
            if (pb == null)
            {
                tb = Expand(c, b, result, dtype);
                pb = c.Pointer<T>(tb);
            }
            ComparisonDriver.Compare(op, pa, aScalar, pb, bScalar, c.Pointer<bool>(result), n);
            if (ta >= 0) c.ReleaseTemporary(ta);
            if (tb >= 0) c.ReleaseTemporary(tb);
        }

        private static T* Direct<T>(TensorContext c, Operand operand, int n, DType dtype, T* scalar, out bool isScalar) where T : unmanaged, INumber<T>
        {
            isScalar = true;
            if (operand.IsScalar)
            {
                *scalar = Numeric.FromDouble<T>(operand.Scalar);
                return scalar;
            }
            ref TensorRecord r = ref c.Records[operand.Slot];
            if (r.DType != dtype || !r.IsContiguous || (r.NumEl != n && r.NumEl != 1)) return null;
            isScalar = r.NumEl == 1;
            return c.Pointer<T>(operand.Slot);
        }

        private static int Expand(TensorContext c, Operand operand, int like, DType dtype)
        {
            ref TensorRecord r = ref c.Records[like];
            int temp = c.NewTensor(dtype, r.Shape.AsSpan(r.Rank), zero: false, temporary: true);
            Executor.Run<CopyOperator>(c, operand, default, default, temp);
            return temp;
        }
    }
}
