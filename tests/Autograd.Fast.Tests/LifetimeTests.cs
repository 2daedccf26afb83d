using AutogradFast.Storage;

namespace AutogradFast.Tests;

/// <summary>Scopes, pooling and stale handles: a training loop must not grow anything.</summary>
public class LifetimeTests
{
    /// <summary>One W4-style step: forward, backward, SGD under no_grad, zero the grads.</summary>
    private static float Step(Tensor x, Tensor target, Tensor w1, Tensor b1, Tensor w2, Tensor b2)
    {
        using var scope = Autograd.Scope();
        var h = (Tensor.Mm(x, w1) + b1).Tanh();
        var output = Tensor.Mm(h, w2) + b2;
        var loss = (output - target).Pow(2).Mean();
        loss.Backward();
        float value = loss.Item<float>();
        using (Autograd.NoGrad())
        {
            foreach (var p in new[] { w1, b1, w2, b2 }) p.Add_(p.Grad!.Value, alpha: -0.01);
        }
        foreach (var p in new[] { w1, b1, w2, b2 }) p.Grad!.Value.Zero_();
        return value;
    }

    private static (Tensor X, Tensor T, Tensor W1, Tensor B1, Tensor W2, Tensor B2) MakeModel()
    {
        Autograd.ManualSeed(7);
        return (Tensor.Rand(1, 16), Tensor.Full([1, 1], 0.5),
            Tensor.Randn(16, 32, requiresGrad: true), Tensor.Randn(32, requiresGrad: true),
            Tensor.Randn(32, 1, requiresGrad: true), Tensor.Randn(1, requiresGrad: true));
    }

    [Fact]
    public void HundredThousandScopedSteps_DoNotGrowThePool()
    {
        var (x, t, w1, b1, w2, b2) = MakeModel();
        float first = Step(x, t, w1, b1, w2, b2), last = first;
        for (int i = 0; i < 100; i++) Step(x, t, w1, b1, w2, b2);
        var before = Autograd.PoolStatistics();
        for (int i = 0; i < 100_000; i++) last = Step(x, t, w1, b1, w2, b2);
        var after = Autograd.PoolStatistics();
        Assert.Equal(before.LiveTensors, after.LiveTensors);
        Assert.Equal(before.PooledBytes, after.PooledBytes);
        Assert.Equal(before.RecordedNodes, after.RecordedNodes);
        Assert.True(last < first, $"training should lower the loss: first {first}, last {last}");
    }

