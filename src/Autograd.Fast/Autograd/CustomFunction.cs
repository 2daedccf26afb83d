using AutogradFast.Graph;
using AutogradFast.Ops;
using AutogradFast.Storage;

namespace AutogradFast
{
    /// <summary>
    /// What both kinds of user-defined differentiable op share (<c>torch.autograd.Function</c>): the name
    /// and the three rules over all outputs. Derive from <see cref="AutogradFunction"/> (one output) or
    /// <see cref="MultiOutputFunction"/> (several).
    /// </summary>
    public abstract class FunctionBase
    {
        private protected FunctionBase() { }

        /// <summary>The name PyTorch would give the class; the outputs' node is <c>{Name}Backward</c>.</summary>
        public virtual string Name => GetType().Name;

        internal abstract Tensor[] ForwardAll(FunctionContext ctx, Tensor[] inputs);

        internal abstract Tensor?[] BackwardAll(FunctionContext ctx, Tensor[] gradOutputs);

        internal abstract Tensor[] JvpAll(FunctionContext ctx, Tensor[] tangents);
    }

    /// <summary>
    /// A user-defined differentiable op with one output (<c>torch.autograd.Function</c>): derive from
    /// it, write <see cref="Forward"/> and <see cref="Backward"/>, and call <see cref="Apply"/>. Forward
    /// runs with grad mode off; when an input requires grad the output gets the node
    /// <c>{Name}Backward</c>, whose backward is yours. Backward records exactly under <c>createGraph</c>,
    /// so a backward written with differentiable ops can be differentiated again. State an application
    /// needs goes in the instance's fields: each <see cref="Apply"/> gets a context of its own. No
    /// reflection is involved, so it is NativeAOT-safe.
    /// </summary>
    public abstract class AutogradFunction : FunctionBase
    {
        /// <summary>Computes the output from <paramref name="inputs"/> (grad mode is off here).</summary>
        public abstract Tensor Forward(FunctionContext ctx, Tensor[] inputs);

        /// <summary>
        /// One gradient per input (null: none), given the output's gradient. A gradient may broadcast to
        /// its input's shape and is cast to its input's dtype, as for any op.
        /// </summary>
        public abstract Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput);

        /// <summary>
        /// The output's tangent given one tangent per input (zeros for an input without one, as PyTorch
        /// passes), for forward-mode AD (<c>jvp</c>). The default refuses, as PyTorch does.
        /// </summary>
        public virtual Tensor Jvp(FunctionContext ctx, Tensor[] tangents) => ThrowHelper.CustomJvpMissing(Name);

        /// <summary><c>MyFunction.apply(*inputs)</c>: runs <see cref="Forward"/> and records the node.</summary>
        public Tensor Apply(params Tensor[] inputs) => FunctionContext.Apply(this, inputs)[0];

        /// <summary><c>TFunction.apply(*inputs)</c> for a function without state.</summary>
        public static Tensor Apply<TFunction>(params Tensor[] inputs) where TFunction : AutogradFunction, new() => new TFunction().Apply(inputs);

        internal sealed override Tensor[] ForwardAll(FunctionContext ctx, Tensor[] inputs) => [Forward(ctx, inputs)];

        internal sealed override Tensor?[] BackwardAll(FunctionContext ctx, Tensor[] gradOutputs) => Backward(ctx, gradOutputs[0]);

