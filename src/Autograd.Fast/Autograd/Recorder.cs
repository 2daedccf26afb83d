using System.Runtime.CompilerServices;
using AutogradFast.Storage;

namespace AutogradFast.Graph;

/// <summary>Appends nodes to the tape: what every op calls after its forward kernel. What a node saves comes from its row.</summary>
internal static class Recorder
{
    /// <summary>Whether an op must call Record: an input requires grad while grad mode is on, or an input carries a tangent (forward mode, which no-grad does not stop, as in PyTorch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ShouldRecord(TensorContext c, int a, int b = -1)
    {
        TensorFlags f = c.Records[a].Flags | (b >= 0 ? c.Records[b].Flags : TensorFlags.None);
        return (f & c.RecordMask) != 0;
    }

    /// <summary>Whether any of <paramref name="inputs"/> requires grad while grad mode is on, or carries a tangent.</summary>
    public static bool ShouldRecord(TensorContext c, ReadOnlySpan<int> inputs)
    {
        TensorFlags f = TensorFlags.None;
        foreach (int slot in inputs) f |= c.Records[slot].Flags;
        return (f & c.RecordMask) != 0;
    }

    /// <summary>Whether a node goes on the tape (reverse mode): grad mode is on and an input requires grad.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ShouldRecordNode(TensorContext c, int a, int b = -1)
        => c.GradEnabled && ((c.Records[a].Flags & TensorFlags.RequiresGrad) != 0 || (b >= 0 && (c.Records[b].Flags & TensorFlags.RequiresGrad) != 0));

    /// <summary>Where a gradient for <paramref name="slot"/> goes: its producer node, its leaf accumulator, or nowhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int EdgeOf(TensorContext c, int slot) => EdgeOf(ref c.Records[slot], slot);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int EdgeOf(ref TensorRecord r, int slot)
    {
        // Two selects the compiler makes conditional moves: every recorded op runs this per input.
        int node = r.Node, leaf = Node.LeafEdge(slot);
        int edge = node >= 0 ? node : leaf;
        return (r.Flags & TensorFlags.RequiresGrad) != 0 ? edge : Node.NoEdge;
    }

    /// <summary>
    /// What every op calls after its forward kernel when <see cref="ShouldRecord(TensorContext, int, int)"/>
    /// said so, with everything its rules read (the scalar, two integers, a region's geometry): a tape
    /// node of one or two inputs when reverse mode records, then, when an input carries a tangent, the
    /// output's tangent from the row's forward rule (the one place forward mode runs).
    /// </summary>
    public static void Record(TensorContext c, OpKind kind, int output, int input0, int input1 = -1, double scalar = 0, int arg0 = 0, int arg1 = 0)
    {
        // The inputs' records are looked up once, for their flags and their edges (records never move).
        // Without a second input, r1 is the first's record: no branch, and its flags add nothing.
        ref TensorRecord r0 = ref c.Records[input0];
        ref TensorRecord r1 = ref c.Records[input1 >= 0 ? input1 : input0];
        TensorFlags f = InputFlags(c, ref r0, ref r1, input0, input1);
        if (c.GradEnabled && (f & TensorFlags.RequiresGrad) != 0) AppendNode(c, ref r0, ref r1, kind, output, input0, input1, scalar, arg0, arg1);
        if ((f & c.TangentMask) != 0) PropagateTangent(c, kind, output, input0, input1, scalar, arg0, arg1);
    }

    /// <summary>
    /// Forward mode's part of <see cref="Record(TensorContext, OpKind, int, int, int, double, int, int)"/>, out of line:
    /// its span of inputs and empty geometry are stack that every recorded op zeroed when it was inline.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void PropagateTangent(TensorContext c, OpKind kind, int output, int input0, int input1, double scalar, int arg0, int arg1)
        => Forward.Propagate(c, kind, output, input1 >= 0 ? [input0, input1] : [input0], scalar, arg0, arg1, default);

    /// <summary><see cref="Record(TensorContext, OpKind, int, int, int, double, int, int)"/> for an op whose rules address a region (stored with the node).</summary>
    public static void Record(TensorContext c, OpKind kind, int output, int input0, int input1, in Ops.ViewGeometry geometry, int arg0 = 0, int arg1 = 0)
    {
        TensorFlags f = InputFlags(c, input0, input1);
        if (c.GradEnabled && (f & TensorFlags.RequiresGrad) != 0)
            SaveGeometry(c, ref AppendNode(c, kind, output, input0, input1, 0, arg0, arg1), geometry);
        if ((f & c.TangentMask) != 0) Forward.Propagate(c, kind, output, input1 >= 0 ? [input0, input1] : [input0], 0, arg0, arg1, geometry);
    }

    /// <summary>
    /// The inputs' flags, after re-deriving any input that is a view whose history is out of date (its
    /// base was written in place since), as PyTorch regenerates such a view's grad_fn.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TensorFlags InputFlags(TensorContext c, int input0, int input1)
        => InputFlags(c, ref c.Records[input0], ref c.Records[input1 >= 0 ? input1 : input0], input0, input1);

