using System.Runtime.CompilerServices;
using System.Numerics;
using AutogradFast.Graph;
using AutogradFast.Ops;
using AutogradFast.Simd;
using AutogradFast.Storage;
using static AutogradFast.Ops.OpSupport;

namespace AutogradFast
{
    // Reductions to a 0-d tensor.
    public readonly partial struct Tensor
    {
        /// <summary><c>x.sum()</c>: integer and bool tensors sum to int64, as in PyTorch.</summary>
        public Tensor Sum() => Reduction.Sum(this, OpKind.Sum);

        /// <summary><c>x.mean()</c> (floating point only, as in PyTorch).</summary>
        public Tensor Mean() => Reduction.Sum(this, OpKind.Mean);

        /// <summary><c>x.norm()</c>: the 2-norm of all elements.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)] // an entry point: a root of its own (README, "Inlining")
        public Tensor Norm()
        {
            TensorContext c = Ctx;
            return new Tensor(c, Reduction.Norm(c, Slot));
        }
    }
}

namespace AutogradFast.Ops
{
    internal static unsafe class Reduction
    {
        [MethodImpl(MethodImplOptions.NoInlining)] // an entry point: a root of its own (README, "Inlining")
        public static Tensor Sum(Tensor a, OpKind kind)
        {
            TensorContext c = a.Ctx;
            return new Tensor(c, Sum(c, a.Slot, kind));
        }

        public static int Sum(TensorContext c, int a, OpKind kind)
        {
            DType dtype = c.Records[a].DType;
            if (kind == OpKind.Mean && !dtype.IsFloatingPoint()) ThrowHelper.MeanOfIntegers(dtype);
            DType resultType = dtype.IsFloatingPoint() ? dtype : DType.Int64;
            int source = dtype == resultType ? StridedCopy.ContiguousOrSelf(c, a) : StridedCopy.CastToTemporary(c, a, resultType);
            int n = c.Records[source].NumEl;
            int result = c.NewTensor(resultType, [], zero: false);
            switch (resultType)
            {
                case DType.Float32: { float s = SumOf<float>(c, source, n); *c.Pointer<float>(result) = kind == OpKind.Mean ? s / n : s; break; }
                case DType.Float64: { double s = SumOf<double>(c, source, n); *c.Pointer<double>(result) = kind == OpKind.Mean ? s / n : s; break; }
                default: *c.Pointer<long>(result) = Reductions.Sum(c.Pointer<long>(source), n); break;
            }
            if (source != a) c.ReleaseTemporary(source);
            if (Recorder.ShouldRecord(c, a)) Recorder.Record(c, kind, result, a, scalar: n);
            return result;
        }

        /// <summary>A pending (deferred) input is summed block by block as it is computed, never written out.</summary>
        private static T SumOf<T>(TensorContext c, int source, int n) where T : unmanaged, INumber<T>
        {
            ref TensorRecord r = ref c.Records[source];
            return r.IsPending ? Fusion.Sum<T>(c, r.PendingExpression) : Reductions.Sum(c.Pointer<T>(source), n);
        }

        /// <summary>
        /// Sums <paramref name="a"/> over the dimensions <paramref name="shape"/> broadcasts (PyTorch's
        /// sum_to_size): the engine's one way of undoing broadcasting, differentiable (its rule expands).
        /// A shape with more dimensions keeps its extra leading 1s.
        /// </summary>
        public static int SumToSize(TensorContext c, int a, in Dims shape, int rank)
        {
            int source = StridedCopy.ContiguousOrSelf(c, a); // summing reads rows of dense memory
            int result = Broadcasting.SumToShape(c, source, shape, rank, temporary: false);
            if (source != a) c.ReleaseTemporary(source);
            if (Recorder.ShouldRecord(c, a))
            {
                int leading = c.Records[a].Rank - rank;
                OpKind kind = rank == 0 ? OpKind.SumToScalar : leading > 0 ? OpKind.SumToSizeView : OpKind.SumToSize;
                Recorder.Record(c, kind, result, a);
            }
            return result;
        }

        public static int Norm(TensorContext c, int a)
        {
            DType dtype = c.Records[a].DType;
            if (!dtype.IsFloatingPoint()) ThrowHelper.FloatingPointRequired("norm", dtype);
            int source = StridedCopy.ContiguousOrSelf(c, a);
            int n = c.Records[source].NumEl;
            int result = c.NewTensor(dtype, [], zero: false);
            if (dtype == DType.Float32) *c.Pointer<float>(result) = MathF.Sqrt(Reductions.Dot(c.Pointer<float>(source), c.Pointer<float>(source), n));
            else *c.Pointer<double>(result) = Math.Sqrt(Reductions.Dot(c.Pointer<double>(source), c.Pointer<double>(source), n));
            if (source != a) c.ReleaseTemporary(source);
            if (Recorder.ShouldRecord(c, a)) Recorder.Record(c, OpKind.Norm, result, a);
            return result;
        }

        // ---- rows ----

        internal static readonly OpRow SumRow = new("SumBackward0", Saves.None, &SumRule);
        internal static readonly OpRow MeanRow = new("MeanBackward0", Saves.None, &MeanRule);
        internal static readonly OpRow NormRow = new("NormBackward1", Saves.Self | Saves.Result, &NormRule);
        internal static readonly OpRow SumToSizeRow = new("SumBackward1", Saves.None, &SumToSizeRule);
        internal static readonly OpRow SumToSizeViewRow = new("ViewBackward0", Saves.None, &SumToSizeRule);
        internal static readonly OpRow SumToScalarRow = new("SumBackward0", Saves.None, &SumToSizeRule);

        // sum: self: grad.expand(self.sizes())     (a stride-0 view: no memory is written)
        private static void SumRule(ref Backward b)
        {
            Var x = b.Input(0);
            b.Out(0, b.Grad.Expand(x.Shape, x.Rank));
        }

        // mean: self: (grad / numel).expand(self.sizes())
        private static void MeanRule(ref Backward b)
        {
            Var x = b.Input(0);
            b.Out(0, (b.LastGrad / b.Scalar).Expand(x.Shape, x.Rank));
        }

        // norm: self: self * (grad / result), 0 where result is 0 (PyTorch masks it)
        private static void NormRule(ref Backward b)
        {
            Var scale = Var.Where(b.Result.EqualTo(0), b.Result.Constant(0), b.Grad / b.Result);
            b.Out(0, b.Self * scale);
        }

        // sum_to_size: self: grad.expand(self.sizes()); a sum to a shape with more (leading, size-1) dims
        // than self (an index-assigned value of shape [1, 1, 3] summed from a row of 3) drops them first
        private static void SumToSizeRule(ref Backward b)
        {
            Var x = b.Input(0);
            Var g = b.Grad;
            while (g.Rank > x.Rank) g = g.Squeeze(0);
            b.Out(0, g.Expand(x.Shape, x.Rank));
        }
    }
}
