using AutogradFast.Storage;

namespace AutogradFast.Tests;

/// <summary>
/// <c>.Grad</c> assignment and its lifetimes: an assigned gradient takes its leaf's lifetime (never
/// its scope's), <c>.Grad = null</c> returns the buffer, the setter checks the handle, dtype and shape,
/// and long training loops that clip, replace and drop gradients keep the pool flat.
/// </summary>
public class GradAssignmentTests
{
    [Fact]
    public void AGradAssignedInsideAScope_OutlivesTheScope_AndTheNextBackwardAddsIntoIt()
    {
        // The reported loop: the scaled gradient was freed with the step's scope, and the next step's
        // backward wrote into whatever reused its slot (q = p * p read [3, 3, 3]).
        Tensor p = Tensor.Ones(3, requiresGrad: true);
        for (int step = 0; step < 3; step++)
        {
            using (Autograd.Scope())
            {
                Tensor q = p * p;
                Assert.Equal(new[] { 1f, 1f, 1f }, q.ToArray<float>());
                q.Sum().Backward();
                p.Grad = p.Grad!.Value * 0.5;
            }
        }
        // PyTorch: 2 * 0.5 = 1; (1 + 2) * 0.5 = 1.5; (1.5 + 2) * 0.5 = 1.75
        Assert.Equal(new[] { 1.75f, 1.75f, 1.75f }, p.Grad!.Value.ToArray<float>());
    }

    [Fact]
    public void AnAssignedGrad_IsTheAssignedTensor_AsInPyTorch()
    {
        using (Autograd.Scope())
        {
            Tensor p = Tensor.Ones(2, requiresGrad: true);
            Tensor g = Tensor.Full([2], 10);
            p.Grad = g;
            (p * 3).Sum().Backward();
            Assert.Equal(new[] { 13f, 13f }, g.ToArray<float>()); // accumulated into the same memory
            Assert.Equal(p.Grad!.Value, g);
        }
    }

    [Fact]
    public void SettingGradToNull_ReturnsItsBuffer_AndAnOldHandleToItThrows()
    {
        Tensor p = Tensor.Ones(1000, requiresGrad: true); // pooled
        (p * 2).Sum().Backward();
        Tensor old = p.Grad!.Value;
        var before = Autograd.PoolStatistics();
        p.Grad = null;
        var after = Autograd.PoolStatistics();
        Assert.Equal(before.LiveTensors - 1, after.LiveTensors);
        Assert.Null(p.Grad);
        var e = Assert.Throws<ObjectDisposedException>(() => old.Sum());
        Assert.Contains(".Grad = null", e.Message);
        (p * 3).Sum().Backward(); // starts afresh
        Assert.All(p.Grad!.Value.ToArray<float>(), v => Assert.Equal(3f, v));
    }

    [Fact]
    public void TenThousandStepsThatDropTheirGrads_KeepThePoolFlat()
    {
        // The reported leak: 10,000 steps with `p.Grad = null` left 10,001 live tensors and 41 MB.
        Tensor p = Tensor.Ones(1000, requiresGrad: true);
        void Step()
        {
            using (Autograd.Scope())
            {
                (p * 2).Sum().Backward();
                p.Grad = null; // PyTorch 2's zero_grad(set_to_none=True)
            }
        }
        for (int i = 0; i < 10; i++) Step();
        var before = Autograd.PoolStatistics();
        for (int i = 0; i < 10_000; i++) Step();
        Assert.Equal(before, Autograd.PoolStatistics());
    }

    [Fact]
    public void AGradSharedByTwoLeaves_LivesUntilTheLastLetsGo()
    {
        Tensor a = Tensor.Ones(3, requiresGrad: true), b = Tensor.Ones(3, requiresGrad: true);
        (a * 4).Sum().Backward();
        b.Grad = a.Grad;
        a.Grad = null;
        Assert.Equal(new[] { 4f, 4f, 4f }, b.Grad!.Value.ToArray<float>()); // still alive: b holds it
        int live = Autograd.PoolStatistics().LiveTensors;
        b.Grad = null;
        Assert.Equal(live - 1, Autograd.PoolStatistics().LiveTensors);
    }

    [Fact]
    public void AGradFromAnOuterScope_StaysOwnedByThatScope()
    {
        Tensor outer = Tensor.Full([2], 5);
        Tensor inner;
        using (Autograd.Scope())
        {
            Tensor p = Tensor.Ones(2, requiresGrad: true);
            p.Grad = outer;
            inner = p;
        }
        // The leaf is gone with its scope; the tensor it held as .Grad is the outer scope's and lives on.
        Assert.Throws<ObjectDisposedException>(() => inner.Sum());
        Assert.Equal(new[] { 5f, 5f }, outer.ToArray<float>());
    }

