using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using AutogradFast.Ops;
using AutogradFast.Storage;
using BackwardContext = AutogradFast.Graph.Backward;

namespace AutogradFast.Graph;

/// <summary>
/// Reverse-mode sweep over the tape. Nodes sit in creation order, which is already a topological
/// order, so one pass from the newest root down to the oldest node still waiting for a gradient
/// visits each node after all its consumers. Each node's row computes its inputs' local products; the
/// engine does the shared work: the first gradient moves in and later ones add, broadcast gradients
/// are summed back to each input's shape and cast to its dtype (with differentiable ops, so that
/// under createGraph all of it is recorded), saved values are version-checked and released, a leaf's
/// contributions are summed in its accumulator before its <c>.Grad</c> is written, and errors name
/// the node.
/// <para>Ownership of gradients: the engine owns exactly the slots that are engine temporaries. In a
/// plain backward everything a node's processing allocates belongs to a rule frame; what the engine
/// keeps (a pending gradient, a leaf's accumulator) is taken out of it, the rest is released when the
/// node is done. A gradient handed to several inputs is shared by their holders, not copied (see
/// <see cref="TensorContext.Share"/>). Under createGraph nothing is an engine temporary: the gradients are ordinary tensors
/// of the user's scope with their own history, never written in place.</para>
/// </summary>
internal static unsafe class Engine
{
    /// <summary><c>y.backward(gradient, retain_graph, create_graph, inputs)</c>.</summary>
    public static void Backward(Tensor root, Tensor? gradient, bool? retainGraph, bool createGraph, ReadOnlySpan<Tensor> inputs)
    {
        TensorContext c = root.Ctx;
        if (c.GradEnabled && (c.Records[root.Slot].Flags & TensorFlags.IsView) != 0) Recorder.RefreshView(c, root.Slot); // a root that is a view whose base was written since
        int[] targets = inputs.IsEmpty ? [] : TargetSlots(c, inputs, forGrad: false); // a plain backward allocates nothing
        Run(c, [root.Slot], [gradient], retainGraph ?? createGraph, createGraph, targets, results: null, allowUnused: true);
    }

    /// <summary><c>torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)</c>.</summary>
    public static Tensor?[] Grad(ReadOnlySpan<Tensor> outputs, ReadOnlySpan<Tensor> inputs, ReadOnlySpan<Tensor?> gradOutputs,
        bool? retainGraph, bool createGraph, bool allowUnused)
    {
        if (outputs.Length == 0) ThrowHelper.GradNeedsOutputs();
        if (inputs.Length == 0) ThrowHelper.GradNeedsInputs();
        if (gradOutputs.Length != 0 && gradOutputs.Length != outputs.Length) ThrowHelper.GradOutputsCount(gradOutputs.Length, outputs.Length);
        TensorContext c = outputs[0].Ctx;
        var roots = new int[outputs.Length];
        var seeds = new Tensor?[outputs.Length];
        for (int i = 0; i < outputs.Length; i++)
        {
            if (outputs[i].Ctx != c) ThrowHelper.ForeignTensor<int>();
            roots[i] = outputs[i].Slot;
            seeds[i] = gradOutputs.Length == 0 ? null : gradOutputs[i];
        }
        int[] targets = TargetSlots(c, inputs, forGrad: true);
        var results = new int[targets.Length];
        Run(c, roots, seeds, retainGraph ?? createGraph, createGraph, targets, results, allowUnused);
        var grads = new Tensor?[targets.Length];
        for (int i = 0; i < targets.Length; i++) grads[i] = results[i] < 0 ? null : new Tensor(c, results[i]);
        return grads;
    }

