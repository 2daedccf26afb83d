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

        public static int Mm(TensorContext c, int a, int b)
        {
            ref TensorRecord ra = ref c.Records[a];
            ref TensorRecord rb = ref c.Records[b];
            if (ra.Rank != 2) ThrowHelper.MatrixExpected("self");
            if (rb.Rank != 2) ThrowHelper.MatrixExpected("mat2");
            if (ra.Shape[1] != rb.Shape[0]) ThrowHelper.MmShapes(ra.Shape[0], ra.Shape[1], rb.Shape[0], rb.Shape[1]);
            if (ra.DType != rb.DType) ThrowHelper.ScalarTypeMismatch(ra.DType, rb.DType);
            int m = ra.Shape[0], k = ra.Shape[1], n = rb.Shape[1];
            int result = c.NewTensor(ra.DType, [m, n], zero: false);
            Multiply(c, a, b, result, m, k, n);
            if (Recorder.ShouldRecord(c, a, b)) Recorder.Record(c, OpKind.Mm, result, a, b);
            return result;
        }

        public static int Mv(TensorContext c, int a, int v)
        {
            ref TensorRecord ra = ref c.Records[a];
            ref TensorRecord rv = ref c.Records[v];
            if (ra.Rank != 2 || rv.Rank != 1) ThrowHelper.MatMulShapes(new Size(ra.Shape, ra.Rank), new Size(rv.Shape, rv.Rank));
            if (ra.Shape[1] != rv.Shape[0]) ThrowHelper.MvSize(ra.Shape[0], ra.Shape[1], rv.Shape[0]);
            if (ra.DType != rv.DType) ThrowHelper.ScalarTypeMismatch(ra.DType, rv.DType);
            int m = ra.Shape[0], k = ra.Shape[1];
            int result = c.NewTensor(ra.DType, [m], zero: false);
            Multiply(c, a, v, result, m, k, 1);
            if (Recorder.ShouldRecord(c, a, v)) Recorder.Record(c, OpKind.Mv, result, a, v);
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
        /// result = a · b for a [m, k] and b [k, n] (or a vector [k] when n = 1).
        /// A transposed view of a contiguous matrix is read in place through the NT or TN layout (the
        /// backward products <c>grad · otherᵀ</c> and <c>selfᵀ · grad</c> never copy); any other layout,
        /// or a dtype other than the result's, is copied contiguous first.
        /// </summary>
        private static void Multiply(TensorContext c, int a, int b, int result, int m, int k, int n)
        {
            DType dtype = c.Records[result].DType;
            int ca = GemmOperand(c, a, dtype, m, k, out bool aTransposed);
            int cb = GemmOperand(c, b, dtype, k, n, out bool bTransposed);
            if (aTransposed && bTransposed)
            {
                // No TT kernel: read b through a contiguous copy.
                int copy = StridedCopy.Clone(c, b, temporary: true);
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
        /// An operand of logical shape [rows, cols] (a vector is one row or one column): itself when its
        /// rows are contiguous, itself marked transposed when its columns are (the transpose of a contiguous
        /// [cols, rows] matrix), else a contiguous temporary (also when its dtype is not <paramref name="dtype"/>).
        /// </summary>
        private static int GemmOperand(TensorContext c, int slot, DType dtype, int rows, int cols, out bool transposed)
        {
            transposed = false;
            ref TensorRecord r = ref c.Records[slot];
            if (r.DType != dtype) return StridedCopy.CastToTemporary(c, slot, dtype);
            if (r.IsContiguous || r.IsPending) return slot;
            if (r.Rank == 2 && (r.Strides[0] == 1 || rows == 1) && (r.Strides[1] == rows || cols == 1))
            {
                transposed = true;
                return slot;
            }
            return StridedCopy.Clone(c, slot, temporary: true);
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
                b.Out(0, Var.DoubledProduct(b.Grad, b.Self));
                return;
            }
            if (b.Needs(0)) b.Out(0, b.Grad * b.Other);
            if (b.Needs(1)) b.Out(1, b.Grad * b.Self);
        }

        // mm: self: grad.mm(mat2.t()); mat2: self.t().mm(grad)
        private static void MmRule(ref Backward b)
        {
            if (b.Needs(0)) b.Out(0, Var.Mm(b.Grad, b.Other.T()));
            if (b.Needs(1)) b.Out(1, Var.Mm(b.Self.T(), b.Grad));
        }

        // mv: self: grad.ger(vec) = grad.unsqueeze(1) * vec (an outer product by broadcasting); vec: self.t().mv(grad)
        private static void MvRule(ref Backward b)
        {
            if (b.Needs(0)) b.Out(0, b.Grad.Unsqueeze(1) * b.Other);
            if (b.Needs(1)) b.Out(1, Var.Mv(b.Self.T(), b.Grad));
        }
    }
}
