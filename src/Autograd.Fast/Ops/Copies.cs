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
    internal static class Copies
    {
        // clone: grad_a = grad
        public static Tensor Clone(Tensor a)
        {
            TensorContext c = a.Ctx;
            int result = StridedCopy.Clone(c, a.Slot, temporary: false);
            if (Recorder.ShouldRecord(c, a.Slot)) Recorder.Record(c, OpKind.Clone, result, a.Slot);
            return new Tensor(c, result);
        }

        // to(dtype): grad_a = grad, converted back to a's dtype by the engine
        public static Tensor To(Tensor a, DType dtype)
        {
            TensorContext c = a.Ctx;
            if (c.Records[a.Slot].DType == dtype) return a;
            int result = StridedCopy.CastToTemporary(c, a.Slot, dtype, temporary: false);
            // Integer and bool results carry no gradient, as in PyTorch.
            if (dtype.IsFloatingPoint() && Recorder.ShouldRecord(c, a.Slot)) Recorder.Record(c, OpKind.ToCopy, result, a.Slot);
            return new Tensor(c, result);
        }

        /// <summary>Both rules hand the gradient on unchanged (the engine sums and casts it to the input).</summary>
        public static int IdentityBackward(int g) => g;
    }
}
