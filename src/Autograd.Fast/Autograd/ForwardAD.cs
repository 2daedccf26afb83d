using AutogradFast.Graph;
using AutogradFast.Ops;
using AutogradFast.Storage;

namespace AutogradFast
{
    /// <summary>
    /// Forward-mode AD with dual tensors (<c>torch.autograd.forward_ad</c>): inside
    /// <see cref="DualLevel"/>, <see cref="MakeDual"/> attaches a tangent to a primal, every op computes
    /// its output's tangent (a Jacobian-vector product) as it runs, and <see cref="UnpackDual"/> reads it.
    /// Tangents are computed with the library's differentiable ops, so they carry reverse-mode graphs
    /// too (forward-over-reverse, reverse-over-forward).
    /// </summary>
    public static class ForwardAD
    {
        /// <summary><c>with fwAD.dual_level():</c> every tangent is released when the returned scope is disposed.</summary>
        public static DualLevelScope DualLevel()
        {
            TensorContext c = TensorContext.Current;
            if (c.DualLevelActive) throw new InvalidOperationException("Nested forward mode AD is not supported at the moment");
            c.DualLevelActive = true;
            c.TangentMask = TensorFlags.HasTangent;
            return new DualLevelScope(c);
        }

        /// <summary><c>fwAD.make_dual(primal, tangent)</c>: a view of <paramref name="primal"/> whose tangent is <paramref name="tangent"/>.</summary>
        public static Tensor MakeDual(Tensor primal, Tensor tangent)
        {
            TensorContext c = OpSupport.ContextOf(primal, tangent);
            if (!c.DualLevelActive)
                throw new InvalidOperationException("Trying to create a dual Tensor for forward AD but no level exists, make sure to enter_dual_level() first.");
            ref TensorRecord p = ref c.Records[primal.Slot];
            ref TensorRecord t = ref c.Records[tangent.Slot];
            if (!p.DType.IsFloatingPoint()) throw new ArgumentException($"Expected primal to be floating point or complex, but got: {p.DType.TorchName()}");
            if (!t.DType.IsFloatingPoint()) throw new ArgumentException($"Expected tangent to be floating point or complex, but got: {t.DType.TorchName()}");
            if (!Broadcasting.SameShape(t, p.Shape.AsSpan(p.Rank)))
                throw new ArgumentException("Trying to set a forward gradient that has a different size than that of the original Tensor, this is not supported. " +
                    $"Tensor is of size {SizeText(p)} while the given forward gradient is of size {SizeText(t)}.");
            if (t.DType != p.DType)
                throw new ArgumentException($"MakeDual(): the tangent is {t.DType.TorchName()} while the primal is {p.DType.TorchName()}; " +
                    "forward-mode AD here needs one dtype (cast the tangent with To()).");
            int dual = c.NewView(primal.Slot, p.Shape.AsSpan(p.Rank), p.Strides, p.Offset);
            if (Recorder.ShouldRecordNode(c, primal.Slot))
            {
                using (new TangentsPaused(c)) Recorder.Record(c, OpKind.MakeDual, dual, primal.Slot);
            }
            c.SetTangent(dual, tangent.Slot);
            return new Tensor(c, dual);
        }

        /// <summary><c>fwAD.unpack_dual(t)</c>: the tensor and its tangent (null when it has none or no level is active).</summary>
        public static (Tensor Primal, Tensor? Tangent) UnpackDual(Tensor tensor)
        {
            TensorContext c = tensor.Ctx;
            int t = c.TangentOf(tensor.Slot);
            return (tensor, t >= 0 ? new Tensor(c, t) : null);
        }

        /// <summary>f(x) and its Jacobian-vector product J·v in one forward pass (what Functional.Jvp needs).</summary>
        public static (Tensor Output, Tensor Jvp) Jvp(Func<Tensor, Tensor> f, Tensor x, Tensor v)
        {
            using DualLevelScope level = DualLevel();
            Tensor y = f(MakeDual(x, v));
            var (primal, tangent) = UnpackDual(y);
            // The tangent is released with the level: hand out a copy (zeros when y does not depend on x).
            Tensor jvp = tangent is null ? Tensor.ZerosLike(primal) : tangent.Value.Clone();
            return (primal, jvp);
        }

