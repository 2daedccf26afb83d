using System.Numerics;
using System.Numerics.Tensors;
using AutogradFast.Graph;
using AutogradFast.Ops;
using AutogradFast.Simd;
using AutogradFast.Storage;
using AutogradFast.Threading;
using static AutogradFast.Ops.OpSupport;

namespace AutogradFast
{
    // pow, exp, log and the activations.
    public readonly partial struct Tensor
    {
        /// <summary><c>x ** exponent</c> for any real exponent (integer tensors compute in float32).</summary>
        public Tensor Pow(double exponent)
        {
            TensorContext c = Ctx;
            return new Tensor(c, Exponential.Pow(c, Slot, exponent));
        }

        /// <summary><c>torch.exp(x)</c></summary>
        public Tensor Exp() => Exponential.Transcendental(this, OpKind.Exp);

        /// <summary><c>torch.log(x)</c></summary>
        public Tensor Log() => Exponential.Transcendental(this, OpKind.Log);

        /// <summary><c>torch.tanh(x)</c></summary>
        public Tensor Tanh() => Exponential.Transcendental(this, OpKind.Tanh);

        /// <summary><c>torch.sigmoid(x)</c></summary>
        public Tensor Sigmoid() => Exponential.Transcendental(this, OpKind.Sigmoid);

        /// <summary><c>torch.relu(x)</c></summary>
        public Tensor Relu() => Exponential.Transcendental(this, OpKind.Relu);
    }
}

namespace AutogradFast.Ops
{
    internal static unsafe class Exponential
    {
        public static int Pow(TensorContext c, int a, double p)
        {
            DType dtype = FloatingResult(c.Records[a].DType);
            int result = PowForward(c, a, p, dtype, temporary: false);
            if (Recorder.ShouldRecord(c, a)) Recorder.Record(c, OpKind.PowScalar, result, a, scalar: p);
            return result;
        }

        /// <summary>x^p with PyTorch's special cases (x*x for 2, x*x*x for 3, sqrt for 0.5 ...), so results match it bit for bit.</summary>
        internal static int PowForward(TensorContext c, int x, double p, DType dtype, bool temporary)
        {
            ref TensorRecord r = ref c.Records[x];
            ReadOnlySpan<int> shape = r.Shape.AsSpan(r.Rank);
            Operand a = Operand.Of(x);
            switch (p)
            {
                case 0:
                    int ones = c.NewTensor(dtype, shape, zero: false, temporary);
                    Fill.Scalar(c, ones, 1);
                    return ones;
                case 1: return Elementwise<CopyOperator>(c, dtype, shape, temporary, a, default, default);
                case 2: return Elementwise<SquareOperator>(c, dtype, shape, temporary, a, default, default);
                case 3: return Elementwise<CubeOperator>(c, dtype, shape, temporary, a, default, default);
                case -1: return Elementwise<DivideOperator>(c, dtype, shape, temporary, Operand.Of(1.0), a, default);
                default: return Transcendental(c, x, dtype, temporary, p == 0.5 ? TranscendentalFunction.Sqrt : TranscendentalFunction.Pow, p);
            }
        }

        /// <summary>
        /// pow's backward kernel, <c>grad * (p * self^(p-1))</c> in PyTorch's order (zeros for p = 0),
        /// one pass where p is 2. An op with a derivative of its own (<see cref="PowBackwardRow"/>).
        /// </summary>
        public static int PowBackward(TensorContext c, int grad, int self, double p, int reusable = -1)
        {
            ref TensorRecord g = ref c.Records[grad];
            int rank = Broadcasting.BroadcastShape(g, c.Records[self], out Dims shape);
            DType dtype = g.DType;
            int result;
            if (p == 0) result = c.NewTensor(dtype, shape.AsSpan(rank), zero: true);
            else if (p == 2) result = ElementwiseReusing<GradTimesScaledOperator>(c, reusable, dtype, shape.AsSpan(rank), Operand.Of(grad), Operand.Of(self), Operand.Of(p));
            else
            {
                int power = PowForward(c, self, p - 1, dtype, temporary: true); // inside the fused kernel: never part of a graph
                result = ElementwiseReusing<GradTimesScaledOperator>(c, reusable, dtype, shape.AsSpan(rank), Operand.Of(grad), Operand.Of(power), Operand.Of(p));
                c.ReleaseTemporary(power);
            }
            if (Recorder.ShouldRecord(c, grad, self)) Recorder.Record(c, OpKind.PowBackward, result, grad, self, scalar: p);
            return result;
        }

