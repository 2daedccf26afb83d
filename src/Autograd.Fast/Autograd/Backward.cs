using System.Runtime.CompilerServices;
using AutogradFast.Ops;
using AutogradFast.Storage;

namespace AutogradFast.Graph;

/// <summary>
/// What a backward rule sees of its node: the incoming gradient, the saved values by role, the inputs'
/// shapes, the scalars, which inputs need a gradient, and where to put each input's gradient. A rule
/// computes one local product per input with <see cref="Var"/> ops; the engine does the rest
/// (summing broadcasts back, casting to the input's dtype, accumulating, releasing).
/// <para>Ownership: the incoming <see cref="Grad"/> is lent to the rule. A gradient given to
/// <see cref="Out"/> belongs to the engine from then on; handing on <see cref="Grad"/> itself is a move.
/// Everything else the rule computed is released when it returns (in a plain backward), or stays in
/// the user's scope as part of the new graph (under createGraph).</para>
/// </summary>
internal ref struct Backward
{
    public readonly TensorContext C;
    private readonly ref Node _node;
    private readonly Span<int> _outputs;

    /// <summary>The gradient arriving at the node's output.</summary>
    public readonly Var Grad;

    /// <summary>
    /// <see cref="Grad"/> for the rule's last read of it: an elementwise op on it (scalar mul and div,
    /// mul, the fused backward kernels) writes its result into it instead of a new tensor, when the
    /// result has its shape and dtype and nothing else can see it: the engine alone holds it
    /// (<see cref="TensorContext.IsWritableGradient"/>; a gradient a hook was given belongs to the
    /// user's scope, a shared one to several inputs), and it is small enough that the op would not be
    /// deferred for fusion. Under createGraph it is <see cref="Grad"/>, and the op records as usual.
    /// </summary>
    public readonly Var LastGrad
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(C, Grad.Slot, overwritable: GradIsOverwritable());
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // the rules that read LastGrad stay small
    private readonly bool GradIsOverwritable() => C.IsWritableGradient(Grad.Slot, maxElements: C.FusionMinElements);

    public Backward(TensorContext c, ref Node node, int index, int grad, Span<int> outputs)
    {
        C = c;
        NodeIndex = index;
        _node = ref node;
        _outputs = outputs;
        Grad = new Var(c, grad);
    }

    /// <summary>The node's index on the tape (a custom function's context is looked up by it).</summary>
    public readonly int NodeIndex;

    public readonly int InputCount => _node.InputCount;

    /// <summary>Whether input <paramref name="i"/> needs a gradient (its edge leads somewhere).</summary>
    public readonly bool Needs(int i) => Input(ref _node, i, C).Edge != Node.NoEdge;

    /// <summary>Input <paramref name="i"/> as a tensor: read its shape and dtype; its values only if the row saves it.</summary>
    public readonly Var Input(int i) => new(C, Input(ref _node, i, C).Slot);

    public readonly Var Self => Saved(_node.Self);

    public readonly Var Other => Saved(_node.Other);

    public readonly Var Result => Saved(_node.Result);

    public readonly double Scalar => _node.Scalar;

    public readonly int Arg0 => _node.Arg0;

    public readonly int Arg1 => _node.Arg1;

    /// <summary>The node's stored integers (a geometry), see <see cref="Regions"/>.</summary>
    public readonly int Args => _node.Args;

    /// <summary>Whether both inputs are one tensor reached by one edge (<c>x * x</c>): one gradient serves both.</summary>
    public readonly bool InputsAreOneTensor
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _node.InputCount == 2 && _node.In0.Slot == _node.In1.Slot && _node.In0.Edge == _node.In1.Edge;
    }

    /// <summary>The gradient for input <paramref name="i"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Out(int i, Var gradient) => _outputs[i] = gradient.Slot;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly Var Saved(in SavedValue saved)
    {
        if (saved.Slot < 0) ThrowHelper.RuleReadsUnsavedValue(C.NodeName(NodeIndex));
        return new Var(C, saved.Slot);
    }

    internal static ref NodeInput Input(ref Node n, int i, TensorContext c)
    {
        if (i == 0) return ref n.In0;
        if (i == 1) return ref n.In1;
        return ref c.NodeInputs[n.MoreInputs + i - 2];
    }
}
