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
        public Tensor Norm() => Reduction.Norm(this);
    }
}

namespace AutogradFast.Ops
{
    internal static unsafe class Reduction
    {
        // sum:  grad_a = grad expanded to a's shape
        // mean: grad_a = grad expanded / numel
        public static Tensor Sum(Tensor a, OpKind kind)
        {
            TensorContext c = a.Ctx;
            DType dtype = c.Records[a.Slot].DType;
            if (kind == OpKind.Mean && !dtype.IsFloatingPoint())
                throw new InvalidOperationException($"mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {dtype.ScalarTypeName()}");
            DType resultType = dtype.IsFloatingPoint() ? dtype : DType.Int64;
            int source = dtype == resultType ? StridedCopy.ContiguousOrSelf(c, a.Slot) : StridedCopy.CastToTemporary(c, a.Slot, resultType);
            int n = c.Records[source].NumEl;
            int result = c.NewTensor(resultType, [], zero: false);
            switch (resultType)
            {
                case DType.Float32: { float s = SumOf<float>(c, source, n); *c.Pointer<float>(result) = kind == OpKind.Mean ? s / n : s; break; }
                case DType.Float64: { double s = SumOf<double>(c, source, n); *c.Pointer<double>(result) = kind == OpKind.Mean ? s / n : s; break; }
                default: *c.Pointer<long>(result) = Reductions.Sum(c.Pointer<long>(source), n); break;
            }
            if (source != a.Slot) c.ReleaseTemporary(source);
            if (Recorder.ShouldRecord(c, a.Slot))
            {
                ref Node node = ref Recorder.Record(c, kind, result, a.Slot);
                node.Scalar = n;
            }
            return new Tensor(c, result);
        }

        /// <summary>A pending (deferred) input is summed block by block as it is computed, never written out.</summary>
        private static T SumOf<T>(TensorContext c, int source, int n) where T : unmanaged, INumber<T>
        {
            ref TensorRecord r = ref c.Records[source];
            return r.IsPending ? Fusion.Sum<T>(c, r.PendingExpression) : Reductions.Sum(c.Pointer<T>(source), n);
        }

        /// <summary>
        /// The gradient of a sum is one value repeated: it is handed on as a broadcast view (stride 0)
        /// of the input's shape instead of being written out; the next rule reads it as a scalar.
        /// </summary>
        public static int SumBackward(TensorContext c, ref Node n, int g)
        {
            int value = n.Kind == OpKind.Sum ? g : GradMap<DivideOperator>(c, g, Operand.Of(g), Operand.Of(n.Scalar));
            int expanded = c.NewBroadcastTemporary(value, n.Input0);
            if (value != g) c.ReleaseTemporary(value);
            return expanded;
        }

        // norm: grad_a = a * (grad / y)     (0 where y == 0)
        public static Tensor Norm(Tensor a)
        {
            TensorContext c = a.Ctx;
            DType dtype = c.Records[a.Slot].DType;
            if (!dtype.IsFloatingPoint()) ThrowHelper.FloatingPointRequired("norm", dtype);
            int source = StridedCopy.ContiguousOrSelf(c, a.Slot);
            int n = c.Records[source].NumEl;
            int result = c.NewTensor(dtype, [], zero: false);
            if (dtype == DType.Float32) *c.Pointer<float>(result) = MathF.Sqrt(Reductions.Dot(c.Pointer<float>(source), c.Pointer<float>(source), n));
            else *c.Pointer<double>(result) = Math.Sqrt(Reductions.Dot(c.Pointer<double>(source), c.Pointer<double>(source), n));
            if (source != a.Slot) c.ReleaseTemporary(source);
            if (Recorder.ShouldRecord(c, a.Slot))
            {
                ref Node node = ref Recorder.Record(c, OpKind.Norm, result, a.Slot);
                Recorder.Save(c, ref node, a.Slot, result);
            }
            return new Tensor(c, result);
        }

        public static int NormBackward(TensorContext c, ref Node n, int g)
        {
            double scale = c.Records[g].DType == DType.Float32 ? Scale<float>(c, g, n.Saved1) : Scale<double>(c, g, n.Saved1);
            return GradMap<MultiplyOperator>(c, n.Input0, Operand.Of(n.Saved0), Operand.Of(scale));
        }

        /// <summary>grad / norm in the tensor's precision, 0 for a zero norm (PyTorch masks it).</summary>
        private static double Scale<T>(TensorContext c, int g, int norm) where T : unmanaged, INumber<T>
        {
            T y = *c.Pointer<T>(norm);
            return y == T.Zero ? 0 : Numeric.ToDouble(*c.Pointer<T>(g) / y);
        }
    }
}