    [Fact]
    public void SteadyStateStep_AllocatesNothingOnTheManagedHeap()
    {
        var (x, t, w1, b1, w2, b2) = MakeModel();
        Tensor[] parameters = [w1, b1, w2, b2];
        void Step()
        {
            using var scope = Autograd.Scope();
            var loss = (Tensor.Mm((Tensor.Mm(x, w1) + b1).Tanh(), w2) + b2 - t).Pow(2).Mean();
            loss.Backward();
            using (Autograd.NoGrad())
            {
                foreach (var p in parameters) p.Add_(p.Grad!.Value, alpha: -0.01);
            }
            foreach (var p in parameters) p.Grad!.Value.Zero_();
        }
        for (int i = 0; i < 200; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) Step();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void TinyTensorsLiveInline_AndTheirViewsAndVersionsStillWork()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true); // 8 bytes: inline
        var first = x[1];
        Assert.Equal(2f, first.Item<float>());
        var y = Tensor.Zeros(2);
        var saved = y * 3;      // no grad: nothing saved
        var z = x * y;          // saves y
        y[0] = Tensor.From(5f);  // bumps y's version
        var e = Assert.Throws<InvalidOperationException>(() => z.Sum().Backward());
        Assert.Contains("modified by an inplace operation", e.Message);
        Assert.Equal("tensor([0., 0.])", saved.ToString());
        using (Autograd.Scope())
        {
            // A scalar gradient reshaped by the engine (unsqueeze backward) must not alias a released temporary.
            var v = x.Unsqueeze(0).Sum();
            v.Backward();
        }
        Assert.Equal(new[] { 1f, 1f }, x.Grad!.Value.ToArray<float>());
    }

    [Fact]
    public void LeavesMadeOutsideAScope_KeepTheirGrad()
    {
        var w = Tensor.Ones(3, requiresGrad: true);
        using (Autograd.Scope())
        {
            (w * 2).Sum().Backward();
        }
        Assert.Equal(new[] { 2f, 2f, 2f }, w.Grad!.Value.ToArray<float>());
        using (Autograd.Scope())
        {
            (w * 3).Sum().Backward();
        }
        Assert.Equal(new[] { 5f, 5f, 5f }, w.Grad!.Value.ToArray<float>());
    }

    [Fact]
    public void ATensorFromAnEndedScope_ThrowsObjectDisposedNamingTheScope()
    {
        Tensor inside;
        int id;
        using (var scope = Autograd.Scope())
        {
            id = scope.Id;
            inside = Tensor.Ones(2) * 3;
        }
        var e = Assert.Throws<ObjectDisposedException>(() => inside.Sum());
        Assert.Contains($"Autograd.Scope #{id} ended", e.Message);
        // Reused memory is never read through the stale handle, even after the slot is reused.
        using (Autograd.Scope())
        {
            var reuse = Tensor.Zeros(2);
            Assert.Equal(new[] { 0f, 0f }, reuse.ToArray<float>());
            Assert.Throws<ObjectDisposedException>(() => inside.ToArray<float>());
        }
    }

    [Fact]
    public void InPlaceUpdatesValidateTheOtherTensorsHandle()
    {
        var p = Tensor.Ones(3);
        Tensor stale;
        using (Autograd.Scope())
        {
            stale = Tensor.Ones(3) * 5;
        }
        Assert.Throws<ObjectDisposedException>(() => p.Add_(stale, alpha: -0.1));
        Assert.Throws<ObjectDisposedException>(() => p.Sub_(stale));
        Assert.Equal(new[] { 1f, 1f, 1f }, p.ToArray<float>());
    }

    [Fact]
    public void ScopeKeep_CopiesAValueOutDetached()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Tensor kept;
        using (var scope = Autograd.Scope())
        {
            kept = scope.Keep(x * 10);
        }
        Assert.Equal("tensor([10., 20.])", kept.ToString());
        Assert.False(kept.RequiresGrad);
    }

    [Fact]
    public void NestedScopes_ReleaseOnlyTheirOwnTensors()
    {
        var start = Autograd.PoolStatistics();
        using (Autograd.Scope())
        {
            var a = Tensor.Ones(4);
            using (Autograd.Scope())
            {
                var b = a * 2;
                Assert.Equal(8f, b.Sum().Item<float>());
            }
            Assert.Equal(4f, a.Sum().Item<float>());
        }
        Assert.Equal(start.LiveTensors, Autograd.PoolStatistics().LiveTensors);
    }

    [Fact]
    public void ScopesDisposedOutOfOrder_Throw()
    {
        var outer = Autograd.Scope();
        var inner = Autograd.Scope();
        Assert.Throws<InvalidOperationException>(() => outer.Dispose());
        inner.Dispose();
        outer.Dispose();
    }

    [Fact]
    public void NoGrad_RecordsNothingAndRestoresTheMode()
    {
        var x = Tensor.Ones(2, requiresGrad: true);
        using (Autograd.NoGrad())
        {
            var y = x * 2;
            Assert.False(y.RequiresGrad);
            Assert.Null(y.GradFn);
            Assert.False(Autograd.IsGradEnabled);
        }
        Assert.True(Autograd.IsGradEnabled);
        Assert.Equal("MulBackward0", (x * 2).GradFn);
    }

    [Fact]
    public void TensorsBelongToTheirThread()
    {
        var x = Tensor.Ones(2, requiresGrad: true);
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { _ = x * 2; }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        thread.Join();
        Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("belongs to a graph that thread", error!.Message);
    }

    [Fact]
    public void PooledBuffersAreSixtyFourByteAligned()
    {
        // Tensors of up to 16 bytes keep their data inline in their record; larger ones use the pool.
        using var scope = Autograd.Scope();
        for (int n = 5; n < 100; n += 7)
        {
            var t = Tensor.Zeros(n);
            unsafe
            {
                Assert.Equal(0, (long)t.Ctx.Pointer<float>(t.Slot) % NativeBufferPool.Alignment);
            }
        }
    }
}
