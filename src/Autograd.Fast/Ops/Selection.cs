using AutogradFast.Graph;
using AutogradFast.Ops;
using AutogradFast.Simd;
using AutogradFast.Storage;

namespace AutogradFast
{
    // Elementwise selection between two tensors.
    public readonly partial struct Tensor
    {
        /// <summary>
        /// <c>torch.where(condition, a, b)</c>: <paramref name="a"/> where the bool
        /// <paramref name="condition"/> holds, else <paramref name="b"/>; all three broadcast. Gradients flow
        /// to the branch each element came from (WhereBackward0).
        /// </summary>
        public static Tensor Where(Tensor condition, Tensor a, Tensor b)
        {
            TensorContext c = OpSupport.ContextOf(condition, a);
            if (b.Ctx != c) ThrowHelper.ForeignTensor<int>();
            return new Tensor(c, Selection.Where(c, condition.Slot, a.Slot, b.Slot));
        }
    }
}

namespace AutogradFast.Ops
{
    internal static unsafe class Selection
    {
        public static int Where(TensorContext c, int condition, int a, int b)
        {
            ref TensorRecord rc = ref c.Records[condition];
            if (rc.DType != DType.Bool) ThrowHelper.WhereCondition(rc.DType);
            ref TensorRecord ra = ref c.Records[a];
            ref TensorRecord rb = ref c.Records[b];
            DType dtype = Arithmetic.PromoteOperands(ra, rb);
            int rank = Broadcasting.BroadcastShape(ra, rb, out Dims ab);
            var shapeOfAb = new TensorRecord { Rank = (byte)rank, Shape = ab };
            rank = Broadcasting.BroadcastShape(rc, shapeOfAb, out Dims shape);
            // The condition as 0/1 in the result's dtype selects with one multiply-free kernel: c ? a : b.
            int mask = StridedCopy.CastToTemporary(c, condition, dtype == DType.Bool ? DType.Int64 : dtype);
            int result;
            try
            {
                result = OpSupport.Elementwise<SelectOperator>(c, dtype == DType.Bool ? DType.Int64 : dtype, shape.AsSpan(rank), temporary: false,
                    Operand.Of(mask), Operand.Of(a), Operand.Of(b));
            }
            finally
            {
                c.ReleaseTemporary(mask);
            }
            if (dtype == DType.Bool)
            {
                int asBool = StridedCopy.CastToTemporary(c, result, DType.Bool, temporary: false);
                c.ReleaseSlot(result, TensorRecord.EngineTemporary);
                result = asBool;
            }
            if (Recorder.ShouldRecord(c, [a, b])) Recorder.Record(c, OpKind.Where, result, [condition, a, b]);
            return result;
        }

        // ---- rows ----

        internal static readonly OpRow WhereRow = new("WhereBackward0", Saves.Self, &WhereRule);

        // where: self: where(condition, grad, 0); other: where(condition, 0, grad)
        private static void WhereRule(ref Backward b)
        {
            Var condition = b.Self, zero = b.Grad.Constant(0);
            if (b.Needs(1)) b.Out(1, Var.Where(condition, b.Grad, zero));
            if (b.Needs(2)) b.Out(2, Var.Where(condition, zero, b.Grad));
        }
    }
}
