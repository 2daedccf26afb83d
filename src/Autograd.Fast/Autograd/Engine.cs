using AutogradFast.Ops;
using AutogradFast.Storage;

namespace AutogradFast.Graph;

/// <summary>
/// Reverse-mode sweep over the tape. Nodes sit in creation order, which is already a topological
/// order, so one pass from the root's node down to the oldest node still waiting for a gradient
/// visits each node after all its consumers. The engine does the shared work: the first gradient
/// moves in and later ones add, broadcast gradients are summed back to each input's shape, dtypes
/// follow the input, saved values are version-checked and released, and errors name the node.
/// </summary>
internal static class Engine
{
    public static void Backward(Tensor root, Tensor? gradient, bool retainGraph)
    {
        TensorContext c = root.Ctx;
        ref TensorRecord r = ref c.Records[root.Slot];
        // PyTorch's order: a given gradient's shape is checked before whether the output requires grad.
        if (gradient is { } given)
        {
            if (given.Ctx != c) ThrowHelper.ForeignTensor<int>();
            if (given.Shape != root.Shape) ThrowHelper.GradientShapeMismatch(given.Shape, root.Shape);
        }
        if ((r.Flags & TensorFlags.RequiresGrad) == 0) ThrowHelper.BackwardWithoutGrad();
        int seed = SeedGradient(c, root, gradient);
        if (r.Node < 0)
        {
            Deliver(c, Node.LeafEdge(root.Slot), root.Slot, seed);
            return;
        }
        Sweep(c, r.Node, seed, retainGraph);
    }

    /// <summary>The gradient of the root as an engine temporary: ones for a scalar, else a checked copy of <paramref name="gradient"/>.</summary>
    private static int SeedGradient(TensorContext c, Tensor root, Tensor? gradient)
    {
        ref TensorRecord r = ref c.Records[root.Slot];
        if (gradient is null)
        {
            if (r.NumEl != 1) ThrowHelper.ImplicitGradNonScalar();
            int ones = c.NewTensor(r.DType, root.Shape.AsSpan(), zero: false, temporary: true);
            Fill.Scalar(c, ones, 1);
            return ones;
        }
        Tensor g = gradient.Value; // checked by Backward
        // A copy, cast to the output's dtype: the engine may move it into a .Grad or add into it.
        return StridedCopy.CastToTemporary(c, g.Slot, r.DType);
    }

    private static void Sweep(TensorContext c, int rootNode, int seed, bool retainGraph)
    {
        int[] pending = PendingFor(c);
        pending[rootNode] = seed;
        int waiting = 1;
        int inFlight = -1; // the gradient taken out of pending and not yet consumed by its rule
        try
        {
            for (int i = rootNode; i >= 0 && waiting > 0; i--)
            {
                int grad = pending[i];
                if (grad < 0) continue;
                pending[i] = -1;
                waiting--;
                inFlight = grad;
                ref Node n = ref c.Nodes[i];
                CheckSavedValues(c, ref n);
                Derivatives.Apply(c, ref n, grad, out int g0, out int g1);
                inFlight = -1;
                if (g0 != grad && g1 != grad) c.ReleaseTemporary(grad);
                if (!retainGraph && (n.Flags & NodeFlags.SavesValues) != 0) n.Flags |= NodeFlags.SavedReleased;
                if (g0 >= 0) waiting += Deliver(c, pending, ref n, n.Edge0, n.Input0, g0, 0);
                if (g1 >= 0) waiting += Deliver(c, pending, ref n, n.Edge1, n.Input1, g1, 1);
            }
        }
        catch
        {
            if (inFlight >= 0) c.ReleaseTemporary(inFlight);
            for (int i = 0; i <= rootNode; i++)
            {
                if (pending[i] >= 0) c.ReleaseTemporary(pending[i]);
                pending[i] = -1;
            }
            throw;
        }
    }

    private static int[] PendingFor(TensorContext c)
    {
        if (c.PendingGradients.Length < c.NodeCount)
        {
            int old = c.PendingGradients.Length;
            Array.Resize(ref c.PendingGradients, Math.Max(c.NodeCount, old * 2));
            Array.Fill(c.PendingGradients, -1, old, c.PendingGradients.Length - old);
        }
        return c.PendingGradients;
    }

