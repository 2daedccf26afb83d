using AutogradFast.Graph;
using AutogradFast.Ops;
using AutogradFast.Storage;

namespace AutogradFast
{
    /// <summary>
    /// A user-defined differentiable op (<c>torch.autograd.Function</c>): derive from it, write
    /// <see cref="Forward"/> and <see cref="Backward"/>, and call <see cref="Apply"/>. Forward runs with
    /// grad mode off; when an input requires grad the output gets one node, <c>{Name}Backward</c>,
    /// whose backward is yours. Backward runs with recording on exactly under <c>createGraph</c>, so a
    /// backward written with differentiable ops can be differentiated again. State an application needs
    /// (a constant, a mode) goes in the instance's fields or in the context: each <see cref="Apply"/>
    /// gets a context of its own. No reflection is involved, so it is NativeAOT-safe.
    /// </summary>
    public abstract class AutogradFunction
    {
        /// <summary>The name PyTorch would give the class; the node is <c>{Name}Backward</c>.</summary>
        public virtual string Name => GetType().Name;

        /// <summary>Computes the output from <paramref name="inputs"/> (grad mode is off here).</summary>
        public abstract Tensor Forward(FunctionContext ctx, Tensor[] inputs);

        /// <summary>
        /// One gradient per input (null: none, e.g. for an input that needs none), given the output's
        /// gradient. Return exactly as many as there were inputs. A gradient may broadcast to its input's
        /// shape and is cast to its input's dtype, as for any op.
        /// </summary>
        public abstract Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput);

        /// <summary>
        /// The output's tangent given one tangent per input (zeros for an input without one), for
        /// forward-mode AD (<c>jvp</c>). The default refuses, as PyTorch does.
        /// </summary>
        public virtual Tensor Jvp(FunctionContext ctx, Tensor[] tangents) => ThrowHelper.CustomJvpMissing(Name);

        /// <summary><c>MyFunction.apply(*inputs)</c>: runs <see cref="Forward"/> and records the node.</summary>
        public Tensor Apply(params Tensor[] inputs) => FunctionContext.Apply(this, inputs);

