using System.Runtime.CompilerServices;
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
        /// <summary>
        /// <c>a op b</c> as a bool tensor of the broadcast shape, computed in PyTorch's result type of
        /// the operands (a float64 0-d tensor does not lift a float32 tensor; bools compare as 0/1).
        /// </summary>
        [MethodImpl(MethodImplOptions.NoInlining)] // an entry point: a root of its own (README, "Inlining")
        public static Tensor Compare(Tensor a, Operand b, Tensor bTensor, Comparison op)
        {
            TensorContext c = OpSupport.ContextOf(a, bTensor);
            return new Tensor(c, Compare(c, Operand.Of(a.Slot), b, op));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)] // the entry point's hot path
        public static int Compare(TensorContext c, Operand aOperand, Operand b, Comparison op)
        {
            int a = aOperand.Slot;
            ref TensorRecord ra = ref c.Records[a];
            DType dtype = b.IsScalar
                ? OpSupport.WithScalar(ra.DType, double.IsInteger(b.Scalar))
                : Arithmetic.PromoteOperands(ra, c.Records[b.Slot]);
            if (dtype == DType.Bool) dtype = DType.Int64;
            Dims shape = ra.Shape;
            int rank = ra.Rank;
            if (!b.IsScalar) rank = Broadcasting.BroadcastShape(ra, c.Records[b.Slot], out shape);
            int result = c.NewTensor(DType.Bool, shape.AsSpan(rank), zero: false);
            switch (dtype)
            {
                case DType.Float32: Run<float>(c, op, aOperand, b, result); break;
                case DType.Float64: Run<double>(c, op, aOperand, b, result); break;
                default: Run<long>(c, op, aOperand, b, result); break;
            }
            return result;
        }

        /// <summary>
        /// Operands are prepared as the executor prepares them (cast, broadcast strides, a contiguous
        /// copy only for a transposed last dimension), then compared flat or row by row.
        /// </summary>
        [MethodImpl(MethodImplOptions.NoInlining)] // the walk over operands, out of line (README, "Inlining")
        private static void Run<T>(TensorContext c, Comparison op, Operand a, Operand b, int result) where T : unmanaged, INumber<T>
        {
            ref TensorRecord o = ref c.Records[result];
            DType dtype = DTypeOf<T>();
            Executor.Prepared<T> pa = default, pb = default;
            pa.Temporary = pb.Temporary = -1;
            try
            {
                Executor.Prepare(c, a, ref pa, dtype, o.Shape, o.Rank);
                Executor.Prepare(c, b, ref pb, dtype, o.Shape, o.Rank);
                if (a.IsScalar) pa.Pointer = &pa.Value;
                if (b.IsScalar) pb.Pointer = &pb.Value;
                bool* d = c.Pointer<bool>(result);
                if (pa.Flat && pb.Flat)
                {
                    ComparisonDriver.Compare(op, pa.Pointer, pa.Broadcast, pb.Pointer, pb.Broadcast, d, o.NumEl);
                    return;
                }
                var (rows, length) = RowWalker.Extent(o.Shape, o.Rank);
                int inner = o.Rank - 1;
                bool aInnerBroadcast = pa.Broadcast || pa.Strides[inner] == 0, bInnerBroadcast = pb.Broadcast || pb.Strides[inner] == 0;
                var walk = new RowWalker(o.Shape, o.Rank, pa.Strides, pb.Strides, default);
                for (int row = 0; row < rows; row++, walk.Next())
                    ComparisonDriver.Compare(op, pa.Pointer + walk.Offset0, aInnerBroadcast, pb.Pointer + walk.Offset1, bInnerBroadcast, d + (nint)row * length, length);
            }
            finally
            {
                if (pa.Temporary >= 0) c.ReleaseTemporary(pa.Temporary);
                if (pb.Temporary >= 0) c.ReleaseTemporary(pb.Temporary);
            }
        }

        private static DType DTypeOf<T>() => typeof(T) == typeof(float) ? DType.Float32 : typeof(T) == typeof(double) ? DType.Float64 : DType.Int64;
    }
}
