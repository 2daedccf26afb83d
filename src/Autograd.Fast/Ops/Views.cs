using AutogradFast.Graph;
using AutogradFast.Ops;
using AutogradFast.Simd;
using AutogradFast.Storage;
using static AutogradFast.Ops.OpSupport;

namespace AutogradFast
{
    // Views (sharing storage) and indexing, including index assignment.
    public readonly partial struct Tensor
    {
        /// <summary><c>x[i]</c>: selects along the first dimension (negative counts from the end). Setting records CopySlices.</summary>
        [System.Runtime.CompilerServices.IndexerName("At")]
        public Tensor this[int index]
        {
            get => Views.Select(this, 0, index);
            set => Views.Assign(this, Views.SelectGeometry(this, 0, index), value);
        }

        /// <summary><c>x[^1]</c></summary>
        [System.Runtime.CompilerServices.IndexerName("At")]
        public Tensor this[Index index]
        {
            get => this[Views.FromIndex(this, 0, index)];
            set => this[Views.FromIndex(this, 0, index)] = value;
        }

        /// <summary><c>x[1..3]</c>: a slice of the first dimension (Python's <c>x[1:3]</c>).</summary>
        [System.Runtime.CompilerServices.IndexerName("At")]
        public Tensor this[Range range]
        {
            get => Views.Slice(this, 0, range);
            set => Views.Assign(this, Views.SliceGeometry(this, 0, range), value);
        }

        /// <summary><c>x[i, j]</c></summary>
        [System.Runtime.CompilerServices.IndexerName("At")]
        public Tensor this[int i, int j]
        {
            get
            {
                // Check both indices against this tensor first, so errors name the dimension as PyTorch does.
                _ = Views.PairGeometry(this, i, j);
                return this[i][j];
            }
            set => Views.Assign(this, Views.PairGeometry(this, i, j), value);
        }

        /// <summary><c>x.t()</c>: transposes a 2-D tensor; 0-D and 1-D come back as they are.</summary>
        public Tensor T()
        {
            TensorContext c = Ctx;
            return new Tensor(c, Views.T(c, Slot));
        }

        /// <summary><c>x.transpose(dim0, dim1)</c></summary>
        public Tensor Transpose(int dim0, int dim1)
        {
            TensorContext c = Ctx;
            return new Tensor(c, Views.Transpose(c, Slot, dim0, dim1, OpKind.Transpose));
        }

        /// <summary><c>x.unsqueeze(dim)</c></summary>
        public Tensor Unsqueeze(int dim)
        {
            TensorContext c = Ctx;
            return new Tensor(c, Views.Unsqueeze(c, Slot, dim));
        }

        /// <summary>
        /// <c>x.expand(*sizes)</c>: a view repeating size-1 dimensions (stride 0, no copy); new dimensions
        /// may be added in front, -1 keeps a size. In-place writes into it are refused, as in PyTorch.
        /// </summary>
        public Tensor Expand(params ReadOnlySpan<int> sizes)
        {
            TensorContext c = Ctx;
            return new Tensor(c, Views.Expand(c, Slot, sizes));
        }

        /// <summary><c>x.expand_as(other)</c></summary>
        public Tensor ExpandAs(Tensor other) => Expand(other.Shape.AsSpan());

        /// <summary><c>x.select(dim, index)</c></summary>
        public Tensor Select(int dim, int index)
        {
            Views.CheckSelect(this, dim, index);
            return Views.Select(this, dim, index);
        }

        /// <summary><c>x.narrow</c>-style slice along <paramref name="dim"/>: Python's <c>x[start:end:step]</c> there.</summary>
        public Tensor Slice(int dim, int start, int end, int step = 1) => Views.Slice(this, dim, start, end, step);
    }
}

namespace AutogradFast.Ops
{
    /// <summary>Where a view sits in its base: shape, strides and storage offset.</summary>
    internal struct ViewGeometry
    {
        public Dims Shape;
        public Dims Strides;
        public int Rank;
        public int Offset;