    private static void CheckSavedValues(TensorContext c, ref Node n)
    {
        if ((n.Flags & NodeFlags.SavesValues) == 0) return;
        if ((n.Flags & NodeFlags.SavedReleased) != 0) ThrowHelper.BackwardTwice(OpNames.GradFnName(n.Kind));
        CheckVersion(c, ref n, n.Saved0, n.SavedVersion0);
        CheckVersion(c, ref n, n.Saved1, n.SavedVersion1);
    }

    private static void CheckVersion(TensorContext c, ref Node n, int slot, int expected)
    {
        if (slot < 0) return;
        int version = c.Version(slot);
        if (version == expected) return;
        var t = new Tensor(c, slot);
        // As PyTorch: a saved output names the node that saved it; a saved input its current grad_fn.
        string? producer = slot == n.Output ? OpNames.GradFnName(n.Kind) : t.GradFn;
        ThrowHelper.SavedValueModified(t.Shape, t.DType, producer, version, expected);
    }

    /// <summary>Sends one input's gradient along its edge, shaped and typed as the input. Returns 1 if a node starts waiting.</summary>
    private static int Deliver(TensorContext c, int[] pending, ref Node n, int edge, int input, int grad, int index)
    {
        if (edge == Node.NoEdge)
        {
            c.ReleaseTemporary(grad);
            return 0;
        }
        grad = ConformToInput(c, ref n, input, grad, index);
        if (edge >= 0)
        {
            int waiting = pending[edge];
            if (waiting < 0)
            {
                pending[edge] = grad; // the first gradient moves in
                return 1;
            }
            pending[edge] = Accumulate.Sum(c, waiting, grad);
            return 0;
        }
        Deliver(c, edge, input, grad);
        return 0;
    }

    /// <summary>Into a leaf's .Grad: the first gradient moves in (the leaf's scope adopts it), later ones add in place.</summary>
    private static void Deliver(TensorContext c, int leafEdge, int input, int grad)
    {
        int leaf = Node.LeafSlot(leafEdge);
        ref TensorRecord r = ref c.Records[leaf];
        if (r.GradSlot < 0)
        {
            // A broadcast or view gradient is written out first: a .Grad owns dense memory.
            if (!c.Records[grad].OwnsDenseMemory) grad = OpSupport.WriteOut(c, grad);
            if (c.Records[grad].IsPending) c.Materialize(grad); // a .Grad is memory the leaf owns
            c.AdoptAsGrad(grad, leaf);
            return;
        }
        if (InPlace.HasInternalOverlap(c.Records[r.GradSlot]))
        {
            // An expanded .Grad the user assigned repeats memory locations: add out of place, as a new .Grad.
            int sum = OpSupport.GradMap<Simd.AddOperator>(c, grad, Operand.Of(r.GradSlot), Operand.Of(grad));
            if (c.Records[sum].IsPending) c.Materialize(sum);
            c.ReleaseTemporary(grad);
            c.AdoptAsGrad(sum, leaf);
            return;
        }
        Accumulate.AddInto(c, r.GradSlot, grad);
        c.ReleaseTemporary(grad);
    }

    /// <summary>Sums a broadcast gradient back to the input's shape and casts it to the input's dtype.</summary>
    private static int ConformToInput(TensorContext c, ref Node n, int input, int grad, int index)
    {
        ref TensorRecord g = ref c.Records[grad];
        ref TensorRecord x = ref c.Records[input];
        if (!Broadcasting.SameShape(g, x))
        {
            if (!Broadcasting.SumsTo(x, g)) ThrowHelper.GradientRuleShape(OpNames.GradFnName(n.Kind), index, new Size(g.Shape, g.Rank), new Size(x.Shape, x.Rank));
            if (!g.IsContiguous) grad = OpSupport.WriteOut(c, grad); // SumToShape reads rows of a dense gradient
            int summed = Broadcasting.SumToShape(c, grad, x.Shape, x.Rank);
            c.ReleaseTemporary(grad);
            grad = summed;
        }
        if (c.Records[grad].DType != x.DType)
        {
            int cast = StridedCopy.CastToTemporary(c, grad, x.DType);
            c.ReleaseTemporary(grad);
            grad = cast;
        }
        return grad;
    }
}