        /// <summary><c>TFunction.apply(*inputs)</c> for a function without state.</summary>
        public static Tensor Apply<TFunction>(params Tensor[] inputs) where TFunction : AutogradFunction, new() => new TFunction().Apply(inputs);
    }

    /// <summary>
    /// <c>ctx</c> of a custom function: what forward saves for backward, which inputs need a gradient,
    /// and what forward tells autograd about its output (non-differentiable, or an input written in place).
    /// </summary>
    public sealed unsafe class FunctionContext
    {
        private readonly TensorContext _c;
        private readonly AutogradFunction _function;
        private readonly int[] _inputs;
        private readonly bool[] _needsInputGrad;
        private SavedValue[] _saved = [];
        private int[] _dirty = [];
        private int[] _nonDifferentiable = [];
        private bool _inForward;
        private int _output = -1;

        private FunctionContext(TensorContext c, AutogradFunction function, int[] inputs, bool[] needsInputGrad)
        {
            _c = c;
            _function = function;
            _inputs = inputs;
            _needsInputGrad = needsInputGrad;
            NodeName = function.Name + "Backward";
        }

        /// <summary>The node's name, <c>{Name}Backward</c>.</summary>
        public string NodeName { get; }

        /// <summary><c>ctx.needs_input_grad</c>: per input, whether backward must compute its gradient.</summary>
        public IReadOnlyList<bool> NeedsInputGrad => _needsInputGrad;

        /// <summary>
        /// <c>ctx.save_for_backward(*tensors)</c> (in forward only): inputs, the output, or tensors made in
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
                    if (version != s.Version) ThrowHelper.SavedValueModified(t.Shape, t.DType, s.Slot == _output ? NodeName : t.GradFn, version, s.Version);
                    tensors[i] = t;
                }
                return tensors;
            }
        }

        /// <summary><c>ctx.mark_non_differentiable(output)</c> (in forward only): the output does not require grad (an index, a mask).</summary>
        public void MarkNonDifferentiable(params Tensor[] outputs)
        {
            CheckInForward(nameof(MarkNonDifferentiable));
            _nonDifferentiable = Array.ConvertAll(outputs, t => SlotOf(t));
        }

        /// <summary>
        /// <c>ctx.mark_dirty(input)</c> (in forward only): forward wrote this input in place and returns
        /// it. The node then becomes the input's history, as any in-place op's (a leaf that requires
        /// grad may not be written so).
        /// </summary>
        public void MarkDirty(params Tensor[] inputs)
        {
            CheckInForward(nameof(MarkDirty));
            _dirty = Array.ConvertAll(inputs, t => SlotOf(t));
        }

        /// <summary>The saved tensors' slots, for the root-scope collector (a node's saved tensors stay with it).</summary>
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

        internal static Tensor Apply(AutogradFunction function, Tensor[] inputs)
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
            Tensor result;
            using (new TangentsPaused(c))
            using (Autograd.NoGrad())
            {
                ctx._inForward = true;
                try
                {
                    result = function.Forward(ctx, (Tensor[])inputs.Clone()); // the function may not rearrange the caller's array
                }
                finally
                {
                    ctx._inForward = false;
                }
            }
            if (result.Context is null) ThrowHelper.CustomForwardReturnedNothing(function.Name);
            if (result.Ctx != c) ThrowHelper.ForeignTensor<int>();
            return ctx.Record(result.Slot, flags);
        }

        /// <summary>The output as autograd sees it: with the node when it is differentiable, and its tangent.</summary>
        private Tensor Record(int output, TensorFlags inputFlags)
        {
            bool dirty = _dirty.Contains(output);
            foreach (int d in _dirty)
            {
                if (d != output || !_inputs.Contains(d)) ThrowHelper.DirtyTensorNotReturned(NodeName);
            }
            ref TensorRecord o = ref _c.Records[output];
            bool differentiable = _needsInputGrad.Contains(true) && o.DType.IsFloatingPoint() && !_nonDifferentiable.Contains(output);
            bool tangents = (inputFlags & _c.TangentMask) != 0 && o.DType.IsFloatingPoint() && !_nonDifferentiable.Contains(output);
            if (!differentiable && !tangents) return new Tensor(_c, output);
            if (dirty)
            {
                if (differentiable) InPlace.CheckWritable(_c, output, -1);
                if (!_c.NodeOutlivesTensorScope(output)) ThrowHelper.InPlaceOnOuterScope(_function.Name + ".Apply() with MarkDirty");
            }
            else if (_inputs.Contains(output) || o.Node >= 0 || (o.Flags & TensorFlags.RequiresGrad) != 0)
            {
                // An input (or a tensor with a history of its own) returned as it is: the output is a view of it, as in PyTorch.
                output = _c.NewView(output, o.Shape.AsSpan(o.Rank), o.Strides, o.Offset);
            }
            _output = output;
            if (!differentiable)
            {
                using (Autograd.NoGrad()) Recorder.Record(_c, OpKind.Custom, output, _inputs, this);
                return new Tensor(_c, output);
            }
            int node = Recorder.Record(_c, OpKind.Custom, output, _inputs, this);
            if (node >= 0 && _saved.Length > 0) _c.Nodes[node].Flags |= NodeFlags.SavesValues;
            return new Tensor(_c, output);
        }

        // ---- the node's rules ----

        internal static readonly OpRow Row = new("CustomFunctionBackward", Saves.None, &Rule);

        private static void Rule(ref Graph.Backward b) => b.C.FunctionOf(b.NodeIndex).RunBackward(ref b);

        private void RunBackward(ref Graph.Backward b)
        {
            Tensor?[] grads = _function.Backward(this, b.Grad.ToTensor());
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

        /// <summary>The output's tangent (forward mode): the function's own <see cref="AutogradFunction.Jvp"/>.</summary>
        internal Var Jvp(ref Forward f)
        {
            var tangents = new Tensor[_inputs.Length];
            for (int i = 0; i < tangents.Length; i++) tangents[i] = f.TangentOrZeros(i).ToTensor();
            Tensor t = _function.Jvp(this, tangents);
            if (t.Ctx != _c) ThrowHelper.ForeignTensor<int>();
            return new Var(_c, t.Slot);
        }
    }
}