        /// <summary>Selects <paramref name="index"/> along <paramref name="dim"/> of this geometry (for <c>x[i, j]</c>).</summary>
        public readonly ViewGeometry Then(Tensor owner, int dim, int index)
        {
            if (Rank == 0) ThrowHelper.TooManyIndices(2, owner.Dim());
            int size = Shape[dim];
            if (index < -size || index >= size) ThrowHelper.IndexOutOfRange(index, dim + 1, size); // the owner's dimension, after the first index
            return Views.Select(this, dim, index);
        }
    }

    internal static unsafe class Views
    {
        public static ViewGeometry GeometryOf(in TensorRecord r) => new() { Shape = r.Shape, Strides = r.Strides, Rank = r.Rank, Offset = r.Offset };

        /// <summary>Where each element of a contiguous tensor of this shape sits (from <paramref name="offset"/>): the coordinates of a gradient buffer.</summary>
        public static ViewGeometry ContiguousGeometry(in TensorRecord r, int offset = 0)
            => new() { Shape = r.Shape, Strides = Dims.ContiguousStrides(r.Shape.AsSpan(r.Rank)), Rank = r.Rank, Offset = offset };

        public static int FromIndex(Tensor t, int dim, Index index) => index.IsFromEnd ? t.Size(dim) - index.Value : index.Value;

        public static Tensor Select(Tensor a, int dim, int index)
        {
            TensorContext c = a.Ctx;
            return new Tensor(c, Select(c, a.Slot, dim, index));
        }

        public static int Select(TensorContext c, int a, int dim, int index)
        {
            ref TensorRecord r = ref c.Records[a];
            if (r.Rank == 0) ThrowHelper.IndexZeroDim();
            dim = Tensor.NormalizeDim(dim, r.Rank);
            ViewGeometry g = Select(GeometryOf(r), dim, index);
            return MakeView(c, a, g, OpKind.Select, dim, 0, Select(ContiguousGeometry(r), dim, index));
        }

        /// <summary>Where <c>x[i, j]</c> sits; a tensor of fewer than 2 dims has too many indices, as in PyTorch.</summary>
        public static ViewGeometry PairGeometry(Tensor a, int i, int j)
        {
            int rank = a.Dim();
            if (rank < 2) ThrowHelper.TooManyIndices(2, rank);
            return SelectGeometry(a, 0, i).Then(a, 0, j);
        }

        /// <summary><c>x.select(dim, index)</c>'s own messages, which differ from indexing's.</summary>
        public static void CheckSelect(Tensor a, int dim, int index)
        {
            ref TensorRecord r = ref a.Record;
            if (r.Rank == 0) ThrowHelper.SelectZeroDim();
            int d = Tensor.NormalizeDim(dim, r.Rank);
            int size = r.Shape[d];
            if (index < -size || index >= size) ThrowHelper.SelectOutOfRange(index, a.Shape, d);
        }

        public static ViewGeometry SelectGeometry(Tensor a, int dim, int index)
        {
            ref TensorRecord r = ref a.Record;
            if (r.Rank == 0) ThrowHelper.IndexZeroDim();
            return Select(GeometryOf(r), Tensor.NormalizeDim(dim, r.Rank), index);
        }

        public static ViewGeometry Select(in ViewGeometry v, int dim, int index)
        {
            int size = v.Shape[dim];
            if (index < -size || index >= size) ThrowHelper.IndexOutOfRange(index, dim, size);
            if (index < 0) index += size;
            ViewGeometry g = default;
            g.Rank = v.Rank - 1;
            g.Offset = v.Offset + index * v.Strides[dim];
            for (int i = 0, j = 0; i < v.Rank; i++)
            {
                if (i == dim) continue;
                g.Shape[j] = v.Shape[i];
                g.Strides[j++] = v.Strides[i];
            }
            return g;
        }

        public static Tensor Slice(Tensor a, int dim, Range range)
        {
            var (start, end) = Bounds(range, a.Size(dim));
            return Slice(a, dim, start, end, 1);
        }