    private static int[] TargetSlots(TensorContext c, ReadOnlySpan<Tensor> inputs, bool forGrad)
    {
        var slots = new int[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i].Ctx != c) ThrowHelper.ForeignTensor<int>();
            slots[i] = inputs[i].Slot;
            if ((c.Records[slots[i]].Flags & TensorFlags.RequiresGrad) == 0) ThrowHelper.DifferentiatedTensorWithoutGrad(forGrad);
        }
        // backward(inputs=[x, x]) accumulates into x once; Autograd.Grad returns x's gradient in both places.
        return forGrad ? slots : slots.Distinct().ToArray();
    }

    /// <summary>One backward pass from <paramref name="roots"/> (each seeded with its gradient, or ones for a one-element root), compiled per pass mode.</summary>
    private static void Run(TensorContext c, ReadOnlySpan<int> roots, ReadOnlySpan<Tensor?> gradients, bool retain, bool create,
        int[] targets, int[]? results, bool allowUnused)
    {
        if (create) Run<RecordingPass>(c, roots, gradients, retain, targets, results, allowUnused);
        else if (targets.Length != 0) Run<PlainPassToTargets>(c, roots, gradients, retain, targets, results, allowUnused);
        else Run<PlainPass>(c, roots, gradients, retain, targets, results, allowUnused);
    }

    /// <summary>
    /// <see cref="Run(TensorContext, ReadOnlySpan{int}, ReadOnlySpan{Tensor?}, bool, bool, int[], int[], bool)"/> for
    /// one mode: a plain backward without targets (no inputs, not Autograd.Grad) has none of the other modes' tests.
    /// </summary>
    private static void Run<TMode>(TensorContext c, ReadOnlySpan<int> roots, ReadOnlySpan<Tensor?> gradients, bool retain,
        int[] targets, int[]? results, bool allowUnused) where TMode : struct, IPassMode
    {
        bool create = TMode.Records;
        if (c.RunningHooks > 0) ThrowHelper.BackwardInsideHook();
        if (c.BackwardDepth > 0) ThrowHelper.ReentrantBackward(); // e.g. from a custom function's backward: one pass at a time
        // PyTorch's order: each given gradient's shape first, then whether the output requires grad.
        for (int i = 0; i < roots.Length; i++)
        {
            if (gradients[i] is { } given)
            {
                if (given.Ctx != c) ThrowHelper.ForeignTensor<int>();
                Size shape = new Tensor(c, roots[i]).Shape;
                if (given.Shape != shape) ThrowHelper.GradientShapeMismatch(given.Shape, shape, i);
            }
        }
        for (int i = 0; i < roots.Length; i++)
            if ((c.Records[roots[i]].Flags & TensorFlags.RequiresGrad) == 0) ThrowHelper.BackwardWithoutGrad(i);

        var pass = new Pass<TMode>(c, retain, targets, results);
        bool gradMode = c.GradEnabled;
        c.BackwardDepth++; // the root scope is not collected while gradients are computed
        c.GradEnabled = create; // rules record exactly when a graph of the gradients is wanted
        int mark = create ? -1 : c.BeginRuleTemporaries();
        // Not try/finally: NativeAOT calls a finally block as a funclet on the normal path too.
        try
        {
            if (TMode.MayHaveTargets && targets.Length != 0) pass.MarkTargets();
            for (int i = 0; i < roots.Length; i++) pass.Seed(roots[i], in gradients[i]);
            pass.Sweep();
            pass.FinishLeaves();
            if (TMode.MayHaveTargets && results is not null) pass.CheckUsed(allowUnused);
        }
        catch
        {
            pass.Abandon();
            EndRun(c, ref pass, targets, mark, gradMode);
            throw;
        }
        EndRun(c, ref pass, targets, mark, gradMode);
        if (TMode.MayHaveTargets && results is not null && !create) pass.HandResultsToTheScope();
    }

    /// <summary>What a pass undoes however it ends: target marks, its rule temporaries, grad mode, the depth.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EndRun<TMode>(TensorContext c, ref Pass<TMode> pass, int[] targets, int mark, bool gradMode) where TMode : struct, IPassMode
    {
        if (TMode.MayHaveTargets && targets.Length != 0) pass.UnmarkTargets();
        if (!TMode.Records) c.EndRuleTemporaries(mark, outermost: true);
        c.GradEnabled = gradMode;
        c.BackwardDepth--;
    }

    /// <summary>The state of one backward pass, compiled per <see cref="IPassMode"/>: a plain pass's code has none of the other modes' tests.</summary>
    private ref struct Pass<TMode> where TMode : struct, IPassMode
    {
        private readonly TensorContext _c;
        private readonly bool _retain;
        private readonly int[] _targets;
        private readonly int[]? _results;        // Autograd.Grad: one gradient per target (-1 until reached)
        private readonly int[] _pending;         // per node: the gradient summed so far, -1 when none
        private byte[] _marks;                   // with targets: per node, Capture and/or Propagate
        private int _top;                        // the newest node that got a gradient
        private int _waiting;                    // nodes holding a gradient not processed yet
        private readonly bool _checkFinite;      // anomaly mode: each rule's outputs are checked for NaN/Inf
        private int _leafStart;                  // this pass's part of the context's touched-leaf list
        private int _inFlight;                   // the gradient being processed, while the pass still owns it

        private const byte Capture = 1, Propagate = 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)] // built in place on Run's stack: out of line, each reference field took a checked write barrier
        public Pass(TensorContext c, bool retain, int[] targets, int[]? results)
        {
            _c = c;
            _retain = retain;
            _targets = targets;
            _results = results;
            if (TMode.MayHaveTargets && results is not null) Array.Fill(results, -1);
            _pending = PendingFor(c);
            _marks = [];
            _top = -1;
            _waiting = 0;
            _leafStart = c.TouchedLeafCount;
            _inFlight = -1;
            _checkFinite = c.AnomalyEnabled && c.AnomalyCheckNan;
        }

        /// <summary>createGraph: rules record, gradients are ordinary tensors of the user's scope.</summary>
        private static bool Create
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)] // a constant in the plain pass: its tests fold away
            get => TMode.Records;
        }

        /// <summary>Only some tensors want gradients (backward(inputs), Autograd.Grad).</summary>
        private readonly bool Restricted
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)] // a constant in the plain pass: its tests fold away
            get => TMode.MayHaveTargets && _targets.Length > 0;
        }

        /// <summary>Autograd.Grad: the gradients go to the results, not to .Grad.</summary>
        private readonly bool HasResults
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)] // a constant in the plain pass: its tests fold away
            get => TMode.MayHaveTargets && _results is not null;
        }

        // ---- targets (backward(inputs=...) and Autograd.Grad) ----

        public readonly void MarkTargets()
        {
            foreach (int t in _targets) _c.Records[t].Flags |= TensorFlags.IsTarget;
        }

        public readonly void UnmarkTargets()
        {
            foreach (int t in _targets) _c.Records[t].Flags &= ~TensorFlags.IsTarget;
        }

        /// <summary>
        /// Which nodes matter when only some tensors want gradients: a target non-leaf's node captures its
        /// gradient; a node whose inputs lead to a target propagates (edges point to older nodes, so one
        /// ascending pass decides every node).
        /// </summary>
        private void MarkNodes()
        {
            if (_marks.Length < _top + 1) _marks = new byte[Math.Max(_top + 1, 16)];
            Array.Clear(_marks, 0, _top + 1);
            foreach (int t in _targets)
            {
                int node = _c.Records[t].Node;
                if (node >= 0 && node <= _top) _marks[node] |= Capture;
            }
            for (int i = 0; i <= _top; i++)
            {
                ref Node n = ref _c.Nodes[i];
                for (int k = 0; k < n.InputCount; k++)
                {
                    int edge = BackwardContext.Input(ref n, k, _c).Edge;
                    bool leads = edge >= 0 ? _marks[edge] != 0 : edge != Node.NoEdge && (_c.Records[Node.LeafSlot(edge)].Flags & TensorFlags.IsTarget) != 0;
                    if (leads)
                    {
                        _marks[i] |= Propagate;
                        break;
                    }
                }
            }
        }

        // ---- seeding, sweeping, delivering ----

        /// <summary>The gradient of a root: ones for a one-element root, else a copy of the given one in the root's dtype.</summary>
        public void Seed(int root, in Tensor? gradient)
        {
            ref TensorRecord r = ref _c.Records[root];
            int seed;
            if (gradient is null)
            {
                if (r.NumEl != 1) ThrowHelper.ImplicitGradNonScalar();
                seed = _c.NewTensor(r.DType, r.Shape.AsSpan(r.Rank), zero: false, temporary: !Create);
                Fill.Scalar(_c, seed, 1);
            }
            else if (Create)
            {
                seed = new Var(_c, gradient.Value.Slot).To(r.DType).Slot; // the gradient's own history is part of the new graph
            }
            else
            {
                // A copy, cast to the output's dtype: the engine may move it into a .Grad or add into it.
                seed = StridedCopy.CastToTemporary(_c, gradient.Value.Slot, r.DType);
            }
            if (r.Node < 0) DeliverToLeaf(root, seed);
            else DeliverToNode(r.Node, seed);
        }

        public void Sweep()
        {
            if (Restricted) MarkNodes();
            for (int i = _top; i >= 0 && _waiting > 0; i--)
            {
                int grad = _pending[i];
                if (grad < 0) continue;
                _pending[i] = -1;
                _waiting--;
                byte mark = Restricted ? _marks[i] : Propagate;
                bool propagates = (mark & Propagate) != 0;
                // The context's hook table first: the node's flag costs a load of its record, which Process makes anyway.
                if (mark != 0 && _c.HasAnyHooks && (_c.Nodes[i].Flags & NodeFlags.HasTensorHooks) != 0) grad = AtHookedNode(i, grad, mark);
                if ((mark & Capture) != 0)
                {
                    // A target's gradient: a copy when the node goes on to use it (the rule may hand it on, and it may be added into).
                    CaptureAtNode(i, propagates && !TMode.Records ? StridedCopy.Clone(_c, grad, temporary: true) : grad);
                }
                else if (!propagates) Discard(grad);
                if (!propagates) continue;
                ref Node n = ref _c.Nodes[i];
                // A plain backward's common node takes the code without the unusual cases' tests: one test here instead of four there.
                if (!TMode.MayHaveTargets && IsOrdinary(i, ref n)) Process<OrdinaryNode>(i, ref n, grad);
                else Process<AnyNode>(i, ref n, grad);
            }
        }

        /// <summary>
        /// A node without anything <c>Process</c> tests for at an unusual node: not a custom function's,
        /// its saved values neither released nor possibly modified, its inputs the two inline ones (see
        /// <see cref="InputOf"/>), no anomaly check. The tests are combined without branches: on the tiny
        /// graphs each branch was a taken jump, and those, not instructions, set the time.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly bool IsOrdinary(int index, ref Node n)
            => (n.Kind != OpKind.Custom) & ((n.Flags & NodeFlags.SavedReleased) == 0) & (index >= _c.TapeLengthAtLastWrite)
                & (n.InputCount <= 2) & !_checkFinite;

        /// <summary>Input <paramref name="k"/> of a node <c>Process</c> meets: an ordinary node's are In0 and In1, adjacent in the node, read without a branch.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly ref NodeInput InputOf<TNode>(ref Node n, int k) where TNode : struct, INodeCase
        {
            if (TNode.MayBeUnusual) return ref BackwardContext.Input(ref n, k, _c);
            return ref Unsafe.Add(ref n.In0, k);
        }

        /// <summary>
        /// Runs node <paramref name="index"/>'s rule on its summed gradient and delivers each input's gradient
        /// (compiled per pass mode, and per <see cref="INodeCase"/>: the ordinary node's code skips the unusual cases).
        /// No exception handler here (one per node cost a few ns on tiny graphs): if a rule or a delivery
        /// throws, <see cref="Abandon"/> lets go of the gradient in flight and the run's end releases
        /// every rule temporary.
        /// </summary>
        private void Process<TNode>(int index, ref Node n, int grad) where TNode : struct, INodeCase
        {
            if (TNode.MayBeUnusual && n.Kind == OpKind.Custom) grad = Unshared(grad); // the user's backward may write into it
            _inFlight = grad;
            if (TNode.MayBeUnusual && (n.Flags & NodeFlags.SavesValues) != 0) CheckSavedValues(index, ref n);
            int mark = TMode.Records ? -1 : _c.BeginRuleTemporaries();
            Unsafe.SkipInit(out OutputBuffer inline);
            Unsafe.As<OutputBuffer, Vector128<int>>(ref inline) = Vector128<int>.AllBitsSet; // four -1s (no gradient yet) in one store
            Span<int> outputs = !TNode.MayBeUnusual || n.InputCount <= OutputBuffer.Length ? inline[..n.InputCount] : NoOutputsYet(n.InputCount);
            var rule = new BackwardContext(_c, ref n, index, grad, outputs);
            _c.Rows[(int)n.Kind].Rule(ref rule);
            if (!_retain && (n.Flags & NodeFlags.SavesValues) != 0) n.Flags |= NodeFlags.SavedReleased;
            if (TNode.MayBeUnusual && _checkFinite) CheckFinite(index, ref n, outputs);
            PrepareOutputs<TNode>(index, ref n, outputs);
            ref int output = ref MemoryMarshal.GetReference(outputs); // indexed below its length: no bounds checks
            if (TNode.MayBeUnusual)
            {
                for (int k = 0; k < outputs.Length; k++) DeliverOutput<TNode>(index, ref n, ref output, k, grad);
            }
            else
            {
                // An ordinary node's one or two outputs, unrolled: the loop's layout took more jumps than its work.
                DeliverOutput<TNode>(index, ref n, ref output, 0, grad);
                if (outputs.Length == 2) DeliverOutput<TNode>(index, ref n, ref output, 1, grad);
            }
            if (mark >= 0) _c.EndRuleTemporaries(mark, outermost: false);
            if (_inFlight >= 0) Discard(grad);
            _inFlight = -1;
        }

        /// <summary>
        /// Drops the outputs for inputs that need no gradient (their edge leads nowhere). In a plain backward
        /// the others are then shaped and typed as their inputs before anything is delivered, and one
        /// gradient handed to several inputs is shared by them, not copied: each delivery holds it
        /// (<see cref="TensorContext.Share"/>), no delivery adds into it while it is shared, and each lets go
        /// of its hold as it would release it. One pass over the outputs: this runs once per node.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void PrepareOutputs<TNode>(int index, ref Node n, Span<int> outputs) where TNode : struct, INodeCase
        {
            ref int output = ref MemoryMarshal.GetReference(outputs); // indexed below its length: no bounds checks
            if (TNode.MayBeUnusual)
            {
                for (int k = 0; k < outputs.Length; k++) PrepareOutput<TNode>(index, ref n, ref output, k);
                return;
            }
            PrepareOutput<TNode>(index, ref n, ref output, 0); // an ordinary node's one or two, unrolled (see Process)
            if (outputs.Length == 2) PrepareOutput<TNode>(index, ref n, ref output, 1);
        }

        /// <summary><c>PrepareOutputs</c> for output <paramref name="k"/> (those before it are prepared).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void PrepareOutput<TNode>(int index, ref Node n, ref int output, int k) where TNode : struct, INodeCase
        {
            int g = Unsafe.Add(ref output, k);
            if (g < 0) return;
            ref NodeInput input = ref InputOf<TNode>(ref n, k);
            if (input.Edge == Node.NoEdge)
            {
                Unsafe.Add(ref output, k) = -1; // released with the rule's other temporaries
                return;
            }
            if (TMode.Records) return; // Deliver conforms, recording
            g = Unsafe.Add(ref output, k) = Conform(index, k, input.Slot, g);
            for (int j = 0; j < k; j++)
            {
                if (Unsafe.Add(ref output, j) != g) continue;
                _c.KeepRuleTemporary(g);
                if (_c.IsEngineOwned(g)) _c.Share(g); // a tensor of a scope is only read, by any number of holders
                break;
            }
        }

        /// <summary>Delivers output <paramref name="k"/> if the rule gave one; a delivery that takes the node's gradient itself holds it from then on (stores it, or adds it and lets go of it).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void DeliverOutput<TNode>(int index, ref Node n, ref int output, int k, int grad) where TNode : struct, INodeCase
        {
            int g = Unsafe.Add(ref output, k);
            if (g < 0) return;
            if (Deliver(index, k, InputOf<TNode>(ref n, k), g) == grad) _inFlight = -1;
        }

        /// <summary>Sends one input's gradient along its edge, shaped and typed as the input (in a plain backward it already is); returns the slot delivered.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private int Deliver(int node, int k, in NodeInput input, int grad)
        {
            if (TMode.Records) grad = Conform(node, k, input.Slot, grad);
            if (input.Edge >= 0) DeliverToNode(input.Edge, grad);
            else DeliverToLeaf(Node.LeafSlot(input.Edge), grad);
            return grad;
        }

        /// <summary>Sums a broadcast gradient back to the input's shape and casts it to the input's dtype.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly int Conform(int node, int k, int input, int grad)
        {
            ref TensorRecord x = ref _c.Records[input];
            ref TensorRecord g = ref _c.Records[grad];
            // The common case without a call: the same dtype and rank, and 0-d or the same shape.
            if (g.DType == x.DType && g.Rank == x.Rank && (g.Rank == 0 || Broadcasting.SameShape(g, x))) return grad;
            return ConformSlow(node, k, input, grad);
        }

        private readonly int ConformSlow(int node, int k, int input, int grad)
        {
            ref TensorRecord x = ref _c.Records[input];
            ref TensorRecord g = ref _c.Records[grad];
            if (!Broadcasting.SameShape(g, x))
            {
                if (!Broadcasting.SumsTo(x, g)) ThrowHelper.GradientRuleShape(_c.NodeName(node), k, new Size(g.Shape, g.Rank), new Size(x.Shape, x.Rank));
                grad = new Var(_c, grad).SumToSize(x.Shape, x.Rank).Slot;
            }
            if (_c.Records[grad].DType != x.DType) grad = new Var(_c, grad).To(x.DType).Slot;
            return grad;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void DeliverToNode(int node, int grad)
        {
            _c.KeepRuleTemporary(grad);
            int waiting = _pending[node];
            if (waiting < 0)
            {
                _pending[node] = grad; // the first gradient moves in
                _waiting++;
                if (node > _top) _top = node;
                return;
            }
            _pending[node] = Sum(waiting, grad);
        }

        private readonly void DeliverToLeaf(int leaf, int grad)
        {
            ref TensorRecord r = ref _c.Records[leaf];
            if (Restricted && (r.Flags & TensorFlags.IsTarget) == 0)
            {
                Discard(grad);
                return;
            }
            _c.KeepRuleTemporary(grad);
            ref int accumulated = ref _c.AccumulatorOf(leaf);
            if (accumulated < 0)
            {
                accumulated = grad;
                _c.AddTouchedLeaf(leaf);
                return;
            }
            accumulated = Sum(accumulated, grad);
        }

        /// <summary>a + b as the engine's: in place into a when the engine alone owns a's dense memory, else a new tensor (recorded under createGraph).</summary>
        private readonly int Sum(int a, int b)
        {
            if (!Create && _c.IsWritableGradient(a) && (_c.Records[b].Flags & _c.TangentMask) == 0) // tangents follow the out-of-place sum
            {
                Accumulate.AddInto(_c, a, b);
                Discard(b);
                return a;
            }
            int sum = (new Var(_c, a) + new Var(_c, b)).Slot;
            _c.KeepRuleTemporary(sum);
            Discard(a);
            Discard(b);
            return sum;
        }

        private readonly void Discard(int grad) => _c.ReleaseIfEngineOwned(grad);

        /// <summary>A gradient of its own for whoever may keep or write it (a hook, a custom function, a result): a shared one is copied and let go of.</summary>
        private readonly int Unshared(int grad)
        {
            if (!_c.IsShared(grad)) return grad;
            int copy = OpSupport.CopyOf(_c, grad);
            Discard(grad);
            return copy;
        }

        /// <summary>Hands a non-leaf target's gradient over: to the results (Autograd.Grad), or into its .Grad (backward with inputs).</summary>
        private readonly void CaptureAtNode(int index, int grad)
        {
            foreach (int t in _targets)
            {
                if (_c.Records[t].Node != index) continue;
                if (HasResults) SetResult(t, grad);
                else WriteGrad(t, grad);
                return; // targets are distinct tensors, and one node has one output
            }
        }

        private readonly void SetResult(int target, int grad)
        {
            grad = Unshared(grad); // a result is the caller's alone
            for (int i = 0; i < _targets.Length; i++)
            {
                if (_targets[i] != target) continue;
                if (_results![i] < 0) _results[i] = grad;
            }
        }

        // ---- hooks (Hooks.cs runs them; here only where they fit in the pass) ----

        /// <summary>
        /// The gradient of a non-leaf whose tensor has hooks: they run on it once it is summed, before it is
        /// captured or used by the node's rule; RetainGrad keeps the result (a copy: the rule still uses it),
        /// unless backward(inputs) captures it into the same .Grad anyway.
        /// </summary>
        private int AtHookedNode(int index, int grad, byte mark)
        {
            int output = _c.Nodes[index].Output;
            grad = Unshared(grad);
            _inFlight = grad; // a hook that throws: Abandon lets go of it
            grad = Hooks.RunGradientHooks(_c, output, index, grad);
            _inFlight = grad;
            bool capturedIntoGrad = (mark & Capture) != 0 && !HasResults;
            if (!capturedIntoGrad && Hooks.RetainsGradAt(_c, output, index))
                WriteGrad(output, Create ? grad : StridedCopy.Clone(_c, grad, temporary: true));
            _inFlight = -1;
            return grad;
        }

        /// <summary>Every touched leaf's hooks, on its summed gradient, before any .Grad is written: a hook that throws leaves every .Grad as it was.</summary>
        private readonly void RunLeafHooks(int end)
        {
            for (int i = _leafStart; i < end; i++)
            {
                int leaf = _c.TouchedLeaf(i);
                ref int accumulated = ref _c.AccumulatorOf(leaf);
                accumulated = Unshared(accumulated);
                accumulated = Hooks.RunGradientHooks(_c, leaf, -1, accumulated);
            }
        }

        // ---- leaves ----

        /// <summary>Each leaf's summed gradient goes to its .Grad (or, for Autograd.Grad, to the results), once.</summary>
        public readonly void FinishLeaves()
        {
            int end = _c.TouchedLeafCount;
            bool hooks = _c.HasAnyHooks;
            if (hooks) RunLeafHooks(end);
            for (int i = _leafStart; i < end; i++)
            {
                int leaf = _c.TouchedLeaf(i);
                ref int accumulated = ref _c.AccumulatorOf(leaf);
                int grad = accumulated;
                accumulated = -1;
                if (HasResults) SetResult(leaf, grad);
                else WriteGrad(leaf, grad);
            }
            if (hooks && !HasResults)
            {
                for (int i = _leafStart; i < end; i++) Hooks.RunPostAccumulateHooks(_c, _c.TouchedLeaf(i));
            }
            _c.TouchedLeafCount = _leafStart;
        }

        /// <summary>
        /// Into a tensor's .Grad: the first gradient moves in (dense memory the leaf owns), later ones add
        /// in place. Under createGraph the .Grad is replaced out of place, as PyTorch does (a copy first, then
        /// old + new), so it carries the graph of the gradient.
        /// </summary>
        private readonly void WriteGrad(int leaf, int grad)
        {
            // The common case inline (a plain backward adding into a dense .Grad); the rest out of line keeps the hot path to a few cache lines.
            int existing = _c.Records[leaf].GradSlot;
            if (Create || existing < 0 || InPlace.HasInternalOverlap(_c.Records[existing]))
            {
                WriteGradSlow(leaf, grad);
                return;
            }
            Accumulate.AddInto(_c, existing, grad);
            _c.BumpVersion(existing); // an in-place write, as PyTorch's grad += new_grad: a saved .Grad is caught at its backward
            Discard(grad);
        }

        /// <summary>What <see cref="WriteGrad"/> does not take inline: createGraph, a first .Grad, or (what is left) an expanded .Grad.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private readonly void WriteGradSlow(int leaf, int grad)
        {
            ref TensorRecord r = ref _c.Records[leaf];
            if (Create)
            {
                Var g = new(_c, grad);
                // PyTorch: a leaf's first gradient is copied in (CopyBackwards), a non-leaf's cloned (CloneBackward0).
                Var updated = r.GradSlot >= 0 ? new Var(_c, r.GradSlot) + g : r.Node < 0 ? g.ZerosLike().Copy_(g) : g.Clone();
                _c.SetGrad(leaf, updated.Slot);
                return;
            }
            if (r.GradSlot < 0)
            {
                // A broadcast, view, shared or borrowed gradient is written out first: a .Grad owns dense memory.
                if (!_c.IsEngineOwned(grad) || _c.IsShared(grad) || !_c.Records[grad].OwnsDenseMemory)
                {
                    int dense = OpSupport.CopyOf(_c, grad);
                    Discard(grad);
                    grad = dense;
                }
                if (_c.Records[grad].IsPending) _c.Materialize(grad); // a .Grad is memory the leaf owns
                _c.AdoptAsGrad(grad, leaf);
                return;
            }
            // An expanded .Grad the user assigned repeats memory locations: add out of place, as a new .Grad.
            int sum = OpSupport.GradMap<Simd.AddOperator>(_c, grad, Operand.Of(r.GradSlot), Operand.Of(grad));
            if (_c.Records[sum].IsPending) _c.Materialize(sum);
            Discard(grad);
            _c.AdoptAsGrad(sum, leaf);
        }

        // ---- results of Autograd.Grad ----

        public readonly void CheckUsed(bool allowUnused)
        {
            if (allowUnused) return;
            foreach (int g in _results!)
                if (g < 0) ThrowHelper.DifferentiatedTensorUnused();
        }

        /// <summary>The gradients Autograd.Grad returns belong to the caller's scope, like any op's result.</summary>
        public readonly void HandResultsToTheScope()
        {
            for (int i = 0; i < _results!.Length; i++)
            {
                int g = _results[i];
                if (g < 0 || !_c.IsEngineOwned(g)) continue;
                bool seen = false;
                for (int j = 0; j < i; j++) seen |= _results[j] == g;
                if (!seen) _c.AdoptIntoCurrentScope(g);
            }
        }

        // ---- saved values and failure ----

        /// <summary>
        /// The node's saved values are still there and unmodified: a version compare each, inline (once per
        /// node), for a node recorded before the latest in-place write (no other can hold a modified one,
        /// <see cref="TensorContext.TapeLengthAtLastWrite"/>); the error out of line.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void CheckSavedValues(int index, ref Node n)
        {
            if ((n.Flags & NodeFlags.SavedReleased) != 0) ThrowHelper.BackwardTwice(_c.NodeName(index));
            if (index < _c.TapeLengthAtLastWrite && (!IsCurrent(n.Self) || !IsCurrent(n.Other) || !IsCurrent(n.Result))) ThrowSavedValueModified(ref n);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly bool IsCurrent(in SavedValue saved) => saved.Slot < 0 || _c.Version(saved.Slot) == saved.Version;

        /// <summary>The first saved value (self, other, result) that was modified, in PyTorch's words.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private readonly void ThrowSavedValueModified(ref Node n)
        {
            SavedValue saved = !IsCurrent(n.Self) ? n.Self : !IsCurrent(n.Other) ? n.Other : n.Result;
            int version = _c.Version(saved.Slot);
            var t = new Tensor(_c, saved.Slot);
            // As PyTorch: a saved output names the node that saved it; a saved input its current grad_fn.
            string? producer = saved.Slot == n.Output ? OpRows.GradFnName(n.Kind) : t.GradFn;
            ThrowHelper.SavedValueModified(t.Shape, t.DType, producer, version, saved.Version);
        }

        /// <summary>
        /// Anomaly mode: an output of the rule holding NaN fails the pass (before anything is delivered),
        /// naming the node and the output as PyTorch does, and the forward call that recorded it. With no
        /// NaN, an output holding Inf fails the same way (PyTorch lets Inf through): so wherever PyTorch
        /// raises on a node, the message is the one it gives.
        /// </summary>
        private readonly void CheckFinite(int index, ref Node n, ReadOnlySpan<int> outputs)
        {
            int firstInf = -1;
            for (int k = 0; k < outputs.Length; k++)
            {
                if (outputs[k] < 0 || BackwardContext.Input(ref n, k, _c).Edge == Node.NoEdge) continue; // not delivered
                (bool nan, bool inf) = NonFinite(outputs[k]);
                if (nan) ThrowHelper.AnomalyInBackward(_c.NodeName(index), "nan", k, _c.AnomalyCallSite(index));
                if (inf && firstInf < 0) firstInf = k;
            }
            if (firstInf >= 0) ThrowHelper.AnomalyInBackward(_c.NodeName(index), "inf", firstInf, _c.AnomalyCallSite(index));
        }

        /// <summary>Whether <paramref name="slot"/> holds a NaN, an infinity.</summary>
        private readonly (bool Nan, bool Inf) NonFinite(int slot)
        {
            ref TensorRecord r = ref _c.Records[slot];
            bool nan = false, inf = false;
            if (r.DType == DType.Float64)
            {
                var values = new double[r.NumEl];
                fixed (double* p = values) StridedCopy.ToContiguous(_c, slot, p);
                foreach (double v in values) { nan |= double.IsNaN(v); inf |= double.IsInfinity(v); }
            }
            else if (r.DType == DType.Float32)
            {
                var values = new float[r.NumEl];
                fixed (float* p = values) StridedCopy.ToContiguous(_c, slot, p);
                foreach (float v in values) { nan |= float.IsNaN(v); inf |= float.IsInfinity(v); }
            }
            return (nan, inf);
        }

        /// <summary>After an error: every gradient the pass still holds goes back, and nothing was written to a .Grad.</summary>
        public readonly void Abandon()
        {
            if (_inFlight >= 0) Discard(_inFlight);
            for (int i = 0; i <= _top; i++)
            {
                if (_pending[i] >= 0) Discard(_pending[i]);
                _pending[i] = -1;
            }
            int end = _c.TouchedLeafCount;
            for (int i = _leafStart; i < end; i++)
            {
                ref int accumulated = ref _c.AccumulatorOf(_c.TouchedLeaf(i));
                if (accumulated >= 0) Discard(accumulated);
                accumulated = -1;
            }
            _c.TouchedLeafCount = _leafStart;
            if (HasResults)
            {
                foreach (int g in _results!)
                    if (g >= 0) Discard(g);
            }
        }
    }

    /// <summary>What a pass is, as the type argument of <see cref="Pass{TMode}"/> and <c>Run</c>, which are compiled once per mode.</summary>
    private interface IPassMode
    {
        /// <summary>createGraph: rules record, gradients are ordinary tensors of the user's scope.</summary>
        static abstract bool Records { get; }

        /// <summary>False for a pass without targets; true where backward(inputs) or Autograd.Grad may have marked the nodes that lead to one (checked at run time).</summary>
        static abstract bool MayHaveTargets { get; }
    }

    private struct PlainPass : IPassMode
    {
        public static bool Records => false;
        public static bool MayHaveTargets => false;
    }

    private struct PlainPassToTargets : IPassMode
    {
        public static bool Records => false;
        public static bool MayHaveTargets => true;
    }

    private struct RecordingPass : IPassMode // with or without targets: a recording pass is not the hot path
    {
        public static bool Records => true;
        public static bool MayHaveTargets => true;
    }

    /// <summary>Which nodes a compilation of <c>Process</c> meets: any, or only ordinary ones (<c>IsOrdinary</c>), whose code has no tests for the rest.</summary>
    private interface INodeCase
    {
        static abstract bool MayBeUnusual { get; }
    }

    private struct AnyNode : INodeCase
    {
        public static bool MayBeUnusual => true;
    }

    private struct OrdinaryNode : INodeCase
    {
        public static bool MayBeUnusual => false;
    }

    /// <summary>Room for the gradients of a node's inputs without allocating (more inputs use an array).</summary>
    [System.Runtime.CompilerServices.InlineArray(Length)]
    private struct OutputBuffer
    {
        public const int Length = 4; // 16 bytes: Process sets them all with one Vector128 store
        private int _element0;

        // That store is the buffer's size: another length does not compile (division by constant zero).
        private const int IsOneVector = 1 / (Length * sizeof(int) == 16 ? 1 : 0);
    }

    /// <summary>The outputs of a node of more inputs than <see cref="OutputBuffer"/> holds: none yet.</summary>
    private static int[] NoOutputsYet(int count)
    {
        var outputs = new int[count];
        Array.Fill(outputs, -1);
        return outputs;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int[] PendingFor(TensorContext c)
    {
        if (c.PendingGradients.Length < c.NodeCount) GrowPending(c);
        return c.PendingGradients;
    }

    private static void GrowPending(TensorContext c)
    {
        int old = c.PendingGradients.Length;
        Array.Resize(ref c.PendingGradients, Math.Max(c.NodeCount, old * 2));
        Array.Fill(c.PendingGradients, -1, old, c.PendingGradients.Length - old);
    }
}