    /// <summary><see cref="InputFlags(TensorContext, int, int)"/> with the inputs' records looked up (<paramref name="r1"/> is <paramref name="r0"/> when there is no second input).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TensorFlags InputFlags(TensorContext c, ref TensorRecord r0, ref TensorRecord r1, int input0, int input1)
    {
        TensorFlags f = r0.Flags | r1.Flags;
        if ((f & TensorFlags.IsView) != 0 && c.GradEnabled) f = RefreshViews(c, input0, input1);
        return f;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static TensorFlags RefreshViews(TensorContext c, int input0, int input1)
    {
        RefreshView(c, input0);
        if (input1 >= 0) RefreshView(c, input1);
        return c.Records[input0].Flags | (input1 >= 0 ? c.Records[input1].Flags : TensorFlags.None);
    }

    /// <summary>Re-derives view <paramref name="view"/> from its base if the base got a new history since (see <see cref="TensorContext.IsViewStale"/>).</summary>
    public static void RefreshView(TensorContext c, int view)
    {
        if ((c.Records[view].Flags & TensorFlags.IsView) != 0 && c.IsViewStale(view, out int baseSlot)) DeriveViewFromBase(c, view, baseSlot);
    }

    /// <summary>The view's history becomes its region of the base's current one (AsStridedBackward0, <see cref="OpKind.RegionOf"/>'s row).</summary>
    public static void DeriveViewFromBase(TensorContext c, int view, int baseSlot)
    {
        Ops.ViewGeometry where = Ops.Views.GeometryOf(c.Records[view]);
        Record(c, OpKind.RegionOf, view, baseSlot, -1, Ops.Views.RelativeGeometry(c.Records[baseSlot], where));
        c.MarkViewCurrent(view, baseSlot);
    }

    /// <summary>A node of one or two inputs; it saves what its row says. Every field is written once (the hot path of every recorded op).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // a call per recorded op was measurable on scalar graphs
    private static ref Node AppendNode(TensorContext c, OpKind kind, int output, int input0, int input1, double scalar, int arg0, int arg1)
        => ref AppendNode(c, ref c.Records[input0], ref c.Records[input1 >= 0 ? input1 : input0], kind, output, input0, input1, scalar, arg0, arg1);

    /// <summary><see cref="AppendNode(TensorContext, OpKind, int, int, int, double, int, int)"/> with the inputs' records looked up (<paramref name="r1"/> is <paramref name="r0"/> when there is no second input).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref Node AppendNode(TensorContext c, ref TensorRecord r0, ref TensorRecord r1, OpKind kind, int output, int input0, int input1, double scalar, int arg0, int arg1)
    {
        // Each record is looked up once (a paged lookup is ten instructions, and NativeAOT does not reuse one across stores).
        ref TensorRecord o = ref c.Records[output];
        ref Node n = ref c.AppendNode(out int index);
        n.Kind = kind;
        n.Output = output;
        n.In0.Slot = input0;
        n.In0.Edge = EdgeOf(ref r0, input0);
        n.In1.Slot = input1;
        int edge1 = EdgeOf(ref r1, input1); // r1 is r0 without a second input: computed, then not used
        n.In1.Edge = input1 >= 0 ? edge1 : Node.NoEdge;
        n.InputCount = (byte)(input1 >= 0 ? 2 : 1);
        n.MoreInputs = -1;
        n.Args = -1;
        n.Scalar = scalar;
        n.Arg0 = arg0;
        n.Arg1 = arg1;
        Saves saves = c.SavesByKind[(int)kind];
        n.Self.Slot = n.Other.Slot = n.Result.Slot = -1;
        n.Flags = saves == Saves.None ? NodeFlags.None : NodeFlags.SavesValues;
        if ((saves & ~Saves.Scalars) != 0) SaveTensors(c, ref n, saves);
        o.Node = index;
        o.Flags |= TensorFlags.RequiresGrad;
        if (c.AnomalyEnabled) c.CaptureCallSite(index); // anomaly mode's whole cost when off: this flag
        return ref n;
    }

    /// <summary>
    /// An in-place op on <paramref name="target"/> (after its write): its node has the target as output
    /// and as input 0, whose edge is still the old producer; a saved <c>self</c> is <paramref name="old"/>
    /// (a copy taken before the write, or the target itself where no rule reads the old value), and a
    /// saved source keeps the version it had before the write, so <c>y.Mul_(y)</c> fails at backward as
    /// in PyTorch. The target's tangent is the rule's, from the old value's.
    /// </summary>
    public static void RecordInPlace(TensorContext c, OpKind kind, int target, int old, int source, int sourceVersion, double scalar)
    {
        TensorFlags f = InputFlags(c, target, source) | c.Records[old].Flags;
        if (c.GradEnabled && (f & TensorFlags.RequiresGrad) != 0)
        {
            ref Node n = ref AppendNode(c, kind, target, target, source, scalar, 0, 0);
            if (n.Self.Slot == target && old != target) n.Self = Saved(c, old);
            if (n.Other.Slot >= 0 && n.Other.Version != sourceVersion)
            {
                n.Other.Version = sourceVersion; // the source was this write's target: its check must run
                c.TapeLengthAtLastWrite = c.NodeCount;
            }
        }
        if ((f & c.TangentMask) != 0) Forward.Propagate(c, kind, target, source >= 0 ? [old, source] : [old], scalar, 0, 0, default);
    }

    /// <summary>
    /// A node of any number of inputs (the first two inline, the rest in the side arena), and the
    /// output's tangent; a custom function's node carries its context. Returns the node, or -1.
    /// </summary>
    public static int Record(TensorContext c, OpKind kind, int output, ReadOnlySpan<int> inputs, FunctionContext? function = null)
    {
        if (inputs.Length is 0 or > byte.MaxValue) ThrowHelper.TooManyInputs(inputs.Length);
        TensorFlags f = TensorFlags.None;
        foreach (int slot in inputs) f |= InputFlags(c, slot, -1);
        int node = -1;
        if (c.GradEnabled && (f & TensorFlags.RequiresGrad) != 0)
        {
            // Edges first: an in-place op's output is one of its inputs, whose edge is its old producer.
            int more = inputs.Length > 2 ? c.AppendNodeInputs(inputs.Length - 2) : -1;
            for (int i = 2; i < inputs.Length; i++)
                c.NodeInputs[more + i - 2] = new NodeInput { Slot = inputs[i], Edge = EdgeOf(c, inputs[i]) };
            ref Node n = ref AppendNode(c, kind, output, inputs[0], inputs.Length > 1 ? inputs[1] : -1, 0, 0, 0);
            n.InputCount = (byte)inputs.Length;
            n.MoreInputs = more;
            node = c.Records[output].Node;
            if (function is not null) c.SetFunction(node, function);
        }
        if ((f & c.TangentMask) != 0) Forward.Propagate(c, kind, output, inputs, 0, 0, 0, default, function);
        return node;
    }

    /// <summary>Each kind's saves, copied out of the rows (a byte per kind: the recorder's only table read, through <see cref="TensorContext.SavesByKind"/>).</summary>
    internal static readonly Saves[] SavesByKind = BuildSaves();

    private static Saves[] BuildSaves()
    {
        OpKind[] kinds = Enum.GetValues<OpKind>();
        var saves = new Saves[kinds.Length];
        foreach (OpKind kind in kinds) saves[(int)kind] = OpRows.Of(kind).Saves;
        return saves;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // only AppendNode calls it
    private static void SaveTensors(TensorContext c, ref Node n, Saves saves)
    {
        if ((saves & Saves.Self) != 0 || ((saves & Saves.SelfForOther) != 0 && n.In1.Edge != Node.NoEdge)) n.Self = Saved(c, n.In0.Slot);
        if ((saves & Saves.Other) != 0 || ((saves & Saves.OtherForSelf) != 0 && n.In0.Edge != Node.NoEdge))
        {
            if (n.In1.Slot == n.In0.Slot && n.Self.Slot >= 0)
            {
                // x * x, x.dot(x): one tensor, one version. Field by field: a struct copy went through the
                // stack as two 4-byte stores and one 8-byte load, which the store buffer cannot forward.
                n.Other.Slot = n.Self.Slot;
                n.Other.Version = n.Self.Version;
            }
            else n.Other = Saved(c, n.In1.Slot);
        }
        if ((saves & Saves.Result) != 0) n.Result = Saved(c, n.Output);
    }

    private static SavedValue Saved(TensorContext c, int slot)
    {
        if ((c.Records[slot].Flags & TensorFlags.IsInference) != 0) RefuseInferenceTensor(c);
        return new() { Slot = slot, Version = c.Version(slot) };
    }

    /// <summary>An inference tensor has no version counter to save: the node being recorded (the tape's last) is dropped and the op fails, as PyTorch.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RefuseInferenceTensor(TensorContext c)
    {
        c.NodeCount--;
        ThrowHelper.InferenceTensorSaved();
    }

    /// <summary>Stores a region's geometry with the node (rank, offset, shape, strides), for rules that address part of a tensor.</summary>
    public static void SaveGeometry(TensorContext c, ref Node n, in Ops.ViewGeometry g)
    {
        int at = c.AppendNodeArgs(2 + 2 * g.Rank);
        n.Args = at;
        c.NodeArgs[at] = g.Rank;
        c.NodeArgs[at + 1] = g.Offset;
        for (int i = 0; i < g.Rank; i++)
        {
            c.NodeArgs[at + 2 + i] = g.Shape[i];
            c.NodeArgs[at + 2 + g.Rank + i] = g.Strides[i];
        }
    }

    /// <summary>The geometry <see cref="SaveGeometry"/> stored at <paramref name="at"/>.</summary>
    public static Ops.ViewGeometry Geometry(TensorContext c, int at)
    {
        Ops.ViewGeometry g = default;
        g.Rank = c.NodeArgs[at];
        g.Offset = c.NodeArgs[at + 1];
        for (int i = 0; i < g.Rank; i++)
        {
            g.Shape[i] = c.NodeArgs[at + 2 + i];
            g.Strides[i] = c.NodeArgs[at + 2 + g.Rank + i];
        }
        return g;
    }
}