        private static string SizeText(in TensorRecord r) => "[" + string.Join(", ", r.Shape.AsSpan(r.Rank).ToArray()) + "]";
    }

    /// <summary>Ends a dual level; see <see cref="ForwardAD.DualLevel"/>.</summary>
    public readonly struct DualLevelScope : IDisposable
    {
        private readonly TensorContext _context;

        internal DualLevelScope(TensorContext context) => _context = context;

        public void Dispose()
        {
            ThrowHelper.CheckScopeThread(_context, 0);
            _context.ExitDualLevel();
        }
    }
}

namespace AutogradFast.Graph
{
    /// <summary>While a tangent is computed its ops do not propagate tangents themselves (one level, as PyTorch 1.13).</summary>
    internal readonly ref struct TangentsPaused
    {
        private readonly TensorContext _c;
        private readonly TensorFlags _mask;

        public TangentsPaused(TensorContext c)
        {
            _c = c;
            _mask = c.TangentMask;
            c.TangentMask = TensorFlags.None;
        }

        public void Dispose() => _c.TangentMask = _mask;
    }

    /// <summary>
    /// What a forward (JVP) rule sees: the inputs (primals), their tangents (null: zero), the output,
    /// the op's scalar, integers and region. Rules are derivatives.yaml's <c>result:</c> lines, written
    /// with <see cref="Var"/> ops so tangents carry reverse-mode graphs.
    /// </summary>
    internal ref struct Forward
    {
        public readonly TensorContext C;
        private readonly ReadOnlySpan<int> _inputs;
        public readonly Var Result;
        public readonly double Scalar;
        public readonly int Arg0, Arg1;
        public readonly ViewGeometry Geometry;

        /// <summary>A custom function's context (OpKind.Custom), whose Jvp is the rule.</summary>
        public readonly FunctionContext? Function;

        private Forward(TensorContext c, int output, ReadOnlySpan<int> inputs, double scalar, int arg0, int arg1, in ViewGeometry geometry, FunctionContext? function)
        {
            Function = function;
            C = c;
            _inputs = inputs;
            Result = new Var(c, output);
            Scalar = scalar;
            Arg0 = arg0;
            Arg1 = arg1;
            Geometry = geometry;
        }

        public readonly Var Input(int i) => new(C, _inputs[i]);

        public readonly Var? Tangent(int i)
        {
            int t = C.TangentOf(_inputs[i]);
            return t >= 0 ? new Var(C, t) : null;
        }

        /// <summary>Input i's tangent, or zeros shaped like the input.</summary>
        public readonly Var TangentOrZeros(int i) => Tangent(i) ?? Input(i).ZerosLike();

        public static Var? Plus(Var? a, Var? b) => a is null ? b : b is null ? a : a.Value + b.Value;

        /// <summary>The output's tangent from its row's rule, shaped and typed as the output (the one place forward mode runs).</summary>
        public static void Propagate(TensorContext c, OpKind kind, int output, ReadOnlySpan<int> inputs, double scalar, int arg0, int arg1, in ViewGeometry geometry,
            FunctionContext? function = null)
        {
            var f = new Forward(c, output, inputs, scalar, arg0, arg1, geometry, function);
            using var paused = new TangentsPaused(c);
            Var? t = Rules.Jvp(kind, ref f);
            if (t is null)
            {
                c.DropTangent(output);
                return;
            }
            Var tangent = t.Value;
            ref TensorRecord o = ref c.Records[output];
            if (tangent.DType != o.DType) tangent = tangent.To(o.DType);
            if (!Broadcasting.SameShape(c.Records[tangent.Slot], o.Shape.AsSpan(o.Rank))) tangent = tangent.Expand(o.Shape, o.Rank);
            c.SetTangent(output, tangent.Slot);
        }
    }
}
