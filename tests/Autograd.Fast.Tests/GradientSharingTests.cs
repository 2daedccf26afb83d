using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// A gradient handed to several inputs (Add's) is shared by them in a plain backward, not copied:
/// nothing may add into it while it is shared, and whoever may keep or write it (a .Grad, a hook,
/// a result of Autograd.Grad) gets one of its own. Each case would go wrong if a holder wrote into
/// or released the shared gradient.
/// </summary>
public class GradientSharingTests
{
    private static float[] V(Tensor t) => t.ToArray<float>();

    [Fact]
    public void OneLeafOnBothSides_GetsBothContributions()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        (x + x).Sum().Backward();
        Assert.Equal([2f, 2f], V(x.Grad!.Value));
        (x + x).Sum().Backward(); // into the existing .Grad, in place
        Assert.Equal([4f, 4f], V(x.Grad!.Value));
    }

    [Fact]
    public void OneNodeOnBothSides_AndALaterContribution()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var z = x * 3;
        ((z + z) + z * 2).Sum().Backward(); // z's pending gradient: shared twice, then a third one added
        Assert.Equal([12f, 12f], V(x.Grad!.Value));
    }

    [Fact]
    public void TwoLeavesSharingOneGradient_HaveGradsOfTheirOwn()
    {
        var a = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var b = Tensor.From(new[] { 3f, 4f }, requiresGrad: true);
        (a + b).Sum().Backward();
        a.Grad!.Value.Mul_(10);
        Assert.Equal([10f, 10f], V(a.Grad!.Value));
        Assert.Equal([1f, 1f], V(b.Grad!.Value));
    }

    [Fact]
    public void ResultsOfGrad_AreDistinctTensors()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var a = x * 3;
        var b = x * 5;
        Tensor?[] g = Autograd.Grad([a + b], [a, b], [Tensor.From(new[] { 1f, 1f })]); // dense, unlike sum's expanded gradient
        g[0]!.Value.Mul_(7);
        Assert.Equal([7f, 7f], V(g[0]!.Value));
        Assert.Equal([1f, 1f], V(g[1]!.Value));
    }

    [Fact]
    public void AHookWritingItsGradient_LeavesTheOtherHolderAlone()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var a = x * 3;
        var b = x * 5;
        b.RegisterHook(g => { g.Mul_(10); return null; }); // b's node is the newer: it runs first
        (a + b).Sum().Backward();
        Assert.Equal([53f, 53f], V(x.Grad!.Value)); // 3 + 5 * 10
    }

    [Fact]
    public void RepeatedSteps_DoNotLeakSlots()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var u = Tensor.From(new[] { 3f, 4f }, requiresGrad: true);
        for (int i = 0; i < 3; i++)
        {
            using var s = Autograd.Scope();
            (x + u + x * u).Sum().Backward();
        }
        int live = LiveSlots();
        for (int i = 0; i < 50; i++)
        {
            using var s = Autograd.Scope();
            (x + u + x * u).Sum().Backward();
        }
        Assert.Equal(live, LiveSlots());
        Assert.Equal([53 * 4f, 53 * 5f], V(x.Grad!.Value)); // d/dx = 1 + u per step
    }

    private static int LiveSlots() => Storage.TensorContext.Current.LiveSlotCount;
}