        internal sealed override Tensor[] JvpAll(FunctionContext ctx, Tensor[] tangents) => [Jvp(ctx, tangents)];
    }

    /// <summary>
    /// A user-defined differentiable op with several outputs (a forward returning a tuple in PyTorch):
    /// <see cref="Backward"/> gets one gradient per output (zeros for an output that got none, or that
    /// was marked non-differentiable), as PyTorch's materialized grads.
    /// </summary>
    public abstract class MultiOutputFunction : FunctionBase
    {
        /// <summary>Computes the outputs from <paramref name="inputs"/> (grad mode is off here).</summary>
        public abstract Tensor[] Forward(FunctionContext ctx, Tensor[] inputs);

        /// <summary>One gradient per input (null: none), given one gradient per output.</summary>
        public abstract Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs);

        /// <summary>One tangent per output, given one per input (zeros for an input without one). The default refuses.</summary>
        public virtual Tensor[] Jvp(FunctionContext ctx, Tensor[] tangents) => [ThrowHelper.CustomJvpMissing(Name)];

        /// <summary><c>MyFunction.apply(*inputs)</c>: runs <see cref="Forward"/> and records the node.</summary>
        public Tensor[] Apply(params Tensor[] inputs) => FunctionContext.Apply(this, inputs);

        /// <summary><c>TFunction.apply(*inputs)</c> for a function without state.</summary>
        public static Tensor[] Apply<TFunction>(params Tensor[] inputs) where TFunction : MultiOutputFunction, new() => new TFunction().Apply(inputs);

        internal sealed override Tensor[] ForwardAll(FunctionContext ctx, Tensor[] inputs) => Forward(ctx, inputs);

        internal sealed override Tensor?[] BackwardAll(FunctionContext ctx, Tensor[] gradOutputs) => Backward(ctx, gradOutputs);

        internal sealed override Tensor[] JvpAll(FunctionContext ctx, Tensor[] tangents) => Jvp(ctx, tangents);
    }

    /// <summary>
    /// <c>ctx</c> of a custom function: what forward saves for backward, which inputs need a gradient,
    /// and what forward tells autograd about its outputs (non-differentiable, or an input written in place).
    /// </summary>
    /// <remarks>
    /// How an application is recorded (any number of outputs, no engine special case): one
    /// <see cref="OpKind.Custom"/> node takes the inputs and produces a hidden float64 vector with one
    /// region per differentiable output; each such output is an <see cref="OpKind.CustomOutput"/> node
    /// reading its region. An output's gradient is scattered into its region, the engine sums the
    /// regions as for any tensor, and the function's node hands each region (in its output's shape and
    /// dtype) to the user's Backward: the same bits, and differentiable again under createGraph.
    /// </remarks>
    public sealed unsafe class FunctionContext
    {
        private readonly TensorContext _c;
        private readonly FunctionBase _function;
        private readonly int[] _inputs;
        private readonly bool[] _needsInputGrad;
        private SavedValue[] _saved = [];
        private int[] _dirty = [];
        private int[] _nonDifferentiable = [];
        private bool _inForward;
        private int[] _outputs = [];                  // the outputs as autograd sees them (views where an input was returned)
        private ViewGeometry[] _regions = [];         // per output, its region of the hidden vector (Rank -1: not differentiable)
        private int _hiddenLength;
        private Tensor[]? _tangents;                  // forward mode: every output's tangent, computed once

        private FunctionContext(TensorContext c, FunctionBase function, int[] inputs, bool[] needsInputGrad)
        {
            _c = c;
            _function = function;
            _inputs = inputs;
            _needsInputGrad = needsInputGrad;
            NodeName = function.Name + "Backward";
        }

        /// <summary>The outputs' node name, <c>{Name}Backward</c>.</summary>
        public string NodeName { get; }

        /// <summary><c>ctx.needs_input_grad</c>: per input, whether backward must compute its gradient.</summary>
        public IReadOnlyList<bool> NeedsInputGrad => _needsInputGrad;

        /// <summary>
        /// <c>ctx.save_for_backward(*tensors)</c> (in forward only): inputs, outputs, or tensors made in
        /// forward. Each is checked at backward: one written in place since fails with PyTorch's message.
        /// </summary>
        public void SaveForBackward(params Tensor[] tensors)
        {
            CheckInForward(nameof(SaveForBackward));
            _saved = new SavedValue[tensors.Length];
            for (int i = 0; i < tensors.Length; i++)
            {
                int slot = SlotOf(tensors[i]);
                if ((_c.Records[slot].Flags & TensorFlags.IsInference) != 0 && _needsInputGrad.Contains(true)) ThrowHelper.InferenceTensorSaved();
                _saved[i] = new SavedValue { Slot = slot, Version = _c.Version(slot) };
            }
        }

        /// <summary><c>ctx.saved_tensors</c>: what <see cref="SaveForBackward"/> kept, after checking no one wrote them in place.</summary>
        public Tensor[] SavedTensors
        {
            get
            {
                var tensors = new Tensor[_saved.Length];
                for (int i = 0; i < _saved.Length; i++)
                {
                    SavedValue s = _saved[i];
                    int version = _c.Version(s.Slot);
                    var t = new Tensor(_c, s.Slot);
                    if (version != s.Version) ThrowHelper.SavedValueModified(t.Shape, t.DType, _outputs.Contains(s.Slot) ? NodeName : t.GradFn, version, s.Version);
                    tensors[i] = t;
                }
                return tensors;
            }
        }

        /// <summary><c>ctx.mark_non_differentiable(*outputs)</c> (in forward only): these outputs do not require grad (an index, a mask).</summary>
        public void MarkNonDifferentiable(params Tensor[] outputs)
        {
            CheckInForward(nameof(MarkNonDifferentiable));
            _nonDifferentiable = Array.ConvertAll(outputs, SlotOf);
        }

        /// <summary>
        /// <c>ctx.mark_dirty(*inputs)</c> (in forward only): forward wrote these inputs in place and returns
        /// them. The node then becomes each one's history, as any in-place op's (a leaf that requires
        /// grad may not be written so).
        /// </summary>
        public void MarkDirty(params Tensor[] inputs)
        {
            CheckInForward(nameof(MarkDirty));
            _dirty = Array.ConvertAll(inputs, SlotOf);
        }

        /// <summary>The saved tensors' slots, for the root-scope collector and anomaly mode (a node's saved tensors stay with it).</summary>
        internal ReadOnlySpan<SavedValue> Saved => _saved;

        private int SlotOf(Tensor t)
        {
            if (t.Ctx != _c) ThrowHelper.ForeignTensor<int>();
            return t.Slot;
        }

        private void CheckInForward(string call)
        {
            if (!_inForward) ThrowHelper.FunctionContextOutsideForward(NodeName, call);
        }

        // ---- applying a function ----

        internal static Tensor[] Apply(FunctionBase function, Tensor[] inputs)
        {
            ArgumentNullException.ThrowIfNull(inputs);
            TensorContext c = inputs.Length > 0 ? inputs[0].Ctx : TensorContext.Current;
            var slots = new int[inputs.Length];
            var needs = new bool[inputs.Length];
            TensorFlags flags = TensorFlags.None;
            for (int i = 0; i < inputs.Length; i++)
            {
                if (inputs[i].Ctx != c) ThrowHelper.ForeignTensor<int>();
                slots[i] = inputs[i].Slot;
                TensorFlags f = c.Records[slots[i]].Flags;
                flags |= f;
                needs[i] = c.GradEnabled && (f & TensorFlags.RequiresGrad) != 0;
            }
            var ctx = new FunctionContext(c, function, slots, needs);
            Tensor[] results;
            using (new TangentsPaused(c))
            using (Autograd.NoGrad())
            {
                ctx._inForward = true;
                try
                {
                    results = function.ForwardAll(ctx, (Tensor[])inputs.Clone()); // the function may not rearrange the caller's array
                }
                finally
                {
                    ctx._inForward = false;
                }
            }
            if (results is null || results.Length == 0) ThrowHelper.CustomForwardReturnedNothing(function.Name);
            var outputs = new int[results.Length];
            for (int i = 0; i < results.Length; i++)
            {
                if (results[i].Context is null) ThrowHelper.CustomForwardReturnedNothing(function.Name);
                if (results[i].Ctx != c) ThrowHelper.ForeignTensor<int>();
                outputs[i] = results[i].Slot;
            }
            ctx.Record(outputs, flags);
            var tensors = new Tensor[outputs.Length];
            for (int i = 0; i < outputs.Length; i++) tensors[i] = new Tensor(c, ctx._outputs[i]);
            return tensors;
        }

        /// <summary>The outputs as autograd sees them: with the nodes where they are differentiable, and their tangents.</summary>
        private void Record(int[] outputs, TensorFlags inputFlags)
        {
            foreach (int d in _dirty)
            {
                if (!outputs.Contains(d) || !_inputs.Contains(d)) ThrowHelper.DirtyTensorNotReturned(NodeName);
            }
            _outputs = outputs;
            _regions = new ViewGeometry[outputs.Length];
            bool anyNeeds = _needsInputGrad.Contains(true), tangents = (inputFlags & _c.TangentMask) != 0;
            for (int i = 0; i < outputs.Length; i++)
            {
                ref TensorRecord o = ref _c.Records[outputs[i]];
                _regions[i].Rank = -1;
                if (!o.DType.IsFloatingPoint() || _nonDifferentiable.Contains(outputs[i]) || (!anyNeeds && !tangents)) continue;
                if (_dirty.Contains(outputs[i]))
                {
                    if (anyNeeds) InPlace.CheckWritable(_c, outputs[i], -1);
                    if (!_c.NodeOutlivesTensorScope(outputs[i])) ThrowHelper.InPlaceOnOuterScope(_function.Name + ".Apply() with MarkDirty");
                }
                else if (_inputs.Contains(outputs[i]) || o.Node >= 0 || (o.Flags & TensorFlags.RequiresGrad) != 0 || outputs.AsSpan(0, i).Contains(outputs[i]))
                {
                    // An input (or a tensor with a history of its own, or one returned twice) as it is: the output is a view of it, as in PyTorch.
                    outputs[i] = _c.NewView(outputs[i], o.Shape.AsSpan(o.Rank), o.Strides, o.Offset);
                    o = ref _c.Records[outputs[i]];
                }
                _regions[i] = Views.ContiguousGeometry(o, offset: _hiddenLength);
                _hiddenLength += o.NumEl;
            }
            if (_hiddenLength == 0 && !tangents) return;
            if (anyNeeds && _hiddenLength > 0)
            {
                int hidden = _c.NewTensor(DType.Float64, [_hiddenLength], zero: false);
                int node = Recorder.Record(_c, OpKind.Custom, hidden, _inputs, this);
                if (_saved.Length > 0) _c.Nodes[node].Flags |= NodeFlags.SavesValues;
                for (int i = 0; i < outputs.Length; i++)
                {
                    if (_regions[i].Rank < 0) continue;
                    Recorder.Record(_c, OpKind.CustomOutput, outputs[i], hidden, -1, _regions[i], arg0: i);
                    _c.SetFunction(_c.Records[outputs[i]].Node, this);
                }
            }
            if (tangents)
            {
                for (int i = 0; i < outputs.Length; i++)
                    if (_regions[i].Rank >= 0) Forward.Propagate(_c, OpKind.CustomOutput, outputs[i], _inputs, 0, i, 0, default, this);
                _tangents = null; // computed for this application only
            }
        }

        // ---- the nodes' rules ----

        internal static readonly OpRow Row = new("CustomFunctionBackward", Saves.None, &Rule);
        internal static readonly OpRow OutputRow = new("CustomFunctionBackward", Saves.None, &OutputRule);

        private static void Rule(ref Graph.Backward b) => b.C.FunctionOf(b.NodeIndex).RunBackward(ref b);

        // an output's gradient, placed in its region of the hidden vector
        private static void OutputRule(ref Graph.Backward b)
        {
            Var hidden = b.Input(0);
            b.Out(0, Var.RegionScatter(b.Grad.To(DType.Float64), hidden.Shape, hidden.Rank, Recorder.Geometry(b.C, b.Args)));
        }

        private void RunBackward(ref Graph.Backward b)
        {
            var gradOutputs = new Tensor[_outputs.Length];
            for (int i = 0; i < _outputs.Length; i++)
            {
                ref TensorRecord o = ref _c.Records[_outputs[i]];
                gradOutputs[i] = _regions[i].Rank < 0
                    ? new Tensor(_c, _c.NewTensor(o.DType.IsFloatingPoint() ? o.DType : DType.Float32, o.Shape.AsSpan(o.Rank), zero: true))
                    : Var.RegionOf(b.Grad, _regions[i]).To(o.DType).ToTensor();
            }
            Tensor?[] grads = _function.BackwardAll(this, gradOutputs);
            if (grads is null) ThrowHelper.CustomGradientCount(NodeName, _inputs.Length, 0);
            int count = grads.Length;
            // As PyTorch: extra gradients are allowed when they are null.
            while (count > _inputs.Length && grads[count - 1] is null) count--;
            if (count != _inputs.Length) ThrowHelper.CustomGradientCount(NodeName, _inputs.Length, grads.Length);
            for (int i = 0; i < count; i++)
            {
                if (grads[i] is not Tensor g || !b.Needs(i)) continue;
                if (g.Ctx != _c) ThrowHelper.ForeignTensor<int>();
                if (!_c.Records[g.Slot].DType.IsFloatingPoint()) ThrowHelper.CustomGradientDType(NodeName, i, _c.Records[g.Slot].DType);
                b.Out(i, new Var(_c, g.Slot));
            }
        }

        /// <summary>Output <paramref name="output"/>'s tangent (forward mode): the function's own Jvp, run once for all outputs.</summary>
        internal Var Tangent(ref Forward f, int output)
        {
            if (_tangents is null)
            {
                var tangents = new Tensor[_inputs.Length];
                for (int i = 0; i < tangents.Length; i++) tangents[i] = f.TangentOrZeros(i).ToTensor();
                _tangents = _function.JvpAll(this, tangents);
                if (_tangents is null || _tangents.Length != _outputs.Length) ThrowHelper.CustomTangentCount(NodeName, _outputs.Length, _tangents?.Length ?? 0);
            }
            Tensor t = _tangents[output];
            if (t.Ctx != _c) ThrowHelper.ForeignTensor<int>();
            return new Var(_c, t.Slot);
        }
    }
}
