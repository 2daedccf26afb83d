using System.Runtime.CompilerServices;
using AutogradFast.Storage;

namespace AutogradFast.Graph;

/// <summary>Appends nodes to the tape: what every op calls after its forward kernel.</summary>
internal static class Recorder
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ShouldRecord(TensorContext c, int a, int b = -1)
        => c.GradEnabled && ((c.Records[a].Flags & TensorFlags.RequiresGrad) != 0 || (b >= 0 && (c.Records[b].Flags & TensorFlags.RequiresGrad) != 0));

    /// <summary>Where a gradient for <paramref name="slot"/> goes: its producer node, its leaf accumulator, or nowhere.</summary>
    public static int EdgeOf(TensorContext c, int slot)
    {
        ref TensorRecord r = ref c.Records[slot];
        if ((r.Flags & TensorFlags.RequiresGrad) == 0) return Node.NoEdge;
        return r.Node >= 0 ? r.Node : Node.LeafEdge(slot);
    }

    public static ref Node Record(TensorContext c, OpKind kind, int output, int input0, int input1 = -1)
    {
        ref Node n = ref c.AppendNode(out int index);
        n.Kind = kind;
        n.Output = output;
        n.Input0 = input0;
        n.Input1 = input1;
        n.Edge0 = input0 >= 0 ? EdgeOf(c, input0) : Node.NoEdge;
        n.Edge1 = input1 >= 0 ? EdgeOf(c, input1) : Node.NoEdge;
        n.Saved0 = n.Saved1 = -1;
        ref TensorRecord o = ref c.Records[output];
        o.Node = index;
        o.Flags |= TensorFlags.RequiresGrad;
        return ref n;
    }

    /// <summary>Saves tensors for the rule, with their storage versions (checked at backward).</summary>
    public static void Save(TensorContext c, ref Node n, int slot0, int slot1 = -1)
    {
        n.Flags |= NodeFlags.SavesValues;
        n.Saved0 = slot0;
        n.SavedVersion0 = c.Version(slot0);
        if (slot1 >= 0)
        {
            n.Saved1 = slot1;
            n.SavedVersion1 = c.Version(slot1);
        }
    }

    /// <summary>The rule needs only scalars, but PyTorch saves them as tensors and frees them after backward: match it.</summary>
    public static void SaveScalarOnly(ref Node n, double scalar)
    {
        n.Flags |= NodeFlags.SavesValues;
        n.Scalar = scalar;
    }
}
