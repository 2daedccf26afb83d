using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// Tensor hooks, RetainGrad and post-accumulate hooks. Expected values are closed forms of the
/// graphs; the same programs were run under PyTorch 1.13 when this was written and agree (no fixture yet).
/// </summary>
public class HookTests
{
    private static float[] V(Tensor t) => t.ToArray<float>();

    [Fact]
    public void LeafHook_RunsOnceOnTheSummedGradient()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var seen = new List<float[]>();
        x.RegisterHook(g => { seen.Add(V(g)); return null; });
        (x * x + x * 3 + x.Exp()).Sum().Backward();
        Assert.Single(seen);
        float[] expected = [2 * 1 + 3 + MathF.Exp(1), 2 * 2 + 3 + MathF.Exp(2)];
        Assert.Equal(expected, seen[0], (a, b) => MathF.Abs(a - b) < 1e-5f);
        Assert.Equal(expected, V(x.Grad!.Value), (a, b) => MathF.Abs(a - b) < 1e-5f);
    }

    [Fact]
    public void Hooks_RunInOrder_EachOnThePreviousResult_AndRetainGradSeesTheLast()
    {
        var x = Tensor.From(new[] { 1f, 2f, 3f }, requiresGrad: true);
        var y = x * 2;
        y.RegisterHook(g => g * 10);
        y.RetainGrad();
        y.RegisterHook(g => g + 1);
        (y * y).Sum().Backward();
        // dL/dy = 2y = 4x, then *10, then +1 (PyTorch 1.13: retain_grad sees every hook's result)
        float[] gy = [41, 81, 121];
        Assert.Equal(gy, V(y.Grad!.Value));
        Assert.Equal(gy.Select(v => 2 * v).ToArray(), V(x.Grad!.Value));
        Assert.True(y.RetainsGrad);
        Assert.False(x.RetainsGrad);
    }

    [Fact]
    public void AHook_RunsAfterAnotherTensorsHookWasRemoved_OrReleasedWithItsTensor()
    {
        // The context's "any hooks" bit (one test per pass) follows the table: emptied, then filled again.
        var a = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var b = Tensor.From(new[] { 3f, 4f }, requiresGrad: true);
        int runs = 0;
        a.RegisterHook(g => { runs++; return null; }).Remove();
        b.RegisterHook(g => { runs++; return g * 2; });
        (a * b).Sum().Backward();
        Assert.Equal(1, runs);
        Assert.Equal(new[] { 2f, 4f }, V(b.Grad!.Value)); // 2 * a: b's hook ran, a's did not
        using (Autograd.Scope())
        {
            var t = Tensor.From(new[] { 5f }, requiresGrad: true);
            t.RegisterHook(g => { runs += 10; return null; });
        } // t is released with its hook: b's still runs
        (a * b).Sum().Backward();
        Assert.Equal(2, runs);
        Assert.Equal(new[] { 4f, 8f }, V(b.Grad!.Value));
    }

    [Fact]
    public void RemovedHook_DoesNotRun_AndRemovingTwiceIsFine()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        RemovableHandle h1 = x.RegisterHook(g => g * 2);
        x.RegisterHook(g => g + 1);
        h1.Remove();
        h1.Remove();
        (x * 1).Sum().Backward();
        Assert.Equal(new float[] { 2, 2 }, V(x.Grad!.Value));
    }

    [Fact]
    public void RetainGrad_AccumulatesOverPasses_AndIsNotDoubledByBackwardInputs()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var y = x * x;
        y.RetainGrad();
        Tensor z = (y * 3).Sum();
        z.Backward(retainGraph: true);
        Assert.Equal(new float[] { 3, 3 }, V(y.Grad!.Value));
        z.Backward(retainGraph: true);
        Assert.Equal(new float[] { 6, 6 }, V(y.Grad!.Value));
        Assert.Equal(new float[] { 12, 24 }, V(x.Grad!.Value));
        y.Grad = null;
        x.Grad = null;
        z.Backward(retainGraph: true, inputs: [y]);
        Assert.Equal(new float[] { 3, 3 }, V(y.Grad!.Value));
        Assert.Null(x.Grad);
    }

    [Fact]
    public void HooksUnderAutogradGrad_RunAndReplace()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var y = x * 3;
        var order = new List<string>();
        y.RegisterHook(g => { order.Add("y"); return null; });
        x.RegisterHook(g => { order.Add("x"); return g * 2; });
        Tensor gx = Autograd.Grad((y * y).Sum(), x)!.Value;
        Assert.Equal(new[] { "y", "x" }, order);
        Assert.Equal(new float[] { 36, 72 }, V(gx)); // 18x, doubled by the hook
        Assert.Null(x.Grad);
    }

    [Fact]
    public void HooksUnderCreateGraph_SeeGradientsWithAGraph()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var y = x.Pow(3);
        var requires = new List<bool>();
        y.RegisterHook(g => { requires.Add(g.RequiresGrad); return null; });
        x.RegisterHook(g => { requires.Add(g.RequiresGrad); return g * g; });
        (y * y).Sum().Backward(createGraph: true);
        Assert.Equal(new[] { true, true }, requires);
        // dL/dx = 6x^5; squared by the hook: 36 x^10
        Assert.Equal(new float[] { 36, 36 * 1024 }, V(x.Grad!.Value));
        Assert.True(x.Grad!.Value.RequiresGrad);
    }

    [Fact]
    public void ThrowingHook_PropagatesAndLeavesTheEngineUsable()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var w = Tensor.From(new[] { 3f, 4f }, requiresGrad: true);
        RemovableHandle bad = x.RegisterHook(_ => throw new InvalidDataException("boom"));
        int live = Autograd.PoolStatistics().LiveTensors;
        using (Autograd.Scope())
        {
            Assert.Throws<InvalidDataException>(() => (x * x * w).Sum().Backward());
        }
        Assert.Null(x.Grad);
        Assert.Null(w.Grad); // leaf hooks run before any .Grad is written
        Assert.Equal(live, Autograd.PoolStatistics().LiveTensors);
        bad.Remove();
        (x * x).Sum().Backward();
        Assert.Equal(new float[] { 2, 4 }, V(x.Grad!.Value));
    }

    [Fact]
    public void HooksDieWithTheirTensor_AReusedSlotHasNone()
    {
        var calls = 0;
        using (Autograd.Scope())
        {
            var a = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            a.RegisterHook(g => { calls++; return g * 100; });
            a.RetainGrad();
        }
        for (int i = 0; i < 4; i++)
        {
            using var s = Autograd.Scope();
            var b = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            var c = b * 2;
            Assert.False(c.RetainsGrad);
            c.Sum().Backward();
            Assert.Equal(new float[] { 2, 2 }, V(b.Grad!.Value));
            Assert.Null(c.Grad);
        }
        Assert.Equal(0, calls);
    }

    [Fact]
    public void KeptHookGradient_IsNotChangedByTheEngine()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var y = x * 1;
        Tensor? kept = null;
        y.RegisterHook(g => { kept = g; return null; });
        (y * 2 + y * 3).Sum().Backward();
        Assert.Equal(new float[] { 5, 5 }, V(kept!.Value));
        Assert.Equal(new float[] { 5, 5 }, V(x.Grad!.Value));
        (x * 7).Sum().Backward();
        Assert.Equal(new float[] { 5, 5 }, V(kept!.Value));
    }

    [Fact]
    public void PostAccumulateHook_SeesTheWrittenGrad()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        float[]? seen = null;
        x.RegisterPostAccumulateGradHook(t => seen = V(t.Grad!.Value));
        (x * x).Sum().Backward();
        Assert.Equal(new float[] { 2, 4 }, seen);
        seen = null;
        Autograd.Grad((x * x).Sum(), x);
        Assert.Null(seen); // Autograd.Grad writes no .Grad
    }

    [Fact]
    public void WrongInput_FailsWithPyTorchsMessages()
    {
        var plain = Tensor.From(new[] { 1f });
        Assert.Equal("can't retain_grad on Tensor that has requires_grad=False",
            Assert.Throws<InvalidOperationException>(() => plain.RetainGrad()).Message);
        Assert.Equal("cannot register a hook on a tensor that doesn't require gradient",
            Assert.Throws<InvalidOperationException>(() => plain.RegisterHook(g => g)).Message);
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Assert.Equal("post accumulate grad hooks cannot be registered on non-leaf tensors",
            Assert.Throws<InvalidOperationException>(() => (x * 2).RegisterPostAccumulateGradHook(_ => { })).Message);
        x.RegisterHook(_ => Tensor.Ones(3));
        Assert.Contains("has changed the size of value",
            Assert.Throws<InvalidOperationException>(() => (x * 2).Sum().Backward()).Message);
        var z = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        z.RegisterHook(g => g.To(DType.Float64));
        Assert.Contains("has changed the type of value (was torch.FloatTensor got torch.DoubleTensor)",
            Assert.Throws<InvalidOperationException>(() => (z * 2).Sum().Backward()).Message);
        var w = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        w.RegisterHook(g => { (w * 1).Sum().Backward(); return null; });
        Assert.Throws<InvalidOperationException>(() => (w * 2).Sum().Backward());
    }
}
