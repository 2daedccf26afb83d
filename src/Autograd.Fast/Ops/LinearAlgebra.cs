using System.Diagnostics;
using AutogradFast.Graph;
using AutogradFast.LinearAlgebra;
using AutogradFast.Ops;
using AutogradFast.Simd;
using AutogradFast.Storage;
using static AutogradFast.Ops.OpSupport;

namespace AutogradFast
{
    // dot, mm, mv and matmul (@).
    public readonly partial struct Tensor
    {
        /// <summary><c>torch.dot(a, b)</c>: 1-D tensors of equal length and dtype.</summary>
        public static Tensor Dot(Tensor a, Tensor b)
        {
            TensorContext c = ContextOf(a, b);
            return new Tensor(c, Products.Dot(c, a.Slot, b.Slot));
        }

        /// <summary><c>torch.mm(a, b)</c>: 2-D by 2-D.</summary>
        public static Tensor Mm(Tensor a, Tensor b)
        {
            TensorContext c = ContextOf(a, b);
            return new Tensor(c, Products.Mm(c, a.Slot, b.Slot));
        }

        /// <summary><c>torch.mv(a, v)</c>: 2-D by 1-D.</summary>
        public static Tensor Mv(Tensor a, Tensor v)
        {
            TensorContext c = ContextOf(a, v);
            return new Tensor(c, Products.Mv(c, a.Slot, v.Slot));
        }

        /// <summary><c>torch.matmul(a, b)</c> (Python's <c>a @ b</c>) for 1-D and 2-D operands.</summary>
        public static Tensor MatMul(Tensor a, Tensor b)
        {
            TensorContext c = ContextOf(a, b);
            return new Tensor(c, Products.MatMul(c, a.Slot, b.Slot));
        }

        public Tensor Dot(Tensor other) => Dot(this, other);

        public Tensor Mm(Tensor other) => Mm(this, other);

        public Tensor MatMul(Tensor other) => MatMul(this, other);
    }
}

namespace AutogradFast.Ops
{
    internal enum GemmLayout : byte { NN, NT, TN }

    internal static unsafe class Products
    {
        public static int Dot(TensorContext c, int a, int b)
        {
            ref TensorRecord ra = ref c.Records[a];
            ref TensorRecord rb = ref c.Records[b];
            if (ra.Rank != 1 || rb.Rank != 1) ThrowHelper.DotRank(ra.Rank, rb.Rank);
            if (ra.NumEl != rb.NumEl) ThrowHelper.DotSize(ra.NumEl, rb.NumEl);
            if (ra.DType != rb.DType) ThrowHelper.DotDType(ra.DType, rb.DType);
            DType dtype = ra.DType;
            if (dtype == DType.Bool) ThrowHelper.BoolArithmetic("dot");
            int ca = StridedCopy.ContiguousOrSelf(c, a), cb = StridedCopy.ContiguousOrSelf(c, b);
            int n = ra.NumEl;
            int result = c.NewTensor(dtype, [], zero: false);
            switch (dtype)
            {
                case DType.Float32: *c.Pointer<float>(result) = Reductions.Dot(c.Pointer<float>(ca), c.Pointer<float>(cb), n); break;
                case DType.Float64: *c.Pointer<double>(result) = Reductions.Dot(c.Pointer<double>(ca), c.Pointer<double>(cb), n); break;
                default: *c.Pointer<long>(result) = Reductions.Dot(c.Pointer<long>(ca), c.Pointer<long>(cb), n); break;
            }
            ReleaseIfCopy(c, ca, a);
            ReleaseIfCopy(c, cb, b);
            if (Recorder.ShouldRecord(c, a, b)) Recorder.Record(c, OpKind.Dot, result, a, b);
            return result;
        }

        public static int Mm(TensorContext c, int a, int b) => Mm(c, a, false, b, false);

        public static int Mv(TensorContext c, int a, int v) => Mv(c, a, false, v);

        /// <summary>
        /// <c>a.mm(b.t())</c> and <c>a.t().mm(b)</c> (mm's rule), <c>a.t().mv(v)</c> (mv's): when the product
        /// records (createGraph, tangents) it is t() then mm, as PyTorch records it; else the GEMM reads the
        /// stored matrix through its NT or TN layout, with no transposed view made (three view records a
        /// step were a tenth of a small MLP's plain backward).
        /// </summary>
        public static int MmTransposed(TensorContext c, int a, bool transposeA, int b, bool transposeB)
        {
            if (!Recorder.ShouldRecord(c, a, b)) return Mm(c, a, transposeA, b, transposeB);
            return Mm(c, transposeA ? Views.T(c, a) : a, transposeB ? Views.T(c, b) : b);
        }

        /// <inheritdoc cref="MmTransposed"/>
        public static int MvTransposed(TensorContext c, int a, int v)
            => Recorder.ShouldRecord(c, a, v) ? Mv(c, Views.T(c, a), v) : Mv(c, a, true, v);

