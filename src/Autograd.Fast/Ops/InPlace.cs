using AutogradFast.Graph;
using AutogradFast.Ops;
using AutogradFast.Simd;
using AutogradFast.Storage;

namespace AutogradFast
{
    // In-place writes (PyTorch's trailing underscore). They bump the storage's version counter, so a
    // value saved for backward that is overwritten is detected when backward reads it.
    public readonly partial struct Tensor
    {
        /// <summary><c>x.zero_()</c>; returns this tensor.</summary>
        public Tensor Zero_() => InPlace.Fill(this, 0);

        /// <summary><c>x.fill_(value)</c>; returns this tensor.</summary>
        public Tensor Fill_(double value) => InPlace.Fill(this, value);

        /// <summary><c>x.add_(other, alpha=alpha)</c>: x += alpha * other (other broadcasts); returns this tensor.</summary>
        public Tensor Add_(Tensor other, double alpha = 1) // other * alpha + this
            => InPlace.Update<MultiplyAddOperator>(this, other, "Add_()", Operand.Of(other.Slot), Operand.Of(alpha), Operand.Of(Slot));

        /// <summary><c>x.sub_(other)</c>; returns this tensor.</summary>
        public Tensor Sub_(Tensor other) // other * -1 + this
            => InPlace.Update<MultiplyAddOperator>(this, other, "Sub_()", Operand.Of(other.Slot), Operand.Of(-1.0), Operand.Of(Slot));

        /// <summary><c>x.mul_(value)</c>; returns this tensor.</summary>
        public Tensor Mul_(double value) // value * this
            => InPlace.Update<MultiplyOperator>(this, null, "Mul_()", Operand.Of(value), Operand.Of(Slot), default);

        /// <summary>
        /// <c>x.copy_(src)</c> (src broadcasts and is converted to this dtype); returns this tensor.
        /// When src requires grad (or x has history) it records CopyBackwards: x's new value is src's.
        /// </summary>
        public Tensor Copy_(Tensor source) => InPlace.Copy(this, source);
    }
}

namespace AutogradFast.Ops
{
    internal static unsafe class InPlace
    {
        /// <summary>PyTorch's rules for in-place writes while autograd records.</summary>
        public static void CheckWritable(TensorContext c, int target, int source)
        {
            ref TensorRecord r = ref c.Records[target];
            if ((r.Flags & TensorFlags.IsInference) != 0 && !c.InferenceMode) ThrowHelper.InPlaceOnInferenceTensor(); // in no-grad too
            if (!c.GradEnabled) return;
            bool requiresGrad = (r.Flags & TensorFlags.RequiresGrad) != 0;
            if (requiresGrad && r.Node < 0 && (r.Flags & TensorFlags.IsView) == 0) ThrowHelper.LeafInPlace();
            if ((r.Flags & TensorFlags.ViewOfGradLeaf) != 0) ThrowHelper.LeafViewInPlace();
        }

        /// <summary>
        /// Writes that read what they overwrite (copy_, add_, mul_, index assignment) are refused into an
        /// expanded view, as in PyTorch: elements sharing a location would race. fill_ and zero_ are fine.
        /// </summary>
        public static void CheckNoInternalOverlap(TensorContext c, int target, string call)
        {
            if (HasInternalOverlap(c.Records[target])) ThrowHelper.InternalOverlap(call);
        }

        /// <summary>An expanded view: some dimension repeats one memory location, so an in-place write would race with itself.</summary>
        public static bool HasInternalOverlap(in TensorRecord r) => HasInternalOverlap(r.Strides, r.Shape, r.Rank);

        public static bool HasInternalOverlap(in Dims strides, in Dims shape, int rank)
        {
            for (int i = 0; i < rank; i++)
                if (strides[i] == 0 && shape[i] > 1) return true;
            return false;
        }

