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
        public Tensor Pow(double exponent) => Exponential.Pow(this, exponent);

        /// <summary><c>torch.exp(x)</c></summary>
        public Tensor Exp() => Exponential.Transcendental(this, OpKind.Exp);

        /// <summary><c>torch.log(x)</c></summary>
        public Tensor Log() => Exponential.Transcendental(this, OpKind.Log);

        /// <summary><c>torch.tanh(x)</c></summary>
        public Tensor Tanh() => Exponential.Transcendental(this, OpKind.Tanh);

        /// <summary><c>torch.sigmoid(x)</c></summary>
        public Tensor Sigmoid() => Exponential.Transcendental(this, OpKind.Sigmoid);

        /// <summary><c>torch.relu(x)</c></summary>
        public Tensor Relu() => Exponential.Relu(this);
    }
}

namespace AutogradFast.Ops
{
    internal static unsafe class Exponential
    {
        // pow: grad_a = grad * (p * a^(p-1))      (0 where p == 0)
        public static Tensor Pow(Tensor a, double p)
        {
            TensorContext c = a.Ctx;
            DType dtype = FloatingResult(c.Records[a.Slot].DType);
            int result = PowForward(c, a.Slot, p, dtype, temporary: false);
            if (Recorder.ShouldRecord(c, a.Slot))
            {
                ref Node n = ref Recorder.Record(c, OpKind.PowScalar, result, a.Slot);
                Recorder.Save(c, ref n, a.Slot);
                n.Scalar = p;
            }
            return new Tensor(c, result);
        }

        /// <summary>x^p with PyTorch's special cases (x*x for 2, x*x*x for 3, sqrt for 0.5 ...), so results match it bit for bit.</summary>
        private static int PowForward(TensorContext c, int x, double p, DType dtype, bool temporary)
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

        public static int PowBackward(TensorContext c, ref Node n, int g)
        {
            double p = n.Scalar;
            if (p == 0) return GradMap<MultiplyOperator>(c, g, Operand.Of(g), Operand.Of(0.0));
            if (p == 2) return GradMap<GradTimesScaledOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved0), Operand.Of(p));
            int power = PowForward(c, n.Saved0, p - 1, c.Records[g].DType, temporary: true);
            int grad = GradMap<GradTimesScaledOperator>(c, g, Operand.Of(g), Operand.Of(power), Operand.Of(p));
            c.ReleaseTemporary(power);
            return grad;
        }

        // exp:     grad_a = grad * y
        // log:     grad_a = grad / a
        // tanh:    grad_a = grad * (1 - y^2)
        // sigmoid: grad_a = grad * (1 - y) * y
        public static Tensor Transcendental(Tensor a, OpKind kind)
        {
            TensorContext c = a.Ctx;
            ref TensorRecord r = ref c.Records[a.Slot];
            DType dtype = FloatingResult(r.DType);
            int result = kind switch
            {
                OpKind.Exp => Elementwise<ExpOperator>(c, dtype, r.Shape.AsSpan(r.Rank), temporary: false, Operand.Of(a.Slot), default, default),
                OpKind.Log => Transcendental(c, a.Slot, dtype, temporary: false, TranscendentalFunction.Log, 0),
                OpKind.Tanh => Transcendental(c, a.Slot, dtype, temporary: false, TranscendentalFunction.Tanh, 0),
                _ => Transcendental(c, a.Slot, dtype, temporary: false, TranscendentalFunction.Sigmoid, 0),
            };
            if (Recorder.ShouldRecord(c, a.Slot))
            {
                ref Node n = ref Recorder.Record(c, kind, result, a.Slot);
                Recorder.Save(c, ref n, kind == OpKind.Log ? a.Slot : result);
            }
            return new Tensor(c, result);
        }

        public static int TranscendentalBackward(TensorContext c, ref Node n, int g) => n.Kind switch
        {
            OpKind.Exp => GradMap<MultiplyOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved0)),
            OpKind.Log => GradMap<DivideOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved0)),
            OpKind.Tanh => GradMap<TanhGradOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved0)),
            _ => GradMap<SigmoidGradOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved0)),
        };

        // relu: grad_a = y > 0 ? grad : 0
        public static Tensor Relu(Tensor a)
        {
            TensorContext c = a.Ctx;
            DType dtype = c.Records[a.Slot].DType;
            if (dtype == DType.Bool) ThrowHelper.BoolArithmetic("relu");
            int result = Map<ReluOperator>(c, a.Slot, dtype, Operand.Of(a.Slot));
            if (Recorder.ShouldRecord(c, a.Slot))
            {
                ref Node n = ref Recorder.Record(c, OpKind.Relu, result, a.Slot);
                Recorder.Save(c, ref n, result);
            }
            return new Tensor(c, result);
        }

        public static int ReluBackward(TensorContext c, ref Node n, int g)
            => GradMap<ReluGradOperator>(c, g, Operand.Of(g), Operand.Of(n.Saved0));

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
