using System.Runtime.CompilerServices;
using AutogradFast.Graph;
using AutogradFast.Storage;

namespace AutogradFast.Tests;

/// <summary>
/// The engine reads an ordinary node's two inputs by index (<c>Unsafe.Add(ref n.In0, k)</c>): that holds
/// only while In1 directly follows In0. Inputs beyond the second come from the side arena.
/// </summary>
public class NodeLayoutTests
{
    [Fact]
    public void TheSecondInput_DirectlyFollowsTheFirst()
    {
        Node n = default;
        Assert.Equal(Unsafe.SizeOf<NodeInput>(), (int)Unsafe.ByteOffset(ref n.In0, ref n.In1));
    }

    [Fact]
    public void EveryInputOfAThreeInputNode_IsReadWhereItWasRecorded()
    {
        using var scope = Autograd.Scope();
        Tensor condition = Tensor.From(new[] { true, false, true });
        Tensor a = Tensor.Ones(3, requiresGrad: true);
        Tensor b = Tensor.Zeros([3]).RequiresGrad_(true);
        Tensor y = Tensor.Where(condition, a, b);
        TensorContext c = TensorContext.Current;
        ref Node n = ref c.Nodes[c.Records[y.Slot].Node];
        Assert.Equal(3, n.InputCount);
        int[] expected = [condition.Slot, a.Slot, b.Slot];
        for (int k = 0; k < 3; k++) Assert.Equal(expected[k], Graph.Backward.Input(ref n, k, c).Slot);
        Assert.Equal(Node.NoEdge, Graph.Backward.Input(ref n, 0, c).Edge); // the condition gets no gradient
        Assert.Equal(Node.LeafEdge(b.Slot), Graph.Backward.Input(ref n, 2, c).Edge);
        y.Sum().Backward(); // a three-input node goes the general way: the gradients land where they belong
        Assert.Equal([1f, 0, 1], a.Grad!.Value.ToArray<float>());
        Assert.Equal([0f, 1, 0], b.Grad!.Value.ToArray<float>());
    }
}