        /// <summary>In-place arithmetic that autograd would have to record is refused (only index assignment records, as CopySlices).</summary>
        private static void CheckNotRecorded(TensorContext c, int target, int source)
        {
            if (!c.GradEnabled) return;
            bool needsGraph = (c.Records[target].Flags & TensorFlags.RequiresGrad) != 0
                || (source >= 0 && (c.Records[source].Flags & TensorFlags.RequiresGrad) != 0);
            if (needsGraph)
                throw new NotSupportedException(
                    "In-place arithmetic on tensors that require grad is not recorded by autograd; use the out-of-place op " +
                    "(x = x + y), index assignment, or do the update under Autograd.NoGrad().");
        }

        // copy_: grad_self = zeros_like(grad) (its old value is overwritten); grad_src = grad (summed back to src's shape, in its dtype)
        public static Tensor Copy(Tensor t, Tensor source)
        {
            TensorContext c = OpSupport.ContextOf(t, source);
            Copy(c, t.Slot, source.Slot);
            return t;
        }

        public static void Copy(TensorContext c, int t, int source)
        {
            CheckWritable(c, t, source);
            CheckNoInternalOverlap(c, t, "Copy_()");
            // An integer or bool target takes the values without a graph, as in PyTorch.
            bool record = c.Records[t].DType.IsFloatingPoint() && Recorder.ShouldRecord(c, t, source);
            if (record)
            {
                if ((c.Records[t].Flags & TensorFlags.IsView) != 0) ThrowHelper.RecordedCopyIntoView();
                if (!c.NodeOutlivesTensorScope(t)) ThrowHelper.InPlaceOnOuterScope("Copy_()");
            }
            c.BeforeWrite(t);
            CopyInto(c, t, source);
            c.BumpVersion(t);
            if (record) Recorder.Record(c, OpKind.Copy, t, t, source);
        }

        internal static readonly OpRow CopyRow = new("CopyBackwards", Saves.None, &CopyRule);

        // copy_: self: zeros_like(grad) (its old value is overwritten); src: grad (summed back to src's shape, in src's dtype)
        private static void CopyRule(ref Backward b)
        {
            if (b.Needs(0)) b.Out(0, b.Grad.ZerosLike());
            if (b.Needs(1)) b.Out(1, b.Grad);
        }

        public static Tensor Fill(Tensor t, double value)
        {
            TensorContext c = t.Ctx;
            CheckWritable(c, t.Slot, -1);
            CheckNotRecorded(c, t.Slot, -1);
            if (c.Records[t.Slot].NumEl >= c.FusionMinElements && Fusion.TryDeferFill(c, t.Slot, value))
            {
                c.BumpVersion(t.Slot);
                return t;
            }
            c.BeforeWrite(t.Slot);
            if (c.Records[t.Slot].IsContiguous) Ops.Fill.Scalar(c, t.Slot, value);
            else
            {
                int scalar = c.NewTensor(c.Records[t.Slot].DType, [], zero: false, temporary: true);
                Ops.Fill.Scalar(c, scalar, value);
                CopyInto(c, t.Slot, scalar);
                c.ReleaseTemporary(scalar);
            }
            c.BumpVersion(t.Slot);
            return t;
        }