        public static Tensor Transcendental(Tensor a, OpKind kind)
        {
            TensorContext c = a.Ctx;
            return new Tensor(c, Transcendental(c, a.Slot, kind));
        }

        public static int Transcendental(TensorContext c, int a, OpKind kind)
        {
            ref TensorRecord r = ref c.Records[a];
            if (r.DType == DType.Bool && kind == OpKind.Relu) ThrowHelper.BoolArithmetic("relu");
            DType dtype = kind == OpKind.Relu ? r.DType : FloatingResult(r.DType);
            int result = kind switch
            {
                OpKind.Exp => Elementwise<ExpOperator>(c, dtype, r.Shape.AsSpan(r.Rank), temporary: false, Operand.Of(a), default, default),
                OpKind.Log => Transcendental(c, a, dtype, temporary: false, TranscendentalFunction.Log, 0),
                OpKind.Tanh => Transcendental(c, a, dtype, temporary: false, TranscendentalFunction.Tanh, 0),
                OpKind.Sigmoid => Transcendental(c, a, dtype, temporary: false, TranscendentalFunction.Sigmoid, 0),
                OpKind.Relu => Map<ReluOperator>(c, a, dtype, Operand.Of(a)),
                _ => ThrowHelper.NotAnOpOf<int>(kind, "Transcendental"),
            };
            if (Recorder.ShouldRecord(c, a)) Recorder.Record(c, kind, result, a);
            return result;
        }

        /// <summary>The fused backward kernels of tanh, sigmoid and relu: <c>kernel(grad, result)</c>, differentiable in turn.</summary>
        public static int FusedBackward(TensorContext c, int grad, int result, OpKind kind, int reusable = -1)
        {
            ref TensorRecord g = ref c.Records[grad];
            int rank = Broadcasting.BroadcastShape(g, c.Records[result], out Dims shape);
            Operand x = Operand.Of(grad), y = Operand.Of(result);
            int output = kind switch
            {
                OpKind.TanhBackward => ElementwiseReusing<TanhGradOperator>(c, reusable, g.DType, shape.AsSpan(rank), x, y, default),
                OpKind.SigmoidBackward => ElementwiseReusing<SigmoidGradOperator>(c, reusable, g.DType, shape.AsSpan(rank), x, y, default),
                OpKind.ThresholdBackward => ElementwiseReusing<ReluGradOperator>(c, reusable, g.DType, shape.AsSpan(rank), x, y, default),
                _ => ThrowHelper.NotAnOpOf<int>(kind, "FusedBackward"),
            };
            if (Recorder.ShouldRecord(c, grad, result)) Recorder.Record(c, kind, output, grad, result);
            return output;
        }

        // ---- rows ----

        internal static readonly OpRow PowRow = new("PowBackward0", Saves.Self, &PowRule);
        internal static readonly OpRow ExpRow = new("ExpBackward0", Saves.Result, &ExpRule);
        internal static readonly OpRow LogRow = new("LogBackward0", Saves.Self, &LogRule);
        internal static readonly OpRow TanhRow = new("TanhBackward0", Saves.Result, &TanhRule);
        internal static readonly OpRow SigmoidRow = new("SigmoidBackward0", Saves.Result, &SigmoidRule);
        internal static readonly OpRow ReluRow = new("ReluBackward0", Saves.Result, &ReluRule);
        // named as PyTorch names pow_backward's result: its last op is a mul
        internal static readonly OpRow PowBackwardRow = new("MulBackward0", Saves.Self | Saves.Other, &PowBackwardRule);
        internal static readonly OpRow TanhBackwardRow = new("TanhBackwardBackward0", Saves.Self | Saves.Other, &TanhBackwardRule);
        internal static readonly OpRow SigmoidBackwardRow = new("SigmoidBackwardBackward0", Saves.Self | Saves.Other, &SigmoidBackwardRule);
        internal static readonly OpRow ThresholdBackwardRow = new("ThresholdBackwardBackward0", Saves.Other, &ThresholdBackwardRule);