        /// <summary>
        /// A C# range as Python slice bounds, clamped as Python clamps them: <c>x[1..10]</c> of 3
        /// elements is <c>x[1:3]</c>, <c>x[5..]</c> is empty, <c>x[^10..]</c> is all of it.
        /// </summary>
        public static (int Start, int End) Bounds(Range range, int size)
        {
            int start = Math.Clamp(range.Start.IsFromEnd ? size - range.Start.Value : range.Start.Value, 0, size);
            int end = Math.Clamp(range.End.IsFromEnd ? size - range.End.Value : range.End.Value, start, size);
            return (start, end);
        }

        public static Tensor Slice(Tensor a, int dim, int start, int end, int step)
        {
            TensorContext c = a.Ctx;
            return new Tensor(c, Slice(c, a.Slot, dim, start, end, step));
        }

        public static int Slice(TensorContext c, int a, int dim, int start, int end, int step)
        {
            ref TensorRecord r = ref c.Records[a];
            ViewGeometry g = SliceGeometry(r, dim, start, end, step, out int first, out int length);
            dim = Tensor.NormalizeDim(dim, r.Rank);
            return MakeView(c, a, g, OpKind.Slice, dim, 0, Slice(ContiguousGeometry(r), dim, first, length, step));
        }

        public static ViewGeometry SliceGeometry(Tensor a, int dim, Range range)
        {
            var (start, end) = Bounds(range, a.Size(dim));
            return SliceGeometry(a.Record, dim, start, end, 1, out _, out _);
        }

        public static ViewGeometry SliceGeometry(in TensorRecord r, int dim, int start, int end, int step, out int first, out int length)
        {
            if (r.Rank == 0) ThrowHelper.SliceZeroDim();
            if (step <= 0) ThrowHelper.SliceStep(step);
            dim = Tensor.NormalizeDim(dim, r.Rank);
            int size = r.Shape[dim];
            // Python's clamping: negative bounds count from the end, out-of-range bounds clamp.
            if (start < 0) start += size;
            if (end < 0) end += size;
            start = Math.Clamp(start, 0, size);
            end = Math.Clamp(end, start, size);
            first = start;
            length = (end - start + step - 1) / step;
            return Slice(GeometryOf(r), dim, start, length, step);
        }

        public static ViewGeometry Slice(in ViewGeometry v, int dim, int start, int length, int step)
        {
            ViewGeometry g = v;
            g.Offset += start * v.Strides[dim];
            g.Shape[dim] = length;
            g.Strides[dim] = v.Strides[dim] * step;
            return g;
        }

        public static int T(TensorContext c, int a)
        {
            int rank = c.Records[a].Rank;
            if (rank > 2) ThrowHelper.TransposeRank(rank);
            return rank < 2 ? MakeView(c, a, GeometryOf(c.Records[a]), OpKind.T, 0, 0) : Transpose(c, a, 0, 1, OpKind.T);
        }

        public static int Transpose(TensorContext c, int a, int dim0, int dim1, OpKind kind)
        {
            ref TensorRecord r = ref c.Records[a];
            int rank = r.Rank;
            dim0 = Tensor.NormalizeDim(dim0, rank);
            dim1 = Tensor.NormalizeDim(dim1, rank);
            ViewGeometry g = GeometryOf(r);
            if (rank > 0)
            {
                (g.Shape[dim0], g.Shape[dim1]) = (g.Shape[dim1], g.Shape[dim0]);
                (g.Strides[dim0], g.Strides[dim1]) = (g.Strides[dim1], g.Strides[dim0]);
            }
            return MakeView(c, a, g, kind, dim0, dim1);
        }

        public static int Unsqueeze(TensorContext c, int a, int dim)
        {
            ref TensorRecord r = ref c.Records[a];
            if (dim < -(r.Rank + 1) || dim > r.Rank) ThrowHelper.DimOutOfRange(dim, r.Rank + 1);
            if (dim < 0) dim += r.Rank + 1;
            if (r.Rank + 1 > Dims.MaxRank) ThrowHelper.RankTooLarge(r.Rank + 1);
            ViewGeometry g = default;
            g.Rank = r.Rank + 1;
            g.Offset = r.Offset;
            for (int i = 0, j = 0; i < g.Rank; i++)
            {
                if (i == dim)
                {
                    g.Shape[i] = 1;
                    g.Strides[i] = dim < r.Rank ? r.Strides[dim] * r.Shape[dim] : 1;
                    continue;
                }
                g.Shape[i] = r.Shape[j];
                g.Strides[i] = r.Strides[j++];
            }
            return MakeView(c, a, g, OpKind.Unsqueeze, dim, 0);
        }

