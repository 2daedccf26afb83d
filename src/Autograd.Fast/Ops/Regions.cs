using AutogradFast.Graph;
using AutogradFast.Storage;

namespace AutogradFast.Ops
{
    /// <summary>
    /// Parts of a tensor addressed by a geometry in the coordinates of a contiguous tensor of its shape
    /// (offset and strides counted in its row-major elements): what select, slice and index
    /// assignment need for their gradients. Three ops, each the derivative of another:
    /// <see cref="Scatter"/> (zeros with a part written, select_backward), <see cref="Of"/> (the part
    /// as a view, as_strided) and <see cref="Zeroed"/> (a copy with the part zeroed).
    /// </summary>
    internal static unsafe class Regions
    {
        /// <summary>Zeros of <paramref name="shape"/> with <paramref name="part"/> written at <paramref name="where"/> (part has where's shape).</summary>
        public static int Scatter(TensorContext c, int part, in Dims shape, int rank, in ViewGeometry where, OpKind kind = OpKind.RegionScatter)
        {
            ref TensorRecord p = ref c.Records[part];
            int result = c.NewTensor(p.DType, shape.AsSpan(rank), zero: true);
            Dims strides = Broadcasting.ExpandedStrides(c.Records[part], where.Shape, where.Rank);
            StridedCopy.CopyRegion(c, part, strides, 0, result, where.Strides, where.Offset, where.Shape, where.Rank);
            if (Recorder.ShouldRecord(c, part)) Recorder.Record(c, kind, result, part, -1, where);
            return result;
        }

        /// <summary>The part of <paramref name="whole"/> at <paramref name="where"/>, as a view of it (whole may have any strides).</summary>
        public static int Of(TensorContext c, int whole, in ViewGeometry where)
        {
            ref TensorRecord w = ref c.Records[whole];
            // Re-express the contiguous coordinates in whole's own strides, outermost dimension first.
            Dims contiguous = Dims.ContiguousStrides(w.Shape.AsSpan(w.Rank));
            Span<int> order = stackalloc int[Dims.MaxRank];
            int dims = 0;
            for (int d = 0; d < w.Rank; d++)
                if (w.Shape[d] != 1) order[dims++] = d;
            ReadOnlySpan<int> outerFirst = order[..dims];
            Dims strides = default;
            for (int i = 0; i < where.Rank; i++) strides[i] = Views.Decompose(where.Strides[i], contiguous, outerFirst, w.Strides);
            int offset = w.Offset + Views.Decompose(where.Offset, contiguous, outerFirst, w.Strides);
            int view = c.NewView(whole, where.Shape.AsSpan(where.Rank), strides, offset);
            if (Recorder.ShouldRecord(c, whole)) Recorder.Record(c, OpKind.RegionOf, view, whole, -1, where);
            return view;
        }

        /// <summary>A contiguous copy of <paramref name="whole"/> with the part at <paramref name="where"/> set to zero.</summary>
        public static int Zeroed(TensorContext c, int whole, in ViewGeometry where)
        {
            int result = StridedCopy.Clone(c, whole, temporary: false);
            int zero = c.NewTensor(c.Records[whole].DType, [], zero: true, temporary: true);
            StridedCopy.CopyRegion(c, zero, default, 0, result, where.Strides, where.Offset, where.Shape, where.Rank);
            c.ReleaseTemporary(zero);
            if (Recorder.ShouldRecord(c, whole)) Recorder.Record(c, OpKind.RegionZeroed, result, whole, -1, where);
            return result;
        }

        // ---- rows ----

        internal static readonly OpRow ScatterRow = new("AsStridedScatterBackward0", Saves.None, &ScatterRule);
        // the same op as select's and slice's gradients (select_backward, slice_backward in PyTorch)
        internal static readonly OpRow SelectBackwardRow = new("SelectBackwardBackward0", Saves.None, &ScatterRule);
        internal static readonly OpRow SliceBackwardRow = new("SliceBackwardBackward0", Saves.None, &ScatterRule);
        internal static readonly OpRow RegionOfRow = new("AsStridedBackward0", Saves.None, &RegionOfRule);
        internal static readonly OpRow ZeroedRow = new("ZeroRegionBackward0", Saves.None, &ZeroedRule);

        // scatter(part): part: grad[where]
        private static void ScatterRule(ref Backward b) => b.Out(0, Var.RegionOf(b.Grad, Recorder.Geometry(b.C, b.Args)));

        // of(whole): whole: zeros(whole's shape) with grad at where
        private static void RegionOfRule(ref Backward b)
        {
            Var whole = b.Input(0);
            b.Out(0, Var.RegionScatter(b.Grad, whole.Shape, whole.Rank, Recorder.Geometry(b.C, b.Args)));
        }

        // zeroed(whole): whole: grad with the part zeroed
        private static void ZeroedRule(ref Backward b) => b.Out(0, Var.RegionZeroed(b.Grad, Recorder.Geometry(b.C, b.Args)));
    }
}
