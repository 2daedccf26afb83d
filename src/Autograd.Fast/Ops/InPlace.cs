using System.Runtime.CompilerServices;
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
        /// <summary><c>x.zero_()</c>; returns this tensor. Recorded as ZeroBackward0 when x has history (its old value gets no gradient).</summary>
        public Tensor Zero_() => InPlace.Fill(this, 0, OpKind.Zero);

        /// <summary><c>x.fill_(value)</c>; returns this tensor. Recorded as FillBackward2 when x has history.</summary>
        public Tensor Fill_(double value) => InPlace.Fill(this, value, OpKind.Fill);

        /// <summary><c>x.add_(other, alpha=alpha)</c>: x += alpha * other (other broadcasts); returns this tensor.</summary>
        public Tensor Add_(Tensor other, double alpha = 1) // other * alpha + this
            => InPlace.Update<MultiplyAddOperator>(this, other, "Add_()", alpha == 1 ? OpKind.Add : OpKind.AddAlpha, InPlace.Scalar.Of(alpha),
                Operand.Of(other.Slot), Operand.Of(alpha), Operand.Of(Slot));

        /// <summary><c>x.add_(value)</c>; returns this tensor.</summary>
        public Tensor Add_(double value) => InPlace.Update<AddOperator>(this, null, "Add_()", OpKind.AddScalar, InPlace.Scalar.Of(value), Operand.Of(Slot), Operand.Of(value), default);

        /// <summary><c>x.add_(value)</c> with an integer (an int64 tensor stays int64); returns this tensor.</summary>
        public Tensor Add_(long value) => InPlace.Update<AddOperator>(this, null, "Add_()", OpKind.AddScalar, InPlace.Scalar.Of(value), Operand.Of(Slot), Operand.Of(value), default);

        /// <summary><c>x.sub_(other)</c>; returns this tensor.</summary>
        public Tensor Sub_(Tensor other) // other * -1 + this
            => InPlace.Update<MultiplyAddOperator>(this, other, "Sub_()", OpKind.Sub, default, Operand.Of(other.Slot), Operand.Of(-1.0), Operand.Of(Slot));

        /// <summary><c>x.sub_(value)</c>; returns this tensor.</summary>
        public Tensor Sub_(double value) => InPlace.Update<SubtractOperator>(this, null, "Sub_()", OpKind.SubScalar, InPlace.Scalar.Of(value), Operand.Of(Slot), Operand.Of(value), default);

        /// <summary><c>x.sub_(value)</c> with an integer; returns this tensor.</summary>
        public Tensor Sub_(long value) => InPlace.Update<SubtractOperator>(this, null, "Sub_()", OpKind.SubScalar, InPlace.Scalar.Of(value), Operand.Of(Slot), Operand.Of(value), default);

        /// <summary><c>x.mul_(other)</c> (other broadcasts); returns this tensor.</summary>
        public Tensor Mul_(Tensor other)
            => InPlace.Update<MultiplyOperator>(this, other, "Mul_()", OpKind.Mul, default, Operand.Of(Slot), Operand.Of(other.Slot), default);

        /// <summary><c>x.mul_(value)</c>; returns this tensor.</summary>
        public Tensor Mul_(double value) // value * this
            => InPlace.Update<MultiplyOperator>(this, null, "Mul_()", OpKind.MulScalar, InPlace.Scalar.Of(value), Operand.Of(value), Operand.Of(Slot), default);

        /// <summary><c>x.mul_(value)</c> with an integer; returns this tensor.</summary>
        public Tensor Mul_(long value)
            => InPlace.Update<MultiplyOperator>(this, null, "Mul_()", OpKind.MulScalar, InPlace.Scalar.Of(value), Operand.Of(value), Operand.Of(Slot), default);

        /// <summary><c>x.div_(other)</c> (true division: x must be floating point; other broadcasts); returns this tensor.</summary>
        public Tensor Div_(Tensor other)
            => InPlace.Update<DivideOperator>(this, other, "Div_()", OpKind.Div, default, Operand.Of(Slot), Operand.Of(other.Slot), default);

        /// <summary><c>x.div_(value)</c> (true division); returns this tensor.</summary>
        public Tensor Div_(double value)
            => InPlace.Update<DivideOperator>(this, null, "Div_()", OpKind.DivScalar, InPlace.Scalar.Of(value), Operand.Of(Slot), Operand.Of(value), default);

        /// <summary><c>x.pow_(exponent)</c> (x must be floating point); returns this tensor.</summary>
        public Tensor Pow_(double exponent) => InPlace.Pow(this, exponent);

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
        public static void CheckWritable(TensorContext c, int target, int source) => CheckWritable(c, ref c.Records[target]);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void CheckWritable(TensorContext c, ref TensorRecord r)
        {
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
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // a contiguous tensor (the common target) never repeats a location: no walk
        public static bool HasInternalOverlap(in TensorRecord r) => !r.IsContiguous && HasInternalOverlap(r.Strides, r.Shape, r.Rank);

        public static bool HasInternalOverlap(in Dims strides, in Dims shape, int rank)
        {
            for (int i = 0; i < rank; i++)
                if (strides[i] == 0 && shape[i] > 1) return true;
            return false;
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
            if (record && IsViewWithBase(c, t, "Copy_()", out int baseSlot))
            {
                int copy = Copies.Clone(c, t);
                Copy(c, copy, source);
                WriteBackThroughView(c, t, baseSlot, copy);
                return;
            }
            if (record && !c.NodeOutlivesTensorScope(t)) ThrowHelper.InPlaceOnOuterScope("Copy_()");
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

        internal static readonly OpRow ZeroRow = new("ZeroBackward0", Saves.None, &ConstantRule);
        internal static readonly OpRow FillRow = new("FillBackward2", Saves.None, &ConstantRule);

        // zero_, fill_: self: zeros_like(grad)
        private static void ConstantRule(ref Backward b) => b.Out(0, b.Grad.ZerosLike());

        public static Tensor Fill(Tensor t, double value, OpKind kind)
        {
            TensorContext c = t.Ctx;
            int slot = t.Slot;
            ref TensorRecord r = ref c.Records[slot];
            CheckWritable(c, ref r);
            if (r.DType.IsFloatingPoint() && Recorder.ShouldRecord(c, slot)) return FillRecorded(c, t, value, kind);
            if (c.AnomalyEnabled) c.BeforeWrite(slot); // a deferred fill writes no memory now; anomaly mode checks the write here
            if (r.NumEl >= c.FusionMinElements && Fusion.TryDeferFill(c, slot, value))
            {
                c.BumpVersion(slot);
                return t;
            }
            WriteFill(c, slot, value);
            return t;
        }

        private static Tensor FillRecorded(TensorContext c, Tensor t, double value, OpKind kind)
        {
            string call = kind == OpKind.Zero ? "Zero_()" : "Fill_()";
            if (IsViewWithBase(c, t.Slot, call, out int baseSlot))
            {
                int copy = Copies.Clone(c, t.Slot);
                Fill(new Tensor(c, copy), value, kind);
                WriteBackThroughView(c, t.Slot, baseSlot, copy);
                return t;
            }
            if (!c.NodeOutlivesTensorScope(t.Slot)) ThrowHelper.InPlaceOnOuterScope(call);
            WriteFill(c, t.Slot, value);
            Recorder.RecordInPlace(c, kind, t.Slot, t.Slot, -1, 0, value);
            return t;
        }

        /// <summary>Every element of <paramref name="slot"/> = <paramref name="value"/> now, and its version bumped.</summary>
        private static void WriteFill(TensorContext c, int slot, double value)
        {
            c.BeforeWrite(slot);
            if (c.Records[slot].IsContiguous) Ops.Fill.Scalar(c, slot, value);
            else
            {
                int scalar = c.NewTensor(c.Records[slot].DType, [], zero: false, temporary: true);
                Ops.Fill.Scalar(c, scalar, value);
                CopyInto(c, slot, scalar);
                c.ReleaseTemporary(scalar);
            }
            c.BumpVersion(slot);
        }

        /// <summary><c>x.pow_(p)</c>: PyTorch's special cases (as <see cref="Exponential.Pow"/>) into a temporary, then written back.</summary>
        public static Tensor Pow(Tensor t, double p)
        {
            TensorContext c = t.Ctx;
            int slot = t.Slot;
            CheckWritable(c, slot, -1);
            CheckNoInternalOverlap(c, slot, "Pow_()");
            if (!c.Records[slot].DType.IsFloatingPoint()) ThrowHelper.FloatingPointRequired("Pow_()", c.Records[slot].DType);
            bool record = Recorder.ShouldRecord(c, slot);
            if (record && IsViewWithBase(c, slot, "Pow_()", out int baseSlot))
            {
                int copy = Copies.Clone(c, slot);
                Pow(new Tensor(c, copy), p);
                WriteBackThroughView(c, slot, baseSlot, copy);
                return t;
            }
            if (record && !c.NodeOutlivesTensorScope(slot)) ThrowHelper.InPlaceOnOuterScope("Pow_()");
            int old = record ? Copies.Clone(c, slot) : slot; // pow's rules read the old value
            int result = Exponential.PowForward(c, slot, p, c.Records[slot].DType, temporary: true);
            c.BeforeWrite(slot);
            CopyInto(c, slot, result);
            c.ReleaseTemporary(result);
            c.BumpVersion(slot);
            if (record) Recorder.RecordInPlace(c, OpKind.PowScalar, slot, old, -1, 0, p);
            return t;
        }

        /// <summary>t = op(x, y, z), where the operands may read t itself and <paramref name="source"/> (validated here).</summary>
        /// <remarks>
        /// Recorded as PyTorch records it when autograd must see it: <paramref name="kind"/>'s node with
        /// the tensor as its output and its old producer as input 0's edge (the old value saved as a
        /// copy where the rule reads it), or through a view, a CopySlices on the view's base.
        /// </remarks>
        public static Tensor Update<TOp>(Tensor t, Tensor? source, string call, OpKind kind, Scalar s, Operand x, Operand y, Operand z)
            where TOp : struct, IElementwiseOperator
        {
            TensorContext c = source is { } other ? OpSupport.ContextOf(t, other) : t.Ctx;
            int sourceSlot = source?.Slot ?? -1;
            if (CheckUpdate(c, t.Slot, sourceSlot, call, kind, s)) return UpdateRecorded<TOp>(c, t, source, call, kind, s, x, y, z);
            Write<TOp>(c, t.Slot, sourceSlot, x, y, z);
            return t;
        }

        /// <summary>
        /// An in-place update's checks, in PyTorch's order (writable, no internal overlap, the source
        /// broadcasts into the target, the result casts to it), and whether autograd records it. One
        /// function for every operator, each record looked up once: an optimiser's step is a few of these.
        /// </summary>
        private static bool CheckUpdate(TensorContext c, int target, int source, string call, OpKind kind, Scalar s)
        {
            ref TensorRecord r = ref c.Records[target];
            CheckWritable(c, ref r);
            if (HasInternalOverlap(r)) ThrowHelper.InternalOverlap(call);
            if (source >= 0 && !Broadcasting.SameShape(c.Records[source], r)) CheckBroadcastsIntoSlow(c, source, target);
            if (!r.DType.IsFloatingPoint())
            {
                CheckResultCastsToIntegralTarget(c, kind, target, source, s);
                return false; // an integer target takes the values without a graph, as in PyTorch
            }
            return Recorder.ShouldRecord(c, target, source);
        }

        /// <summary>An update autograd records: through a view, the base's history is rewritten; the node saves the old value where its rule reads it.</summary>
        private static Tensor UpdateRecorded<TOp>(TensorContext c, Tensor t, Tensor? source, string call, OpKind kind, Scalar s, Operand x, Operand y, Operand z)
            where TOp : struct, IElementwiseOperator
        {
            int sourceSlot = source?.Slot ?? -1;
            if (IsViewWithBase(c, t.Slot, call, out int baseSlot))
            {
                int copy = Copies.Clone(c, t.Slot);
                Update<TOp>(new Tensor(c, copy), source, call, kind, s, Substitute(x, t.Slot, copy), Substitute(y, t.Slot, copy), Substitute(z, t.Slot, copy));
                WriteBackThroughView(c, t.Slot, baseSlot, copy);
                return t;
            }
            if (!c.NodeOutlivesTensorScope(t.Slot)) ThrowHelper.InPlaceOnOuterScope(call);
            // What the node saves is taken before the write: the old value (a copy, with its history) and the source's version.
            int sourceVersion = sourceSlot >= 0 ? c.Version(sourceSlot) : 0;
            int old = kind is OpKind.Mul or OpKind.Div ? Copies.Clone(c, t.Slot) : t.Slot;
            Write<TOp>(c, t.Slot, sourceSlot, x, y, z);
            Recorder.RecordInPlace(c, kind, t.Slot, old, sourceSlot, sourceVersion, s.Value);
            return t;
        }

        /// <summary>target = op(x, y, z) in place, and its version bumped.</summary>
        private static void Write<TOp>(TensorContext c, int target, int source, Operand x, Operand y, Operand z)
            where TOp : struct, IElementwiseOperator
        {
            c.BeforeWrite(target);
            if (c.Records[target].IsContiguous)
            {
                // Written in place while read: a source sharing the memory in another arrangement is read from a copy.
                int separated = source >= 0 ? SeparateFrom(c, source, target) : -1;
                if (separated != source)
                {
                    x = Substitute(x, source, separated);
                    y = Substitute(y, source, separated);
                    z = Substitute(z, source, separated);
                }
                try
                {
                    Executor.Run<TOp>(c, x, y, z, target);
                }
                finally
                {
                    if (separated != source) c.ReleaseTemporary(separated);
                }
            }
            else
            {
                int temp = StridedCopy.ContiguousOrSelf(c, target);
                Executor.Run<TOp>(c, x, y, z, temp); // operands read the strided original
                CopyFrom(c, target, temp);
                c.ReleaseTemporary(temp);
            }
            c.BumpVersion(target);
        }

        /// <summary>
        /// Whether an in-place write autograd records goes through a view whose base is still alive: then,
        /// as PyTorch, the base's history is rewritten. The caller applies the same op to a copy of the
        /// view (recorded as on any tensor with history, so the node and what it saves are the dense
        /// case's) and hands it to <see cref="WriteBackThroughView"/>.
        /// </summary>
        private static bool IsViewWithBase(TensorContext c, int view, string call, out int baseSlot)
        {
            baseSlot = (c.Records[view].Flags & TensorFlags.IsView) != 0 ? c.ViewBaseOf(view) : -1;
            if (baseSlot < 0) return false; // not a view, or its base is gone: nothing else sees the write, record it on the tensor itself
            if (!c.NodeOutlivesTensorScope(baseSlot) || !c.NodeOutlivesTensorScope(view)) ThrowHelper.InPlaceOnOuterScope(call);
            return true;
        }

        /// <summary>The view's new value (<paramref name="value"/>) written into its base's region as CopySlices; the view becomes that region of the base again (AsStridedBackward0).</summary>
        private static void WriteBackThroughView(TensorContext c, int view, int baseSlot, int value)
        {
            Views.Assign(c, baseSlot, Views.GeometryOf(c.Records[view]), value);
            Recorder.DeriveViewFromBase(c, view, baseSlot);
        }

        /// <summary>A scalar operand and whether the user gave an integer (PyTorch's wrapped-number rule decides the result type).</summary>
        internal readonly record struct Scalar(double Value, bool IsIntegral)
        {
            public static Scalar Of(double value) => new(value, false);

            public static Scalar Of(long value) => new(value, true);
        }

        /// <summary>
        /// As PyTorch: the out-of-place op's result type must cast to the target's dtype without losing its
        /// kind (a float result into an int64 tensor, anything but bool into a bool tensor, is refused).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // the optimizer step's case is one test, without a call
        private static void CheckResultCastsToIntegralTarget(TensorContext c, OpKind kind, int target, int source, Scalar s)
        {
            DType t = c.Records[target].DType;
            DType result = source >= 0 ? Arithmetic.PromoteOperands(c.Records[target], c.Records[source]) : OpSupport.WithScalar(t, s.IsIntegral);
            if (kind is OpKind.Div or OpKind.DivScalar) result = OpSupport.FloatingResult(result); // true division
            bool casts = result == t || (t == DType.Int64 && result == DType.Bool);
            if (!casts) ThrowHelper.ResultTypeCannotCast(result, t);
        }

        private static Operand Substitute(Operand operand, int slot, int replacement)
            => !operand.IsScalar && operand.Slot == slot ? Operand.Of(replacement) : operand;

        [MethodImpl(MethodImplOptions.AggressiveInlining)] // the common case, equal shapes, without working out a broadcast shape
        private static void CheckBroadcastsInto(TensorContext c, int source, int target)
        {
            if (!Broadcasting.SameShape(c.Records[source], c.Records[target])) CheckBroadcastsIntoSlow(c, source, target);
        }

        private static void CheckBroadcastsIntoSlow(TensorContext c, int source, int target)
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
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // usually different memory: two loads and a compare
        public static int SeparateFrom(TensorContext c, int source, int target)
        {
            ref TensorRecord s = ref c.Records[source];
            if (source == target || s.Storage != c.Records[target].Storage || s.IsPending) return source;
            return SeparateSharedFrom(c, source, target);
        }

        private static int SeparateSharedFrom(TensorContext c, int source, int target)
        {
            ref TensorRecord s = ref c.Records[source];
            ref TensorRecord t = ref c.Records[target];
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