        // pow: self: pow_backward(grad, self, exponent)     = grad * (exponent * self^(exponent - 1))
        private static void PowRule(ref Backward b) => b.Out(0, Var.PowBackward(b.LastGrad, b.Self, b.Scalar));

        // exp: self: grad * result
        private static void ExpRule(ref Backward b) => b.Out(0, b.Grad * b.Result);

        // log: self: grad / self
        private static void LogRule(ref Backward b) => b.Out(0, b.Grad / b.Self);

        // tanh: self: tanh_backward(grad, result)           = grad * (1 - result^2)
        private static void TanhRule(ref Backward b) => b.Out(0, Var.TanhBackward(b.LastGrad, b.Result));

        // sigmoid: self: sigmoid_backward(grad, result)     = grad * (1 - result) * result
        private static void SigmoidRule(ref Backward b) => b.Out(0, Var.SigmoidBackward(b.LastGrad, b.Result));

        // relu: self: threshold_backward(grad, result, 0)   = result > 0 ? grad : 0
        private static void ReluRule(ref Backward b) => b.Out(0, Var.ThresholdBackward(b.LastGrad, b.Result));

        // pow_backward(grad, self, p): grad: pow_backward(g, self, p); self: pow_backward(g * grad, self, p - 1) * p
        private static void PowBackwardRule(ref Backward b)
        {
            double p = b.Scalar;
            if (b.Needs(0)) b.Out(0, Var.PowBackward(b.Grad, b.Other, p));
            if (b.Needs(1) && p != 0) b.Out(1, Var.PowBackward(b.Grad * b.Self, b.Other, p - 1) * p);
        }

        // tanh_backward(grad, y): grad: tanh_backward(g, y); y: -2 * y * grad * g
        private static void TanhBackwardRule(ref Backward b)
        {
            if (b.Needs(0)) b.Out(0, Var.TanhBackward(b.Grad, b.Other));
            if (b.Needs(1)) b.Out(1, b.Other * b.Self * b.Grad * -2.0);
        }

        // sigmoid_backward(grad, y): grad: sigmoid_backward(g, y); y: g * grad * (1 - 2 * y)
        private static void SigmoidBackwardRule(ref Backward b)
        {
            if (b.Needs(0)) b.Out(0, Var.SigmoidBackward(b.Grad, b.Other));
            if (b.Needs(1)) b.Out(1, b.Grad * b.Self * (1.0 - b.Other * 2.0));
        }

        // threshold_backward(grad, y): grad: threshold_backward(g, y); y: zeros_like(g) (a step: flat on each side)
        private static void ThresholdBackwardRule(ref Backward b)
        {
            if (b.Needs(0)) b.Out(0, Var.ThresholdBackward(b.Grad, b.Other));
            if (b.Needs(1)) b.Out(1, b.Grad.ZerosLike());
        }

        /// <summary>f(x) as a new tensor: deferred for fusion when large and the input streams, else computed now.</summary>
        private static int Transcendental(TensorContext c, int x, DType dtype, bool temporary, TranscendentalFunction f, double p)
        {
            ref TensorRecord r = ref c.Records[x];
            ReadOnlySpan<int> shape = r.Shape.AsSpan(r.Rank);
            nint kernel = dtype == DType.Float32
                ? (nint)(delegate*<void*, void*, void*, void*, int, int, int, double, void>)&TranscendentalKernel<float>
                : (nint)(delegate*<void*, void*, void*, void*, int, int, int, double, void>)&TranscendentalKernel<double>;
            int pending = Fusion.TryDefer(c, kernel, (int)f, p, dtype, shape, temporary, Operand.Of(x), default, default);
            if (pending >= 0) return pending;
            int result = c.NewTensor(dtype, shape, zero: false, temporary);
            Transcendentals(c, x, result, f, p);
            return result;
        }