        /// <summary>mm of a (read as aᵀ when <paramref name="ta"/>) and b (bᵀ when <paramref name="tb"/>); records only untransposed (see <see cref="MmTransposed"/>).</summary>
        private static int Mm(TensorContext c, int a, bool ta, int b, bool tb)
        {
            ref TensorRecord ra = ref c.Records[a];
            ref TensorRecord rb = ref c.Records[b];
            if (ra.Rank != 2) ThrowHelper.MatrixExpected("self");
            if (rb.Rank != 2) ThrowHelper.MatrixExpected("mat2");
            int m = ra.Shape[ta ? 1 : 0], k = ra.Shape[ta ? 0 : 1], kb = rb.Shape[tb ? 1 : 0], n = rb.Shape[tb ? 0 : 1];
            if (k != kb) ThrowHelper.MmShapes(m, k, kb, n);
            if (ra.DType != rb.DType) ThrowHelper.ScalarTypeMismatch(ra.DType, rb.DType);
            int result = c.NewTensor(ra.DType, [m, n], zero: false);
            Multiply(c, a, ta, b, tb, result, m, k, n);
            if (Recorder.ShouldRecord(c, a, b))
            {
                Debug.Assert(!ta && !tb, "a transposed product records as t() and mm");
                Recorder.Record(c, OpKind.Mm, result, a, b);
            }
            return result;
        }

        private static int Mv(TensorContext c, int a, bool ta, int v)
        {
            ref TensorRecord ra = ref c.Records[a];
            ref TensorRecord rv = ref c.Records[v];
            if (ra.Rank != 2 || rv.Rank != 1) ThrowHelper.MatMulShapes(new Size(ra.Shape, ra.Rank), new Size(rv.Shape, rv.Rank));
            int m = ra.Shape[ta ? 1 : 0], k = ra.Shape[ta ? 0 : 1];
            if (k != rv.Shape[0]) ThrowHelper.MvSize(m, k, rv.Shape[0]);
            if (ra.DType != rv.DType) ThrowHelper.ScalarTypeMismatch(ra.DType, rv.DType);
            int result = c.NewTensor(ra.DType, [m], zero: false);
            Multiply(c, a, ta, v, false, result, m, k, 1);
            if (Recorder.ShouldRecord(c, a, v))
            {
                Debug.Assert(!ta, "a transposed product records as t() and mv");
                Recorder.Record(c, OpKind.Mv, result, a, v);
            }
            return result;
        }

        /// <summary>matmul: dot, mv, mm, or for 1-D @ 2-D an unsqueeze, mm and squeeze, as PyTorch records it.</summary>
        public static int MatMul(TensorContext c, int a, int b)
        {
            ref TensorRecord ra = ref c.Records[a];
            ref TensorRecord rb = ref c.Records[b];
            int rankA = ra.Rank, rankB = rb.Rank;
            if (rankA == 1 && rankB == 1) return Dot(c, a, b);
            if (rankA == 2 && rankB == 2) return Mm(c, a, b);
            if (rankA == 2 && rankB == 1) return Mv(c, a, b);
            if (rankA == 1 && rankB == 2)
            {
                if (ra.Shape[0] != rb.Shape[0]) ThrowHelper.MmShapes(1, ra.Shape[0], rb.Shape[0], rb.Shape[1]);
                return Views.Squeeze(c, Mm(c, Views.Unsqueeze(c, a, 0), b), 0, OpKind.SqueezeInPlace);
            }
            ThrowHelper.MatMulRank(rankA, rankB);
            return -1;
        }

        /// <summary>
        /// result = a · b for a [m, k] and b [k, n] (or a vector [k] when n = 1), where <paramref name="ta"/>
        /// says a is stored as its transpose [k, m] (<paramref name="tb"/> likewise). A matrix whose rows or
        /// whose columns are contiguous is read in place through the NN, NT or TN layout (the backward
        /// products <c>grad · otherᵀ</c> and <c>selfᵀ · grad</c> never copy); any other layout, or a dtype
        /// other than the result's, is copied contiguous first.
        /// </summary>
        private static void Multiply(TensorContext c, int a, bool ta, int b, bool tb, int result, int m, int k, int n)
        {
            DType dtype = c.Records[result].DType;
            int ca = GemmOperand(c, a, ta, dtype, m, k, out bool aTransposed);
            int cb = GemmOperand(c, b, tb, dtype, k, n, out bool bTransposed);
            if (aTransposed && bTransposed)
            {
                // No TT kernel: read b through a row-major copy of its [k, n] matrix.
                int rowMajor = tb ? TransposedView(c, cb) : cb;
                int copy = StridedCopy.Clone(c, rowMajor, temporary: true);
                if (rowMajor != cb) c.ReleaseTemporary(rowMajor);
                ReleaseIfCopy(c, cb, b);
                cb = copy;
                bTransposed = false;
            }
            GemmLayout layout = aTransposed ? GemmLayout.TN : bTransposed ? GemmLayout.NT : GemmLayout.NN;
            switch (dtype)
            {
                case DType.Float32: Run(layout, c.Pointer<float>(ca), c.Pointer<float>(cb), c.Pointer<float>(result), m, k, n); break;
                case DType.Float64: Run(layout, c.Pointer<double>(ca), c.Pointer<double>(cb), c.Pointer<double>(result), m, k, n); break;
                case DType.Int64: Run(layout, c.Pointer<long>(ca), c.Pointer<long>(cb), c.Pointer<long>(result), m, k, n); break;
                default: ThrowHelper.BoolArithmetic("matrix multiplication"); break;
            }
            ReleaseIfCopy(c, ca, a);
            ReleaseIfCopy(c, cb, b);
        }

