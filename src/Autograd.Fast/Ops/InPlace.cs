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
            => InPlace.Update<MultiplyAddOperator>(this, other, Operand.Of(other.Slot), Operand.Of(alpha), Operand.Of(Slot));

        /// <summary><c>x.sub_(other)</c>; returns this tensor.</summary>
        public Tensor Sub_(Tensor other) // other * -1 + this
            => InPlace.Update<MultiplyAddOperator>(this, other, Operand.Of(other.Slot), Operand.Of(-1.0), Operand.Of(Slot));

        /// <summary><c>x.mul_(value)</c>; returns this tensor.</summary>
        public Tensor Mul_(double value) // value * this
            => InPlace.Update<MultiplyOperator>(this, null, Operand.Of(value), Operand.Of(Slot), default);

        /// <summary><c>x.copy_(src)</c> (src broadcasts and is converted to this dtype); returns this tensor.</summary>
        public Tensor Copy_(Tensor source)
        {
            TensorContext c = OpSupport.ContextOf(this, source);
            InPlace.CheckWritable(c, Slot, source.Slot);
            c.BeforeWrite(Slot);
            InPlace.CopyInto(c, Slot, source.Slot);
            c.BumpVersion(Slot);
            return this;
        }

        /// <summary>A contiguous tensor with the same values (this one if it already is); gradients flow through.</summary>
        public Tensor Contiguous() => Record.IsContiguous ? this : this + 0L;
    }
}

namespace AutogradFast.Ops
{
    internal static class InPlace
    {
        /// <summary>PyTorch's rules for in-place writes while autograd records.</summary>
        public static void CheckWritable(TensorContext c, int target, int source)
        {
            if (!c.GradEnabled) return;
            ref TensorRecord r = ref c.Records[target];
            bool requiresGrad = (r.Flags & TensorFlags.RequiresGrad) != 0;
            if (requiresGrad && r.Node < 0 && (r.Flags & TensorFlags.IsView) == 0) ThrowHelper.LeafInPlace();
            if ((r.Flags & TensorFlags.ViewOfGradLeaf) != 0) ThrowHelper.LeafViewInPlace();
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
        public static Tensor Update<TOp>(Tensor t, Tensor? source, Operand x, Operand y, Operand z) where TOp : struct, IElementwiseOperator
        {
            TensorContext c = source is { } other ? OpSupport.ContextOf(t, other) : t.Ctx;
            int sourceSlot = source?.Slot ?? -1;
            CheckWritable(c, t.Slot, sourceSlot);
            CheckNotRecorded(c, t.Slot, sourceSlot);
            if (sourceSlot >= 0) CheckBroadcastsInto(c, sourceSlot, t.Slot);
            c.BeforeWrite(t.Slot);
            if (c.Records[t.Slot].IsContiguous) Executor.Run<TOp>(c, x, y, z, t.Slot);
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

        private static void CheckBroadcastsInto(TensorContext c, int source, int target)
        {
            ref TensorRecord s = ref c.Records[source];
            ref TensorRecord t = ref c.Records[target];
            int rank = Broadcasting.BroadcastShape(s, t, out Dims shape);
            if (!Broadcasting.SameShape(t, shape.AsSpan(rank)))
                throw new ArgumentException($"output with shape {Dims.Format(t.Shape.AsSpan(t.Rank))} doesn't match the broadcast shape {Dims.Format(shape.AsSpan(rank))}");
        }

        /// <summary>target[...] = source, broadcasting source and converting its dtype; target may be strided.</summary>
        public static void CopyInto(TensorContext c, int target, int source)
        {
            CheckBroadcastsInto(c, source, target);
            if (c.Records[target].IsContiguous)
            {
                Executor.Run<CopyOperator>(c, Operand.Of(source), default, default, target);
                return;
            }
            ref TensorRecord t = ref c.Records[target];
            int temp = c.NewTensor(t.DType, t.Shape.AsSpan(t.Rank), zero: false, temporary: true);
            Executor.Run<CopyOperator>(c, Operand.Of(source), default, default, temp);
            CopyFrom(c, target, temp);
            c.ReleaseTemporary(temp);
        }

        /// <summary>Copies a contiguous <paramref name="source"/> of the same shape and dtype into a strided <paramref name="target"/>.</summary>
        public static unsafe void CopyFrom(TensorContext c, int target, int source)
        {
            ref TensorRecord t = ref c.Records[target];
            Dims contiguous = Dims.ContiguousStrides(t.Shape.AsSpan(t.Rank));
            switch (t.DType)
            {
                case DType.Float32: StridedCopy.Copy(c.Pointer<float>(source), contiguous, c.Pointer<float>(target), t.Strides, t.Shape, t.Rank); break;
                case DType.Float64: StridedCopy.Copy(c.Pointer<double>(source), contiguous, c.Pointer<double>(target), t.Strides, t.Shape, t.Rank); break;
                case DType.Int64: StridedCopy.Copy(c.Pointer<long>(source), contiguous, c.Pointer<long>(target), t.Strides, t.Shape, t.Rank); break;
                default: StridedCopy.Copy(c.Pointer<bool>(source), contiguous, c.Pointer<bool>(target), t.Strides, t.Shape, t.Rank); break;
            }
        }
    }
}
