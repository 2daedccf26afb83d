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
        public static Tensor Dot(Tensor a, Tensor b) => Products.Dot(a, b);

        /// <summary><c>torch.mm(a, b)</c>: 2-D by 2-D.</summary>
        public static Tensor Mm(Tensor a, Tensor b) => Products.Mm(a, b);

        /// <summary><c>torch.mv(a, v)</c>: 2-D by 1-D.</summary>
        public static Tensor Mv(Tensor a, Tensor v) => Products.Mv(a, v);

        /// <summary><c>torch.matmul(a, b)</c> (Python's <c>a @ b</c>) for 1-D and 2-D operands.</summary>
        public static Tensor MatMul(Tensor a, Tensor b) => Products.MatMul(a, b);

        public Tensor Dot(Tensor other) => Products.Dot(this, other);

        public Tensor Mm(Tensor other) => Products.Mm(this, other);

        public Tensor MatMul(Tensor other) => Products.MatMul(this, other);
    }
}

namespace AutogradFast.Ops
{
    internal enum GemmLayout : byte { NN, NT, TN }

    internal static unsafe class Products
    {
        // dot: grad_a = grad * b; grad_b = grad * a
        public static Tensor Dot(Tensor a, Tensor b)
        {
            TensorContext c = ContextOf(a, b);
            ref TensorRecord ra = ref c.Records[a.Slot];
            ref TensorRecord rb = ref c.Records[b.Slot];
            if (ra.Rank != 1 || rb.Rank != 1) ThrowHelper.DotRank(ra.Rank, rb.Rank);
            if (ra.NumEl != rb.NumEl) ThrowHelper.DotSize(ra.NumEl, rb.NumEl);
            if (ra.DType != rb.DType) ThrowHelper.DotDType(ra.DType, rb.DType);
            DType dtype = ra.DType;
            if (dtype == DType.Bool) ThrowHelper.BoolArithmetic("dot");
            int ca = StridedCopy.ContiguousOrSelf(c, a.Slot), cb = StridedCopy.ContiguousOrSelf(c, b.Slot);
            int n = ra.NumEl;
            int result = c.NewTensor(dtype, [], zero: false);
            switch (dtype)
            {
                case DType.Float32: *c.Pointer<float>(result) = Reductions.Dot(c.Pointer<float>(ca), c.Pointer<float>(cb), n); break;
                case DType.Float64: *c.Pointer<double>(result) = Reductions.Dot(c.Pointer<double>(ca), c.Pointer<double>(cb), n); break;
                default: *c.Pointer<long>(result) = Reductions.Dot(c.Pointer<long>(ca), c.Pointer<long>(cb), n); break;
            }
            ReleaseIfCopy(c, ca, a.Slot);
            ReleaseIfCopy(c, cb, b.Slot);
            if (Recorder.ShouldRecord(c, a.Slot, b.Slot))
            {
                ref Node node = ref Recorder.Record(c, OpKind.Dot, result, a.Slot, b.Slot);
                Recorder.Save(c, ref node, a.Slot, b.Slot);
            }
            return new Tensor(c, result);
        }

        public static void DotBackward(TensorContext c, ref Node n, int g, out int g0, out int g1)
        {
            if (n.Saved0 == n.Saved1 && n.Edge0 == n.Edge1 && n.Edge0 != Node.NoEdge)
            {
                // x.dot(x): both gradients go to the same place; g * (2 * x) in one pass equals g*x + g*x bit for bit.
                g0 = GradMap<GradTimesScaledOperator>(c, n.Input0, Operand.Of(g), Operand.Of(n.Saved0), Operand.Of(2.0));
                g1 = -1;
                return;
            }
            g0 = n.Edge0 != Node.NoEdge ? GradMap<MultiplyOperator>(c, n.Input0, Operand.Of(g), Operand.Of(n.Saved1)) : -1;
            g1 = n.Edge1 != Node.NoEdge ? GradMap<MultiplyOperator>(c, n.Input1, Operand.Of(g), Operand.Of(n.Saved0)) : -1;
        }

        // mm: grad_a = grad · bᵀ; grad_b = aᵀ · grad
        public static Tensor Mm(Tensor a, Tensor b)
        {
            TensorContext c = ContextOf(a, b);
            ref TensorRecord ra = ref c.Records[a.Slot];
            ref TensorRecord rb = ref c.Records[b.Slot];
            if (ra.Rank != 2) ThrowHelper.MatrixExpected("self");
            if (rb.Rank != 2) ThrowHelper.MatrixExpected("mat2");
            if (ra.Shape[1] != rb.Shape[0]) ThrowHelper.MmShapes(ra.Shape[0], ra.Shape[1], rb.Shape[0], rb.Shape[1]);
            if (ra.DType != rb.DType) ThrowHelper.ScalarTypeMismatch(ra.DType, rb.DType);
            int m = ra.Shape[0], k = ra.Shape[1], n = rb.Shape[1];
            int result = c.NewTensor(ra.DType, [m, n], zero: false);
            Multiply(c, GemmLayout.NN, a.Slot, b.Slot, result, m, k, n);
            if (Recorder.ShouldRecord(c, a.Slot, b.Slot))
            {
                ref Node node = ref Recorder.Record(c, OpKind.Mm, result, a.Slot, b.Slot);
                Recorder.Save(c, ref node, a.Slot, b.Slot);
            }
            return new Tensor(c, result);
        }