        /// <summary>
        /// An operand of logical shape [rows, cols] (a vector is one row or one column), stored as its
        /// transpose when <paramref name="storedTransposed"/>: itself, and whether the GEMM reads it
        /// transposed (its logical columns are contiguous); else a contiguous temporary of what is stored
        /// (also when its dtype is not <paramref name="dtype"/>).
        /// </summary>
        private static int GemmOperand(TensorContext c, int slot, bool storedTransposed, DType dtype, int rows, int cols, out bool transposed)
        {
            transposed = storedTransposed;
            ref TensorRecord r = ref c.Records[slot];
            if (r.DType != dtype) return StridedCopy.CastToTemporary(c, slot, dtype);
            if (r.IsContiguous || r.IsPending) return slot;
            int storedRows = storedTransposed ? cols : rows, storedCols = storedTransposed ? rows : cols;
            if (r.Rank == 2 && (r.Strides[0] == 1 || storedRows == 1) && (r.Strides[1] == storedRows || storedCols == 1))
            {
                transposed = !storedTransposed; // column-major as stored
                return slot;
            }
            return StridedCopy.Clone(c, slot, temporary: true);
        }

        /// <summary>A temporary transposed view of a matrix, with no history (for the copy of a stored-transposed operand).</summary>
        private static int TransposedView(TensorContext c, int slot)
        {
            ref TensorRecord r = ref c.Records[slot];
            Dims strides = default;
            strides[0] = r.Strides[1];
            strides[1] = r.Strides[0];
            return c.NewView(slot, [r.Shape[1], r.Shape[0]], strides, r.Offset, temporary: true);
        }

        private static void Run<T>(GemmLayout layout, T* a, T* b, T* result, int m, int k, int n) where T : unmanaged, System.Numerics.INumber<T>
        {
            switch (layout)
            {
                case GemmLayout.NN: Gemm.NN(a, b, result, m, k, n); break;
                case GemmLayout.NT: Gemm.NT(a, b, result, m, k, n); break;
                default: Gemm.TN(a, b, result, m, k, n); break;
            }
        }

        private static void ReleaseIfCopy(TensorContext c, int copy, int original)
        {
            if (copy != original) c.ReleaseTemporary(copy);
        }

        // ---- rows ----

        internal static readonly OpRow DotRow = new("DotBackward0", Saves.SelfForOther | Saves.OtherForSelf, &DotRule);
        internal static readonly OpRow MmRow = new("MmBackward0", Saves.SelfForOther | Saves.OtherForSelf, &MmRule);
        internal static readonly OpRow MvRow = new("MvBackward0", Saves.SelfForOther | Saves.OtherForSelf, &MvRule);

        // dot: self: grad * other; other: grad * self
        private static void DotRule(ref Backward b)
        {
            if (b.InputsAreOneTensor)
            {
                // x.dot(x): one gradient, grad * (2 * x), equal to grad*x + grad*x bit for bit.
                b.Out(0, Var.DoubledProduct(b.Grad, b.Self)); // not LastGrad: the 0-d gradient never has the result's shape
                return;
            }
            if (b.Needs(0)) b.Out(0, b.Grad * b.Other);
            if (b.Needs(1)) b.Out(1, b.Grad * b.Self);
        }

        // mm: self: grad.mm(mat2.t()); mat2: self.t().mm(grad)
        private static void MmRule(ref Backward b)
        {
            if (b.Needs(0)) b.Out(0, Var.MmT(b.Grad, b.Other));
            if (b.Needs(1)) b.Out(1, Var.TMm(b.Self, b.Grad));
        }

        // mv: self: grad.ger(vec) = grad.unsqueeze(1) * vec (an outer product by broadcasting); vec: self.t().mv(grad)
        private static void MvRule(ref Backward b)
        {
            if (b.Needs(0)) b.Out(0, b.Grad.Unsqueeze(1) * b.Other);
            if (b.Needs(1)) b.Out(1, Var.TMv(b.Self, b.Grad));
        }
    }
}