    [Fact]
    public void AGradMadeInAScopeThatHasEnded_IsAStaleHandle()
    {
        Tensor p = Tensor.Ones(2, requiresGrad: true);
        Tensor stale;
        using (Autograd.Scope()) stale = Tensor.Ones(2);
        var e = Assert.Throws<ObjectDisposedException>(() => p.Grad = stale);
        Assert.Contains("Autograd.Scope #", e.Message);
        Assert.Null(p.Grad);
    }

    [Fact]
    public void AGradFromAnotherThread_IsRefused()
    {
        Tensor p = Tensor.Ones(2, requiresGrad: true);
        Tensor foreign = default;
        var thread = new Thread(() => foreign = Tensor.Ones(2));
        thread.Start();
        thread.Join();
        var e = Assert.Throws<InvalidOperationException>(() => p.Grad = foreign);
        Assert.Contains("belong to different graphs", e.Message); // that thread has ended: its graph is free, but another graph
    }

    [Fact]
    public void AGradWithHistory_AssignedInAScope_KeepsItsValuesAfterTheScope()
    {
        Tensor p = Tensor.Ones(2, requiresGrad: true);
        Tensor x = Tensor.Full([2], 3, requiresGrad: true);
        using (Autograd.Scope())
        {
            Tensor g = x * 2; // has a grad_fn recorded in this scope
            p.Grad = g;
            Assert.Equal("MulBackward0", p.Grad!.Value.GradFn);
        }
        // Its history was this scope's and is gone; its values are the leaf's now.
        Assert.Equal(new[] { 6f, 6f }, p.Grad!.Value.ToArray<float>());
        Assert.Null(p.Grad!.Value.GradFn);
        (p * 1).Sum().Backward();
        Assert.Equal(new[] { 7f, 7f }, p.Grad!.Value.ToArray<float>());
    }

    [Fact]
    public void AGradThatIsAViewOfTinyData_IsHeldAsItsOwnCopy()
    {
        // Tiny tensors keep their elements in their own record: a view of one would die with it.
        Tensor p = Tensor.Ones(2, requiresGrad: true);
        using (Autograd.Scope())
        {
            Tensor pair = Tensor.From(new[,] { { 1f, 2f }, { 3f, 4f } }); // 16 bytes: inline
            p.Grad = pair[1];
        }
        Assert.Equal(new[] { 3f, 4f }, p.Grad!.Value.ToArray<float>());
    }

    [Fact]
    public void AnExpandedGrad_IsAddedIntoOutOfPlace()
    {
        // Its elements share one memory location: adding in place would race with itself.
        Tensor p = Tensor.Ones(3, requiresGrad: true);
        p.Grad = Tensor.Full([1], 10).Expand(3);
        (p * Tensor.From(new[] { 1f, 2f, 3f })).Sum().Backward();
        Assert.Equal(new[] { 11f, 12f, 13f }, p.Grad!.Value.ToArray<float>());
    }

    /// <summary>A training loop that clips, rescales, replaces and drops gradients: nothing may grow.</summary>
    [Fact]
    public void HundredThousandScopedSteps_AssigningGradsEveryWay_KeepThePoolFlat()
    {
        Autograd.ManualSeed(3);
        Tensor w = Tensor.Randn(8, 4, requiresGrad: true), b = Tensor.Zeros(4, requiresGrad: true);
        Tensor x = Tensor.Randn(2, 8), keep = Tensor.Zeros(4);
        void Step(int i)
        {
            using (Autograd.Scope())
            {
                Tensor loss = (Tensor.Mm(x, w) + b).Tanh().Pow(2).Mean();
                loss.Backward();
                switch (i % 4)
                {
                    case 0: w.Grad = w.Grad!.Value * 0.5; break;            // rescale: made in this scope, outlives it
                    case 1: w.Grad = null; b.Grad = null; break;            // set_to_none
                    case 2: b.Grad = keep; break;                           // a tensor of the outer scope
                    default: w.Grad!.Value.Zero_(); b.Grad = b.Grad!.Value.Clone(); break;
                }
            }
        }
        for (int i = 0; i < 100; i++) Step(i);
        var before = Autograd.PoolStatistics();
        for (int i = 0; i < 100_000; i++) Step(i);
        var after = Autograd.PoolStatistics();
        Assert.Equal(before.LiveTensors, after.LiveTensors);
        Assert.Equal(before.PooledBytes, after.PooledBytes);
        Assert.Equal(before.RecordedNodes, after.RecordedNodes);
        Assert.True(TensorContext.Current.LiveSlotCount == after.LiveTensors);
    }
}
