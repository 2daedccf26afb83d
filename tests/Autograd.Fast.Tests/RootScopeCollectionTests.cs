using System.Runtime.CompilerServices;
using AutogradFast.Storage;

namespace AutogradFast.Tests;

/// <summary>
/// Code that never opens a scope: the root scope reclaims the tensors no handle can reach any more,
/// and never one that a handle, a leaf's .grad, a view or a live graph still needs. Each test runs
/// on a thread of its own, so it starts from a fresh graph whose collections it can count.
/// </summary>
public class RootScopeCollectionTests
{
    private static void OnFreshGraph(Action<TensorContext> body)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { body(TensorContext.Current); }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        thread.Join();
        if (error is not null) throw new Xunit.Sdk.XunitException($"on the test's thread: {error}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ASavedValueWrittenBeforeOrAfterACollectionMovedTheTape_FailsAtBackward(bool writeBeforeCollecting)
    {
        // The engine compares saved versions only below the tape's length at the latest in-place write
        // (TensorContext.TapeLengthAtLastWrite): a collection that moves the surviving nodes down must keep them checked.
        OnFreshGraph(c =>
        {
            var w = Tensor.From(new[] { 0.5, 1, 2 }, requiresGrad: true);
            for (int i = 0; i < 100; i++) _ = (w * 2).Exp(); // unreachable nodes before e's
            Tensor e = (w * 1).Exp();
            if (writeBeforeCollecting) e.Add_(1);
            int before = c.NodeCount;
            c.CollectNow();
            Assert.True(c.NodeCount < before, $"the collection kept all {before} nodes");
            if (!writeBeforeCollecting) e.Add_(1);
            var error = Assert.Throws<InvalidOperationException>(() => e.Sum().Backward());
            Assert.StartsWith("one of the variables needed for gradient computation has been modified by an inplace operation: " +
                "[torch.DoubleTensor [3]], which is output 0 of ExpBackward0, is at version 1; expected version 0 instead.", error.Message);
        });
    }

    [Fact]
    public void MillionUnscopedOps_KeepThePoolBounded()
    {
        OnFreshGraph(c =>
        {
            var x = Tensor.Ones(1000, requiresGrad: true);
            int peakTensors = 0, peakNodes = 0;
            long peakBytes = 0;
            for (int i = 0; i < 1_000_000; i++)
            {
                var y = x * 2;
                if (i % 997 != 0) continue;
                var (tensors, bytes, nodes) = Autograd.PoolStatistics();
                peakTensors = Math.Max(peakTensors, tensors);
                peakBytes = Math.Max(peakBytes, bytes);
                peakNodes = Math.Max(peakNodes, nodes);
            }
            // 4 KB per result: a collection is due every 4 MB of buffers, i.e. about every 1,000 results.
            Assert.True(c.RootCollections >= 500, $"expected the root scope to be collected about 1,000 times, got {c.RootCollections}");
            Assert.True(peakTensors < 2_500, $"live tensors peaked at {peakTensors}");
            Assert.True(peakNodes < 2_500, $"recorded nodes peaked at {peakNodes}");
            Assert.True(peakBytes < 10L << 20, $"pooled bytes peaked at {peakBytes}");
            Assert.Equal(new float[1000], (x.Grad is null ? new float[1000] : x.Grad.Value.ToArray<float>()));
        });
    }

    [Fact]
    public void TemporariesTheJitConsidersDead_SurviveCollectionsInsideAnExpression()
    {
        // Collections after every few allocations land on the handle checks inside the expressions
        // below, where the operands are temporaries no local variable holds.
        OnFreshGraph(c =>
        {
            c.CollectEvery(3, bytes: 1);
            var x = Tensor.From(new double[,] { { 0, 1, 2 }, { 3, 4, 5 } }, requiresGrad: true);
            var w = Tensor.Full([3, 2], 0.5, dtype: DType.Float64, requiresGrad: true);
            double expected = 0;
            for (int i = 0; i < 2000; i++)
            {
                double value = LossOfTemporaries(x, w);
                if (i == 0) expected = value;
                Assert.Equal(expected, value);
            }
            Assert.True(c.RootCollections > 200, $"expected a collection every few dozen allocations, got {c.RootCollections}");
        });
    }

    /// <summary>Fully optimised from its first call, so the JIT treats each temporary as dead right after its last use.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static double LossOfTemporaries(Tensor x, Tensor w)
        => (Tensor.Mm((x * 2 + 1).Tanh(), w).Exp() - (x.Sum() / 3)).Pow(2).Mean().Item<double>();

    [Fact]
    public void UnscopedTrainingLoop_MatchesTheScopedOneBitForBit_AndStaysBounded()
    {
        float[] Train(bool scoped, out int peakTensors, out int collections)
        {
            float[] losses = new float[3000];
            int peak = 0, made = 0;
            OnFreshGraph(c =>
            {
                c.CollectEvery(256, bytes: 1 << 16);
                Autograd.ManualSeed(11);
                var x = Tensor.Rand(8, 4);
                var target = Tensor.Rand(8, 1);
                var w1 = Tensor.Randn(4, 16, requiresGrad: true);
                var b1 = Tensor.Zeros([16], requiresGrad: true);
                var w2 = Tensor.Randn(16, 1, requiresGrad: true);
                Tensor[] parameters = [w1, b1, w2];
                for (int step = 0; step < losses.Length; step++)
                {
                    using AutogradScope? scope = scoped ? Autograd.Scope() : null;
                    var loss = (Tensor.Mm((Tensor.Mm(x, w1) + b1).Relu(), w2) - target).Pow(2).Mean();
                    loss.Backward();
                    losses[step] = loss.Item<float>();
                    using (Autograd.NoGrad())
                    {
                        foreach (var p in parameters) p.Sub_(p.Grad!.Value * 0.05);
                    }
                    foreach (var p in parameters) p.Grad!.Value.Zero_();
                    peak = Math.Max(peak, Autograd.PoolStatistics().LiveTensors);
                }
                made = c.RootCollections;
            });
            peakTensors = peak;
            collections = made;
            return losses;
        }
        float[] scopedLosses = Train(scoped: true, out _, out _);
        float[] unscoped = Train(scoped: false, out int peakTensors, out int collections);
        Assert.Equal(scopedLosses, unscoped);
        Assert.True(unscoped[^1] < unscoped[0] / 4, $"training should lower the loss: {unscoped[0]} then {unscoped[^1]}");
        Assert.True(collections > 50, $"expected the root scope to be collected, got {collections} collections");
        Assert.True(peakTensors < 1000, $"an unscoped step leaves its tensors behind: {peakTensors} live");
    }

    private const int ChainLength = 20_000;

    /// <summary>Builds a chain from x, collects while holding it, backwards through it, and drops it.</summary>
    /// <remarks>In a method of its own: unoptimised code keeps hidden copies of handles alive to its end.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int BackwardThroughAHeldChain(TensorContext c, Tensor x)
    {
        var y = x;
        for (int i = 0; i < ChainLength; i++) y = y * 1.0001;
        c.CollectNow();
        int nodes = Autograd.PoolStatistics().RecordedNodes;
        y.Sum().Backward();
        return nodes;
    }

    [Fact]
    public void HeldChain_IsKeptWhole_AndReclaimedOnceDropped()
    {
        OnFreshGraph(c =>
        {
            c.CollectEvery(1000);
            var x = Tensor.Full([4], 1.0, dtype: DType.Float64, requiresGrad: true);
            int nodesWhileHeld = BackwardThroughAHeldChain(c, x);
            Assert.True(nodesWhileHeld >= ChainLength, $"collections reclaimed the chain y's history needs: {nodesWhileHeld} nodes left");
            double expected = Math.Pow(1.0001, ChainLength);
            foreach (double g in x.Grad!.Value.ToArray<double>()) Assert.Equal(expected, g, 1e-9);

            c.CollectNow();
            var (tensors, _, nodes) = Autograd.PoolStatistics();
            Assert.True(nodes < 10, $"the dropped chain's {nodes} nodes were kept");
            Assert.True(tensors < 10, $"the dropped chain's {tensors} tensors were kept");
            Assert.Equal(expected, x.Grad!.Value.ToArray<double>()[0], 1e-9); // the leaf's .grad stays
            Assert.Equal(1.0, x.ToArray<double>()[3]);
        });
    }

    [Fact]
    public void TensorsHeldByArraysFieldsClosuresAndViews_AreNeverReclaimed()
    {
        OnFreshGraph(c =>
        {
            c.CollectEvery(16, bytes: 1);
            var held = new Tensor[200];
            for (int i = 0; i < held.Length; i++) held[i] = Tensor.Full([i % 7 + 1], i);
            var box = new Holder { Value = Tensor.From(Counting(8, 5)) };
            var captured = Tensor.Full([3], 9.0);
            Func<float> readCaptured = () => captured.Sum().Item<float>();
            Tensor row = MakeRowOfDroppedMatrix();
            Tensor small = MakeViewOfDroppedSmallTensor();
            for (int i = 0; i < 5000; i++) _ = Tensor.Ones(64) + i;
            c.CollectNow();
            Assert.True(c.RootCollections > 10, $"expected collections, got {c.RootCollections}");
            for (int i = 0; i < held.Length; i++) Assert.All(held[i].ToArray<float>(), v => Assert.Equal(i, v));
            Assert.Equal(Enumerable.Range(10, 5).Select(v => (float)v), box.Value.Select(0, 2).ToArray<float>());
            Assert.Equal(27f, readCaptured());
            Assert.Equal(new float[] { 5, 6, 7, 8, 9 }, row.ToArray<float>());
            Assert.Equal(new float[] { 1, 3 }, small.ToArray<float>());
        });
    }

    private sealed class Holder
    {
        public Tensor Value;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Tensor MakeRowOfDroppedMatrix() => Tensor.From(Counting(20_000, 5)).Select(0, 1);

    private static float[,] Counting(int rows, int columns)
    {
        var values = new float[rows, columns];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < columns; j++) values[i, j] = i * columns + j;
        return values;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Tensor MakeViewOfDroppedSmallTensor() => Tensor.Arange(4.0).Slice(0, 1, 4, 2);

    [Fact]
    public void RetainedGraph_OfAHeldLoss_BackwardsAgainAfterCollections()
    {
        OnFreshGraph(c =>
        {
            c.CollectEvery(8, bytes: 1);
            var w = Tensor.Arange(1, 5, 1, DType.Float64, requiresGrad: true);
            var loss = (w * w * 3).Sum();
            loss.Backward(retainGraph: true);
            for (int i = 0; i < 1000; i++) _ = Tensor.Rand(3) * 2;
            c.CollectNow();
            loss.Backward();
            Assert.Equal(new double[] { 12, 24, 36, 48 }, w.Grad!.Value.ToArray<double>());
        });
    }

    [Fact]
    public void ScopedCode_AllocatesNoLeases()
    {
        OnFreshGraph(c =>
        {
            var x = Tensor.Rand(32, 32, requiresGrad: true);
            void Step()
            {
                using var scope = Autograd.Scope();
                ((x * 2).Tanh() + 1).Sum().Backward();
                x.Grad!.Value.Zero_();
            }
            for (int i = 0; i < 10; i++) Step();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++) Step();
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.Equal(0, c.RootCollections);
        });
    }
}
