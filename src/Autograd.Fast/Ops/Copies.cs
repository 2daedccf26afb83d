using AutogradFast.Graph;
using AutogradFast.Ops;
using AutogradFast.Storage;

namespace AutogradFast
{
    // Copies into new memory: clone, contiguous, dtype conversion.
    public readonly partial struct Tensor
    {
        /// <summary><c>x.clone()</c>: a contiguous copy of the same dtype, bit for bit (-0.0 stays -0.0); gradients flow through.</summary>
        public Tensor Clone() => Copies.Clone(this);

        /// <summary><c>x.contiguous()</c>: this tensor when it already is contiguous, else a copy (grad_fn CloneBackward0, as in PyTorch).</summary>
        public Tensor Contiguous() => Record.IsContiguous ? this : Copies.Clone(this);

        /// <summary>
        /// <c>x.to(dtype)</c>: this tensor when it already has <paramref name="dtype"/>, else a converted copy
        /// (floating to integer truncates toward zero; to bool is <c>x != 0</c>). Gradients flow back to a
        /// floating-point result's input in the input's dtype (ToCopyBackward0).
        /// </summary>
        public Tensor To(DType dtype) => Copies.To(this, dtype);
    }
}

namespace AutogradFast.Ops
{
    internal static unsafe class Copies
    {
        public static Tensor Clone(Tensor a)
        {
            TensorContext c = a.Ctx;
            return new Tensor(c, Clone(c, a.Slot));
        }

        public static int Clone(TensorContext c, int a)
        {
            int result = StridedCopy.Clone(c, a, temporary: false);
            if (Recorder.ShouldRecord(c, a)) Recorder.Record(c, OpKind.Clone, result, a);
            return result;
        }

        public static Tensor To(Tensor a, DType dtype)
        {
            TensorContext c = a.Ctx;
            return new Tensor(c, To(c, a.Slot, dtype));
        }

        public static int To(TensorContext c, int a, DType dtype)
        {
            if (c.Records[a].DType == dtype) return a;
            int result = StridedCopy.CastToTemporary(c, a, dtype, temporary: false);
            // Integer and bool results carry no gradient, as in PyTorch.
            if (dtype.IsFloatingPoint() && Recorder.ShouldRecord(c, a)) Recorder.Record(c, OpKind.ToCopy, result, a);
            return result;
        }

        // ---- rows ----

        internal static readonly OpRow CloneRow = new("CloneBackward0", Saves.None, &PassRule);
        internal static readonly OpRow ToCopyRow = new("ToCopyBackward0", Saves.None, &PassRule);
        internal static readonly OpRow MakeDualRow = new("ViewBackward0", Saves.None, &PassRule);

        // clone: self: grad;  to: self: grad.to(self's dtype), by the engine
        private static void PassRule(ref Backward b) => b.Out(0, b.Grad);
    }
}