        public static void MmBackward(TensorContext c, ref Node n, int g, out int g0, out int g1)
        {
            ref TensorRecord ra = ref c.Records[n.Saved0];
            ref TensorRecord rb = ref c.Records[n.Saved1];
            int m = ra.Shape[0], k = ra.Shape[1], cols = rb.Shape[1];
            g0 = g1 = -1;
            if (n.Edge0 != Node.NoEdge)
            {
                g0 = c.NewTensor(ra.DType, [m, k], zero: false, temporary: true);
                Multiply(c, GemmLayout.NT, g, n.Saved1, g0, m, cols, k);
            }
            if (n.Edge1 != Node.NoEdge)
            {
                g1 = c.NewTensor(rb.DType, [k, cols], zero: false, temporary: true);
                Multiply(c, GemmLayout.TN, n.Saved0, g, g1, k, m, cols);
            }
        }

        // mv: grad_a = grad ⊗ v; grad_v = aᵀ · grad
        public static Tensor Mv(Tensor a, Tensor v)
        {
            TensorContext c = ContextOf(a, v);
            ref TensorRecord ra = ref c.Records[a.Slot];
            ref TensorRecord rv = ref c.Records[v.Slot];
            if (ra.Rank != 2 || rv.Rank != 1) ThrowHelper.MatMulShapes(a.Shape, v.Shape);
            if (ra.Shape[1] != rv.Shape[0]) ThrowHelper.MvSize(ra.Shape[0], ra.Shape[1], rv.Shape[0]);
            if (ra.DType != rv.DType) ThrowHelper.ScalarTypeMismatch(ra.DType, rv.DType);
            int m = ra.Shape[0], k = ra.Shape[1];
            int result = c.NewTensor(ra.DType, [m], zero: false);
            Multiply(c, GemmLayout.NT, a.Slot, v.Slot, result, m, k, 1);
            if (Recorder.ShouldRecord(c, a.Slot, v.Slot))
            {
                ref Node node = ref Recorder.Record(c, OpKind.Mv, result, a.Slot, v.Slot);
                Recorder.Save(c, ref node, a.Slot, v.Slot);
            }
            return new Tensor(c, result);
        }

        public static void MvBackward(TensorContext c, ref Node n, int g, out int g0, out int g1)
        {
            ref TensorRecord ra = ref c.Records[n.Saved0];
            int m = ra.Shape[0], k = ra.Shape[1];
            g0 = g1 = -1;
            if (n.Edge0 != Node.NoEdge)
            {
                g0 = c.NewTensor(ra.DType, [m, k], zero: false, temporary: true);
                Multiply(c, GemmLayout.NN, g, n.Saved1, g0, m, 1, k);
            }
            if (n.Edge1 != Node.NoEdge)
            {
                g1 = c.NewTensor(ra.DType, [k], zero: false, temporary: true);
                Multiply(c, GemmLayout.TN, n.Saved0, g, g1, k, m, 1);
            }
        }

        /// <summary>matmul: dot, mv, mm, or for 1-D @ 2-D an unsqueeze, mm and squeeze, as PyTorch records it.</summary>
        public static Tensor MatMul(Tensor a, Tensor b)
        {
            int ra = a.Dim(), rb = b.Dim();
            if (ra == 1 && rb == 1) return Dot(a, b);
            if (ra == 2 && rb == 2) return Mm(a, b);
            if (ra == 2 && rb == 1)
            {
                if (a.Size(1) != b.Size(0)) ThrowHelper.MvSize(a.Size(0), a.Size(1), b.Size(0));
                return Mv(a, b);
            }
            if (ra == 1 && rb == 2)
            {
                if (a.Size(0) != b.Size(0)) ThrowHelper.MmShapes(1, a.Size(0), b.Size(0), b.Size(1));
                return Views.Squeeze(Mm(a.Unsqueeze(0), b), 0);
            }
            ThrowHelper.MatMulRank(ra, rb);
            return default;
        }

        /// <summary>Runs a GEMM layout on the operand slots, copied contiguous (or cast to the result's dtype) where needed.</summary>
        public static void Multiply(TensorContext c, GemmLayout layout, int a, int b, int result, int m, int k, int n)
        {
            DType dtype = c.Records[result].DType;
            int ca = ContiguousOf(c, a, dtype), cb = ContiguousOf(c, b, dtype);
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

        /// <summary>The slot itself, or a contiguous temporary in <paramref name="dtype"/> (a float64 gradient for float32 operands).</summary>
        private static int ContiguousOf(TensorContext c, int slot, DType dtype)
            => c.Records[slot].DType != dtype ? StridedCopy.CastToTemporary(c, slot, dtype) : StridedCopy.ContiguousOrSelf(c, slot);

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
    }
}