        public static int Expand(TensorContext c, int a, ReadOnlySpan<int> sizes)
        {
            ref TensorRecord r = ref c.Records[a];
            if (sizes.Length < r.Rank) ThrowHelper.ExpandTooFewSizes(r.DType, new Size(r.Shape, r.Rank), sizes);
            if (sizes.Length > Dims.MaxRank) ThrowHelper.RankTooLarge(sizes.Length);
            ViewGeometry g = default;
            g.Rank = sizes.Length;
            g.Offset = r.Offset;
            int lead = sizes.Length - r.Rank;
            for (int i = 0; i < sizes.Length; i++)
            {
                int size = sizes[i];
                if (i < lead)
                {
                    if (size < 0) ThrowHelper.ExpandNewDimension(size, i);
                    g.Shape[i] = size;
                    g.Strides[i] = 0;
                    continue;
                }
                int existing = r.Shape[i - lead];
                if (size == -1) size = existing;
                if (size != existing && existing != 1) ThrowHelper.ExpandSize(size, existing, i, sizes, new Size(r.Shape, r.Rank));
                if (size < 0) ThrowHelper.NegativeDimension(size);
                g.Shape[i] = size;
                g.Strides[i] = size == existing ? r.Strides[i - lead] : 0;
            }
            return MakeView(c, a, g, OpKind.Expand, 0, 0);
        }

        /// <summary>
        /// Removes a size-1 dimension (unsqueeze's rule: <c>x.squeeze(dim)</c>; matmul's 1-D @ 2-D, as
        /// <see cref="OpKind.SqueezeInPlace"/>: PyTorch's matmul does <c>squeeze_(dim)</c>, SqueezeBackward3);
        /// any other dimension leaves the tensor as it is.
        /// </summary>
        public static int Squeeze(TensorContext c, int a, int dim, OpKind kind = OpKind.Squeeze)
        {
            ref TensorRecord r = ref c.Records[a];
            dim = Tensor.NormalizeDim(dim, r.Rank);
            if (r.Rank == 0 || r.Shape[dim] != 1) return a;
            return MakeView(c, a, Select(GeometryOf(r), dim, 0), kind, dim, 0);
        }

        /// <summary>A view of <paramref name="a"/>; a select or slice keeps where it sits in a gradient buffer of a's shape.</summary>
        private static int MakeView(TensorContext c, int a, in ViewGeometry g, OpKind kind, int arg0, int arg1, in ViewGeometry region = default)
        {
            int view = c.NewView(a, g.Shape.AsSpan(g.Rank), g.Strides, g.Offset);
            if (Recorder.ShouldRecord(c, a))
            {
                if (kind is OpKind.Select or OpKind.Slice) Recorder.Record(c, kind, view, a, -1, region, arg0, arg1);
                else Recorder.Record(c, kind, view, a, arg0: arg0, arg1: arg1);
            }
            return view;
        }

        /// <summary>
        /// A view's place in its base, re-expressed for the base's gradient buffer (same shape as the
        /// base, contiguous): offset and strides relative to the base's. The base may itself be strided
        /// or transposed: its memory steps are taken largest first, which decomposes any position of a
        /// base without overlap (select, slice and transpose views never overlap).
        /// </summary>
        internal static ViewGeometry RelativeGeometry(in TensorRecord input, in ViewGeometry view)
        {
            Dims contiguousStrides = Dims.ContiguousStrides(input.Shape.AsSpan(input.Rank));
            Span<int> order = stackalloc int[Dims.MaxRank];
            int dims = 0;
            for (int d = 0; d < input.Rank; d++)
                if (input.Strides[d] != 0 && input.Shape[d] != 1) order[dims++] = d;
            order = order[..dims];
            for (int i = 1; i < dims; i++) // largest memory step first (insertion sort: at most 8)
                for (int j = i; j > 0 && input.Strides[order[j]] > input.Strides[order[j - 1]]; j--) (order[j], order[j - 1]) = (order[j - 1], order[j]);
            ViewGeometry g = default;
            g.Rank = view.Rank;
            g.Shape = view.Shape;
            g.Offset = Decompose(view.Offset - input.Offset, input.Strides, order, contiguousStrides);
            for (int i = 0; i < view.Rank; i++) g.Strides[i] = Decompose(view.Strides[i], input.Strides, order, contiguousStrides);
            return g;
        }