        /// <summary>A fused block of f(x); x may be one value (a broadcast gradient), then every element is f of it.</summary>
        private static void TranscendentalKernel<T>(void* x, void* y, void* z, void* d, int n, int kinds, int function, double p)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            if ((kinds & 1) == 0)
            {
                Apply((TranscendentalFunction)function, new ReadOnlySpan<T>(x, n), new Span<T>(d, n), Numeric.FromDouble<T>(p));
                return;
            }
            Apply((TranscendentalFunction)function, new ReadOnlySpan<T>(x, 1), new Span<T>(d, 1), Numeric.FromDouble<T>(p));
            new Span<T>(d, n).Fill(*(T*)d);
        }

        /// <summary>
        /// Transcendentals come from <see cref="TensorPrimitives"/>, which already has each exact
        /// operation vectorised; the input is made contiguous and of the result's dtype first.
        /// </summary>
        private static void Transcendentals(TensorContext c, int x, int result, TranscendentalFunction f, double p)
        {
            DType dtype = c.Records[result].DType;
            int source = c.Records[x].DType != dtype ? StridedCopy.CastToTemporary(c, x, dtype) : StridedCopy.ContiguousOrSelf(c, x);
            int n = c.Records[result].NumEl;
            if (dtype == DType.Float32) Apply(f, c.Pointer<float>(source), c.Pointer<float>(result), n, (float)p);
            else Apply(f, c.Pointer<double>(source), c.Pointer<double>(result), n, p);
            if (source != x) c.ReleaseTemporary(source);
        }

        /// <summary>Large inputs run in fixed chunks on the worker pool.</summary>
        private static void Apply<T>(TranscendentalFunction f, T* x, T* d, int n, T p) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (!Chunking.ShouldSplit(n))
            {
                Apply(f, new ReadOnlySpan<T>(x, n), new Span<T>(d, n), p);
                return;
            }
            var job = new TranscendentalJob<T> { Function = f, X = x, D = d, Length = n, Exponent = p };
            WorkerPool.For(Chunking.ChunkCount(n), &ApplyChunk<T>, &job);
        }

        private struct TranscendentalJob<T> where T : unmanaged
        {
            public TranscendentalFunction Function;
            public T* X, D;
            public nint Length;
            public T Exponent;
        }

        private static void ApplyChunk<T>(void* state, int chunk) where T : unmanaged, IFloatingPointIeee754<T>
        {
            ref TranscendentalJob<T> job = ref *(TranscendentalJob<T>*)state;
            var (start, length) = Chunking.Range(chunk, job.Length);
            Apply(job.Function, new ReadOnlySpan<T>(job.X + start, (int)length), new Span<T>(job.D + start, (int)length), job.Exponent);
        }

        private static void Apply<T>(TranscendentalFunction f, ReadOnlySpan<T> x, Span<T> d, T p) where T : unmanaged, IFloatingPointIeee754<T>
        {
            switch (f)
            {
                case TranscendentalFunction.Log: TensorPrimitives.Log(x, d); break;
                case TranscendentalFunction.Tanh: TensorPrimitives.Tanh(x, d); break;
                case TranscendentalFunction.Sigmoid: TensorPrimitives.Sigmoid(x, d); break;
                case TranscendentalFunction.Sqrt: TensorPrimitives.Sqrt(x, d); break;
                default: TensorPrimitives.Pow(x, p, d); break;
            }
        }
    }

    /// <summary>What TensorPrimitives computes for us (exp has its own operator, <see cref="ExpOperator"/>).</summary>
    internal enum TranscendentalFunction : byte { Log, Tanh, Sigmoid, Sqrt, Pow }
}
