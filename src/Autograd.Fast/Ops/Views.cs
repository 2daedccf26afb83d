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
        public Tensor T() => Views.T(this);

        /// <summary><c>x.transpose(dim0, dim1)</c></summary>
        public Tensor Transpose(int dim0, int dim1) => Views.Transpose(this, dim0, dim1);

        /// <summary><c>x.unsqueeze(dim)</c></summary>
        public Tensor Unsqueeze(int dim) => Views.Unsqueeze(this, dim);

        /// <summary>
        /// <c>x.expand(*sizes)</c>: a view repeating size-1 dimensions (stride 0, no copy); new dimensions
        /// may be added in front, -1 keeps a size. In-place writes into it are refused, as in PyTorch.
        /// </summary>
        public Tensor Expand(params ReadOnlySpan<int> sizes) => Views.Expand(this, sizes);

        /// <summary><c>x.expand_as(other)</c></summary>
        public Tensor ExpandAs(Tensor other) => Views.Expand(this, other.Shape.AsSpan());

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

    internal static class Views
    {
        public static ViewGeometry GeometryOf(in TensorRecord r) => new() { Shape = r.Shape, Strides = r.Strides, Rank = r.Rank, Offset = r.Offset };

        public static int FromIndex(Tensor t, int dim, Index index) => index.IsFromEnd ? t.Size(dim) - index.Value : index.Value;

        // select: grad_a = zeros(a.shape) with grad written at [index]
        public static Tensor Select(Tensor a, int dim, int index)
        {
            ViewGeometry g = SelectGeometry(a, dim, index);
            int size = a.Size(dim);
            return MakeView(a, g, OpKind.Select, Tensor.NormalizeDim(dim, a.Dim()), index < 0 ? index + size : index);
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

        // slice: grad_a = zeros(a.shape) with grad written at [start:end:step]
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
            ViewGeometry g = SliceGeometry(a, dim, start, end, step, out int first);
            return MakeView(a, g, OpKind.Slice, Tensor.NormalizeDim(dim, a.Dim()), first, step);
        }

        public static ViewGeometry SliceGeometry(Tensor a, int dim, Range range)
        {
            var (start, end) = Bounds(range, a.Size(dim));
            return SliceGeometry(a, dim, start, end, 1, out _);
        }

        public static ViewGeometry SliceGeometry(Tensor a, int dim, int start, int end, int step, out int first)
        {
            ref TensorRecord r = ref a.Record;
            if (r.Rank == 0) throw new ArgumentException("slice() cannot be applied to a 0-dim tensor.");
            if (step <= 0) throw new ArgumentException("slice step must be positive", nameof(step));
            dim = Tensor.NormalizeDim(dim, r.Rank);
            int size = r.Shape[dim];
            // Python's clamping: negative bounds count from the end, out-of-range bounds clamp.
            if (start < 0) start += size;
            if (end < 0) end += size;
            start = Math.Clamp(start, 0, size);
            end = Math.Clamp(end, start, size);
            first = start;
            return Slice(GeometryOf(r), dim, start, (end - start + step - 1) / step, step);
        }

        public static ViewGeometry Slice(in ViewGeometry v, int dim, int start, int length, int step)
        {
            ViewGeometry g = v;
            g.Offset += start * v.Strides[dim];
            g.Shape[dim] = length;
            g.Strides[dim] = v.Strides[dim] * step;
            return g;
        }

        // t, transpose: grad_a = grad transposed back
        public static Tensor T(Tensor a)
        {
            int rank = a.Dim();
            if (rank > 2) ThrowHelper.TransposeRank(rank);
            return rank < 2 ? MakeView(a, GeometryOf(a.Record), OpKind.T, 0, 0) : Transpose(a, 0, 1, OpKind.T);
        }

        public static Tensor Transpose(Tensor a, int dim0, int dim1, OpKind kind = OpKind.Transpose)
        {
            int rank = a.Dim();
            dim0 = Tensor.NormalizeDim(dim0, rank);
            dim1 = Tensor.NormalizeDim(dim1, rank);
            ViewGeometry g = GeometryOf(a.Record);
            if (rank > 0)
            {
                (g.Shape[dim0], g.Shape[dim1]) = (g.Shape[dim1], g.Shape[dim0]);
                (g.Strides[dim0], g.Strides[dim1]) = (g.Strides[dim1], g.Strides[dim0]);
            }
            return MakeView(a, g, kind, dim0, dim1);
        }

        // unsqueeze, squeeze: grad_a = grad reshaped to a's shape
        public static Tensor Unsqueeze(Tensor a, int dim)
        {
            ref TensorRecord r = ref a.Record;
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
            return MakeView(a, g, OpKind.Unsqueeze, dim, 0);
        }

        // expand: grad_a = grad summed back to a's shape (the engine's un-broadcasting)
        public static Tensor Expand(Tensor a, ReadOnlySpan<int> sizes)
        {
            ref TensorRecord r = ref a.Record;
            if (sizes.Length < r.Rank) ThrowHelper.ExpandTooFewSizes(r.DType, a.Shape, sizes);
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
                if (size != existing && existing != 1) ThrowHelper.ExpandSize(size, existing, i, sizes, a.Shape);
                if (size < 0) ThrowHelper.NegativeDimension(size);
                g.Shape[i] = size;
                g.Strides[i] = size == existing ? r.Strides[i - lead] : 0;
            }
            return MakeView(a, g, OpKind.Expand, 0, 0);
        }

        /// <summary>Removes a size-1 dimension (used by matmul for 1-D @ 2-D).</summary>
        public static Tensor Squeeze(Tensor a, int dim)
        {
            ref TensorRecord r = ref a.Record;
            dim = Tensor.NormalizeDim(dim, r.Rank);
            if (r.Shape[dim] != 1) return a;
            ViewGeometry g = Select(GeometryOf(r), dim, 0);
            return MakeView(a, g, OpKind.Squeeze, dim, 0);
        }

        private static Tensor MakeView(Tensor a, in ViewGeometry g, OpKind kind, int arg0, int arg1, double scalar = 0)
        {
            TensorContext c = a.Ctx;
            int view = c.NewView(a.Slot, g.Shape.AsSpan(g.Rank), g.Strides, g.Offset);
            if (Recorder.ShouldRecord(c, a.Slot))
            {
                ref Node n = ref Recorder.Record(c, kind, view, a.Slot);
                n.Arg0 = arg0;
                n.Arg1 = arg1;
                n.Scalar = scalar;
            }
            return new Tensor(c, view);
        }

        // ---- backward rules ----

        public static int ViewBackward(TensorContext c, ref Node n, int g)
        {
            ref TensorRecord input = ref c.Records[n.Input0];
            ref TensorRecord output = ref c.Records[n.Output];
            switch (n.Kind)
            {
                case OpKind.T when input.Rank < 2:
                    return g;
                case OpKind.T:
                case OpKind.Transpose:
                {
                    // Read the gradient through swapped strides into a contiguous buffer of the input's shape.
                    ref TensorRecord gr = ref c.Records[g];
                    Dims strides = gr.Strides;
                    (strides[n.Arg0], strides[n.Arg1]) = (strides[n.Arg1], strides[n.Arg0]);
                    int swapped = c.NewView(g, input.Shape.AsSpan(input.Rank), strides, gr.Offset, temporary: true);
                    int result = GradMap<CopyOperator>(c, n.Input0, Operand.Of(swapped));
                    c.ReleaseTemporary(swapped);
                    return result;
                }
                case OpKind.Expand:
                    return g; // the engine sums it back to the input's shape
                case OpKind.Unsqueeze:
                case OpKind.Squeeze:
                {
                    // The same elements seen with the size-1 dimension removed (unsqueeze) or put back
                    // (squeeze), from the gradient's own strides: it may be a broadcast view.
                    ref TensorRecord gr = ref c.Records[g];
                    Dims strides = default;
                    for (int i = 0, j = 0; i < input.Rank; i++, j++)
                    {
                        if (n.Kind == OpKind.Unsqueeze && j == n.Arg0) j++;
                        strides[i] = n.Kind == OpKind.Squeeze && i == n.Arg0 ? 0 : gr.Strides[j];
                        if (n.Kind == OpKind.Squeeze && i == n.Arg0) j--;
                    }
                    return c.NewView(g, input.Shape.AsSpan(input.Rank), strides, gr.Offset, temporary: true);
                }
                default:
                {
                    // select / slice: zeros of the input's shape with the gradient written where the view was.
                    int result = c.NewTensor(c.Records[g].DType, input.Shape.AsSpan(input.Rank), zero: true, temporary: true);
                    var full = new ViewGeometry { Shape = input.Shape, Strides = Dims.ContiguousStrides(input.Shape.AsSpan(input.Rank)), Rank = input.Rank };
                    ViewGeometry where = n.Kind == OpKind.Select
                        ? Select(full, n.Arg0, n.Arg1)
                        : Slice(full, n.Arg0, n.Arg1, output.Shape[n.Arg0], (int)n.Scalar);
                    StridedCopy.CopyRegion(c, g, c.Records[g].Strides, 0, result, where.Strides, where.Offset, where.Shape, where.Rank);
                    return result;
                }
            }
        }

        /// <summary>
        /// A view's place in its base, re-expressed for the base's gradient buffer (same shape as the
        /// base, contiguous): offset and strides relative to the base's. The base may itself be strided
        /// or transposed: its memory steps are taken largest first, which decomposes any position of a
        /// base without overlap (select, slice and transpose views never overlap).
        /// </summary>
        private static ViewGeometry RelativeGeometry(in TensorRecord input, in TensorRecord view, in Dims contiguousStrides)
        {
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
            g.Offset = Decompose(view.Offset - input.Offset, input, order, contiguousStrides);
            for (int i = 0; i < view.Rank; i++) g.Strides[i] = Decompose(view.Strides[i], input, order, contiguousStrides);
            return g;
        }

        /// <summary>A distance in the base's memory as the same distance in its contiguous gradient.</summary>
        private static int Decompose(int distance, in TensorRecord input, ReadOnlySpan<int> order, in Dims contiguousStrides)
        {
            int mapped = 0;
            foreach (int d in order)
            {
                int steps = distance / input.Strides[d];
                distance -= steps * input.Strides[d];
                mapped += steps * contiguousStrides[d];
            }
            return mapped;
        }

        // ---- index assignment: y[i] = v records CopySlices ----
        // copy_slices: grad_base = grad with the view's region zeroed; grad_src = grad[region]

        public static void Assign(Tensor target, in ViewGeometry where, Tensor value)
        {
            TensorContext c = ContextOf(target, value);
            int baseSlot = target.Slot;
            // x[i] = v writes through a view of x: for a leaf that requires grad PyTorch names the view.
            ref TensorRecord b = ref c.Records[baseSlot];
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
            // A real view (never an engine temporary: of a tiny base that would be a copy), released unless the node keeps it.
            int view = c.NewView(baseSlot, where.Shape.AsSpan(where.Rank), where.Strides, where.Offset);
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
            catch
            {
                c.ReleaseSlot(view, TensorRecord.EngineTemporary);
                throw;
            }
            finally
            {
                if (source != value.Slot) c.ReleaseTemporary(source);
            }
            c.BumpVersion(baseSlot);
            if (!record)
            {
                c.ReleaseSlot(view, TensorRecord.EngineTemporary);
                return;
            }
            ref Node n = ref Recorder.Record(c, OpKind.CopySlices, baseSlot, baseSlot, value.Slot);
            n.Arg0 = view;
            // PyTorch's CopySlices releases the function it wraps after a backward: a second walk without
            // retainGraph fails there, as through any node that saved values.
            n.Flags |= NodeFlags.SavesValues;
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

        public static void CopySlicesBackward(TensorContext c, ref Node n, int g, out int g0, out int g1)
        {
            // The base's gradient is g with a region zeroed in place: that needs dense memory of its own.
            int incoming = g;
            if (!c.Records[g].OwnsDenseMemory) g = CopyOf(c, g); // the engine releases the incoming one
            c.BeforeWrite(g);
            ref TensorRecord b = ref c.Records[n.Input0];
            ref TensorRecord v = ref c.Records[n.Arg0];
            ViewGeometry where = RelativeGeometry(b, v, Dims.ContiguousStrides(b.Shape.AsSpan(b.Rank)));
            g0 = g1 = -1;
            if (n.Edge1 != Node.NoEdge)
            {
                g1 = c.NewTensor(c.Records[g].DType, where.Shape.AsSpan(where.Rank), zero: false, temporary: true);
                StridedCopy.CopyRegion(c, g, where.Strides, where.Offset, g1, Dims.ContiguousStrides(where.Shape.AsSpan(where.Rank)), 0, where.Shape, where.Rank);
            }
            if (n.Edge0 != Node.NoEdge)
            {
                g0 = g;
                int zero = c.NewTensor(c.Records[g].DType, [], zero: true, temporary: true);
                StridedCopy.CopyRegion(c, zero, default, 0, g0, where.Strides, where.Offset, where.Shape, where.Rank);
                c.ReleaseTemporary(zero);
            }
            else if (g != incoming) c.ReleaseTemporary(g); // the dense copy was only read
        }
    }
}