        /// <summary>A distance in one arrangement of a tensor's elements as the same distance in another (dims taken in <paramref name="order"/>).</summary>
        public static int Decompose(int distance, in Dims from, ReadOnlySpan<int> order, in Dims to)
        {
            int mapped = 0;
            foreach (int d in order)
            {
                int steps = distance / from[d];
                distance -= steps * from[d];
                mapped += steps * to[d];
            }
            return mapped;
        }

        // ---- index assignment: y[i] = v records CopySlices ----

        public static void Assign(Tensor target, in ViewGeometry where, Tensor value)
        {
            TensorContext c = ContextOf(target, value);
            Assign(c, target.Slot, where, value.Slot);
        }

        /// <summary>base[where] = value, recorded as CopySlices (index assignment, and in-place writes through a view).</summary>
        public static void Assign(TensorContext c, int baseSlot, in ViewGeometry where, int valueSlot)
        {
            var value = new Tensor(c, valueSlot);
            // x[i] = v writes through a view of x: for a leaf that requires grad PyTorch names the view.
            ref TensorRecord b = ref c.Records[baseSlot];
            if ((b.Flags & TensorFlags.IsInference) != 0 && !c.InferenceMode) ThrowHelper.InPlaceOnInferenceTensor();
            if (c.GradEnabled && (b.Flags & TensorFlags.RequiresGrad) != 0 && b.Node < 0) ThrowHelper.LeafViewInPlace();
            InPlace.CheckWritable(c, baseSlot, value.Slot);
            if (InPlace.HasInternalOverlap(where.Strides, where.Shape, where.Rank)) ThrowHelper.InternalOverlap("index assignment");
            bool record = c.Records[baseSlot].DType.IsFloatingPoint() && Recorder.ShouldRecord(c, baseSlot, value.Slot); // integer targets: no graph
            if (record)
            {
                if (!c.NodeOutlivesTensorScope(baseSlot)) ThrowHelper.InPlaceOnOuterScope("Index assignment");
                // Where the gradient of an expanded base's region lies is ambiguous (its rows share memory); PyTorch's answer is undefined too.
                if (InPlace.HasInternalOverlap(c.Records[baseSlot])) ThrowHelper.RecordedAssignIntoOverlappingBase();
            }
            c.BeforeWrite(baseSlot);
            int view = c.NewView(baseSlot, where.Shape.AsSpan(where.Rank), where.Strides, where.Offset, temporary: true);
            int source = WithoutLeadingOnes(c, value.Slot); // as PyTorch: t[1] = zeros(1, 1) fills a row of 3
            try
            {
                ref TensorRecord rv = ref c.Records[view];
                ref TensorRecord src = ref c.Records[source];
                if (!Broadcasting.SameShape(src, rv.Shape.AsSpan(rv.Rank)))
                {
                    bool fits = src.Rank <= rv.Rank;
                    if (fits)
                    {
                        for (int i = 0, lead = rv.Rank - src.Rank; i < src.Rank; i++)
                            fits &= src.Shape[i] == 1 || src.Shape[i] == rv.Shape[lead + i];
                    }
                    if (!fits) ThrowHelper.AssignShapeMismatch(value.Shape, new Size(rv.Shape, rv.Rank));
                }
                InPlace.CopyInto(c, view, source);
            }
            finally
            {
                if (source != value.Slot) c.ReleaseTemporary(source);
                c.ReleaseTemporary(view);
            }
            c.BumpVersion(baseSlot);
            if (!record) return;
            ViewGeometry region = RelativeGeometry(c.Records[baseSlot], where);
            Recorder.Record(c, OpKind.CopySlices, baseSlot, baseSlot, value.Slot, region);
        }