        /// <summary>t = op(x, y, z), where the operands may read t itself and <paramref name="source"/> (validated here).</summary>
        public static Tensor Update<TOp>(Tensor t, Tensor? source, string call, Operand x, Operand y, Operand z) where TOp : struct, IElementwiseOperator
        {
            TensorContext c = source is { } other ? OpSupport.ContextOf(t, other) : t.Ctx;
            int sourceSlot = source?.Slot ?? -1;
            CheckWritable(c, t.Slot, sourceSlot);
            CheckNoInternalOverlap(c, t.Slot, call);
            CheckNotRecorded(c, t.Slot, sourceSlot);
            if (sourceSlot >= 0) CheckBroadcastsInto(c, sourceSlot, t.Slot);
            c.BeforeWrite(t.Slot);
            if (c.Records[t.Slot].IsContiguous)
            {
                // Written in place while read: a source sharing the memory in another arrangement is read from a copy.
                int separated = sourceSlot >= 0 ? SeparateFrom(c, sourceSlot, t.Slot) : -1;
                if (separated != sourceSlot)
                {
                    x = Substitute(x, sourceSlot, separated);
                    y = Substitute(y, sourceSlot, separated);
                    z = Substitute(z, sourceSlot, separated);
                }
                try
                {
                    Executor.Run<TOp>(c, x, y, z, t.Slot);
                }
                finally
                {
                    if (separated != sourceSlot) c.ReleaseTemporary(separated);
                }
            }
            else
            {
                int temp = StridedCopy.ContiguousOrSelf(c, t.Slot);
                Executor.Run<TOp>(c, x, y, z, temp); // operands read the strided original
                CopyFrom(c, t.Slot, temp);
                c.ReleaseTemporary(temp);
            }
            c.BumpVersion(t.Slot);
            return t;
        }

        private static Operand Substitute(Operand operand, int slot, int replacement)
            => !operand.IsScalar && operand.Slot == slot ? Operand.Of(replacement) : operand;

        private static void CheckBroadcastsInto(TensorContext c, int source, int target)
        {
            ref TensorRecord s = ref c.Records[source];
            ref TensorRecord t = ref c.Records[target];
            int rank = Broadcasting.BroadcastShape(t, s, out Dims shape); // PyTorch names the target "a"
            if (!Broadcasting.SameShape(t, shape.AsSpan(rank)))
                ThrowHelper.OutputShapeMismatch(new Size(t.Shape, t.Rank), new Size(shape, rank));
        }

        /// <summary>
        /// target[...] = source, broadcasting source and converting its dtype; either may be strided. A
        /// source overlapping the target's memory in another arrangement (<c>t.Copy_(t.T())</c>) is read
        /// from a copy first, so every element gets the value it had before the write.
        /// </summary>
        public static void CopyInto(TensorContext c, int target, int source)
        {
            CheckBroadcastsInto(c, source, target);
            ref TensorRecord t = ref c.Records[target];
            int from = c.Records[source].DType != t.DType ? StridedCopy.CastToTemporary(c, source, t.DType) : SeparateFrom(c, source, target);
            Dims strides = Broadcasting.ExpandedStrides(c.Records[from], t.Shape, t.Rank);
            StridedCopy.CopyRegion(c, from, strides, 0, target, t.Strides, 0, t.Shape, t.Rank);
            if (from != source) c.ReleaseTemporary(from);
        }

        /// <summary><paramref name="source"/>, or a contiguous copy of it when it shares memory with <paramref name="target"/> in another arrangement.</summary>
        public static int SeparateFrom(TensorContext c, int source, int target)
        {
            ref TensorRecord s = ref c.Records[source];
            ref TensorRecord t = ref c.Records[target];
            if (source == target || s.Storage != t.Storage || s.IsPending) return source;
            bool sameArrangement = s.Offset == t.Offset && s.Rank == t.Rank && Broadcasting.SameShape(s, t);
            for (int i = 0; sameArrangement && i < s.Rank; i++) sameArrangement = s.Strides[i] == t.Strides[i];
            return sameArrangement ? source : StridedCopy.Clone(c, source, temporary: true);
        }

        /// <summary>Copies a contiguous <paramref name="source"/> of the same shape and dtype into a strided <paramref name="target"/>.</summary>
        public static void CopyFrom(TensorContext c, int target, int source)
        {
            ref TensorRecord t = ref c.Records[target];
            StridedCopy.CopyRegion(c, source, Dims.ContiguousStrides(t.Shape.AsSpan(t.Rank)), 0, target, t.Strides, 0, t.Shape, t.Rank);
        }
    }
}