        /// <summary>The tensor seen without its leading size-1 dimensions (an engine temporary view), or itself when it has none.</summary>
        private static int WithoutLeadingOnes(TensorContext c, int slot)
        {
            ref TensorRecord r = ref c.Records[slot];
            int lead = 0;
            while (lead < r.Rank && r.Shape[lead] == 1) lead++;
            if (lead == 0) return slot;
            Dims shape = default, strides = default;
            for (int i = lead; i < r.Rank; i++)
            {
                shape[i - lead] = r.Shape[i];
                strides[i - lead] = r.Strides[i];
            }
            return c.NewView(slot, shape.AsSpan(r.Rank - lead), strides, r.Offset, temporary: true);
        }

        // ---- rows ----

        internal static readonly OpRow TRow = new("TBackward0", Saves.None, &TRule);
        internal static readonly OpRow TransposeRow = new("TransposeBackward0", Saves.None, &TransposeRule);
        internal static readonly OpRow SelectRow = new("SelectBackward0", Saves.None, &SelectRule);
        internal static readonly OpRow SliceRow = new("SliceBackward0", Saves.None, &SliceRule);
        internal static readonly OpRow UnsqueezeRow = new("UnsqueezeBackward0", Saves.None, &UnsqueezeRule);
        internal static readonly OpRow SqueezeRow = new("SqueezeBackward1", Saves.None, &SqueezeRule);
        internal static readonly OpRow SqueezeInPlaceRow = new("SqueezeBackward3", Saves.None, &SqueezeRule);
        internal static readonly OpRow ExpandRow = new("ExpandBackward0", Saves.None, &ExpandRule);
        // PyTorch's CopySlices releases the function it wraps after a backward: walking it twice fails, as through saved values.
        internal static readonly OpRow CopySlicesRow = new("CopySlices", Saves.Scalars, &CopySlicesRule);

        // t: self: grad.t()
        private static void TRule(ref Backward b) => b.Out(0, b.Grad.T());

        // transpose: self: grad.transpose(dim0, dim1)
        private static void TransposeRule(ref Backward b) => b.Out(0, b.Grad.Transpose(b.Arg0, b.Arg1));

        // select: self: select_backward(grad, self's sizes, dim, index): zeros of self's shape with grad written where the view was
        private static void SelectRule(ref Backward b) => ScatterBack(ref b, OpKind.SelectBackward);

        // slice: self: slice_backward(grad, self's sizes, dim, start, end, step), the same way
        private static void SliceRule(ref Backward b) => ScatterBack(ref b, OpKind.SliceBackward);

        private static void ScatterBack(ref Backward b, OpKind kind)
        {
            Var x = b.Input(0);
            b.Out(0, Var.RegionScatter(b.Grad, x.Shape, x.Rank, Recorder.Geometry(b.C, b.Args), kind));
        }

        // unsqueeze: self: grad.squeeze(dim)
        private static void UnsqueezeRule(ref Backward b) => b.Out(0, b.Grad.Squeeze(b.Arg0));

        // squeeze: self: grad.unsqueeze(dim)
        private static void SqueezeRule(ref Backward b) => b.Out(0, b.Grad.Unsqueeze(b.Arg0));

        // expand: self: at::sum_to(grad, self.sizes())
        private static void ExpandRule(ref Backward b)
        {
            Var x = b.Input(0);
            b.Out(0, b.Grad.SumToSize(x.Shape, x.Rank));
        }

        // copy_slices: base: grad with the view's region zeroed; src: grad[region] (summed back to src's shape by the engine)
        private static void CopySlicesRule(ref Backward b)
        {
            ViewGeometry region = Recorder.Geometry(b.C, b.Args);
            if (b.Needs(0)) b.Out(0, Var.RegionZeroed(b.Grad, region));
            if (b.Needs(1)) b.Out(1, Var.RegionOf(b.Grad, region));
        }
    }
}
