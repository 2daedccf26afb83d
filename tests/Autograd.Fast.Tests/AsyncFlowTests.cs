using System.Collections.Concurrent;

namespace AutogradFast.Tests;

/// <summary>
/// A graph belongs to one logical flow at a time: it follows an async method across awaits whose
/// continuations run on other threads, and two threads using it at once get a clear error. Every test
/// that claims a thread switch records the threads it ran on and checks that more than one ran.
/// </summary>
public class AsyncFlowTests
{
    /// <summary>Continues on a new thread, always (the async method's execution context flows with it, as after any await).</summary>
    private static async Task Hop(ConcurrentBag<int> threads)
    {
        threads.Add(Environment.CurrentManagedThreadId);
        await new ToANewThread();
        threads.Add(Environment.CurrentManagedThreadId);
    }

    /// <summary>An awaitable that is never complete and runs its continuation on a thread started for it.</summary>
    private readonly struct ToANewThread : System.Runtime.CompilerServices.INotifyCompletion
    {
        public ToANewThread GetAwaiter() => this;

        public bool IsCompleted => false;

        public void OnCompleted(Action continuation) => new Thread(() => continuation()).Start();

        public void GetResult() { }
    }

    private static (float Loss, float[] W, float[] B) Step(Tensor x, Tensor w, Tensor b)
    {
        Tensor loss = (Tensor.Mm(x, w) + b).Tanh().Pow(2).Mean();
        loss.Backward();
        return (loss.Item<float>(), w.Grad!.Value.ToArray<float>(), b.Grad!.Value.ToArray<float>());
    }

    private static async Task<(float Loss, float[] W, float[] B, int Threads)> StepAcrossAwaits(Tensor x, Tensor w, Tensor b)
    {
        var threads = new ConcurrentBag<int>();
        Tensor h = Tensor.Mm(x, w);
        await Hop(threads);
        h = (h + b).Tanh();
        await Hop(threads);
        Tensor loss = h.Pow(2).Mean();
        await Hop(threads);
        loss.Backward();
        await Hop(threads);
        return (loss.Item<float>(), w.Grad!.Value.ToArray<float>(), b.Grad!.Value.ToArray<float>(), threads.Distinct().Count());
    }

    [Fact]
    public async Task AGraphBuiltAcrossAwaits_GivesTheSameGradients_AsOnOneThread()
    {
        var expected = await Task.Run(() =>
        {
            Autograd.ManualSeed(5);
            Tensor x = Tensor.Randn(4, 3), w = Tensor.Randn(3, 2, requiresGrad: true), b = Tensor.Randn(2, requiresGrad: true);
            return Step(x, w, b);
        });
        int maxThreads = 0;
        for (int attempt = 0; attempt < 5 && maxThreads < 2; attempt++)
        {
            var got = await Task.Run(async () =>
            {
                Autograd.ManualSeed(5);
                Tensor x = Tensor.Randn(4, 3), w = Tensor.Randn(3, 2, requiresGrad: true), b = Tensor.Randn(2, requiresGrad: true);
                return await StepAcrossAwaits(x, w, b);
            });
            Assert.Equal(expected.Loss, got.Loss);
            Assert.Equal(expected.W, got.W);
            Assert.Equal(expected.B, got.B);
            maxThreads = Math.Max(maxThreads, got.Threads);
        }
        Assert.True(maxThreads >= 2, "the continuations never ran on another thread, so nothing was shown");
    }

    [Fact]
    public async Task ScopesAndGradModesAndTheSeed_FollowTheFlow()
    {
        var threads = new ConcurrentBag<int>();
        await Task.Run(async () =>
        {
            Tensor w = Tensor.Ones(3, requiresGrad: true);
            (int, long, int) before = default;
            for (int i = 0; i < 50; i++)
            {
                if (i == 1) before = Autograd.PoolStatistics(); // w.Grad exists from the first step on
                using (Autograd.Scope())
                {
                    Tensor y = w * 2;
                    await Hop(threads);
                    y.Sum().Backward(); // the step's graph, on another thread than the one that built it
                    await Hop(threads);
                } // the scope ends on yet another thread
                using (Autograd.Scope())
                {
                    using (Autograd.NoGrad())
                    {
                        await Hop(threads);
                        Assert.False((w * 3).RequiresGrad);
                    }
                    Assert.True((w * 3).RequiresGrad);
                }
            }
            Assert.Equal(before, Autograd.PoolStatistics()); // every step's tensors went back, whichever thread ended the scope
            Assert.Equal(new[] { 100f, 100f, 100f }, w.Grad!.Value.ToArray<float>());

            Autograd.ManualSeed(9);
            float[] direct = Tensor.Rand(5).ToArray<float>();
            Autograd.ManualSeed(9);
            await Hop(threads);
            Assert.Equal(direct, Tensor.Rand(5).ToArray<float>());
        });
        Assert.True(threads.Distinct().Count() >= 2, "no continuation ran on another thread");
    }

    [Fact]
    public async Task TwoTasksUsingOneGraphAtOnce_GetAClearError()
    {
        Tensor shared = await Task.Run(() => Tensor.Ones(4, requiresGrad: true));
        using var holding = new ManualResetEventSlim();
        using var done = new ManualResetEventSlim();
        Task first = Task.Run(() =>
        {
            _ = (shared * 2).Sum(); // this work item holds the graph until it returns
            holding.Set();
            done.Wait();
        });
        holding.Wait();
        Exception? error = await Task.Run(() =>
        {
            try
            {
                _ = shared.Sum();
                return null;
            }
            catch (InvalidOperationException e)
            {
                return e;
            }
            finally
            {
                done.Set();
            }
        });
        await first;
        Assert.NotNull(error);
        Assert.Contains("at the same time", error!.Message);
        Assert.Contains("one logical flow at a time", error.Message);
        // Once the first task is done, its graph is free again: sequential use from another flow works.
        Assert.Equal(8f, await Task.Run(() => (shared * 2).Sum().Item<float>()));
    }

    [Fact]
    public void ANewThread_GetsAGraphOfItsOwn_WhileItsParentUsesOne()
    {
        Tensor parents = Tensor.Ones(2) * 3; // this thread holds its graph throughout
        Tensor childs = default;
        var thread = new Thread(() => childs = Tensor.Ones(2) * 4); // inherits the flow, not the graph in use
        thread.Start();
        thread.Join();
        Assert.Equal(new[] { 4f, 4f }, childs.ToArray<float>());
        Assert.Equal(new[] { 3f, 3f }, parents.ToArray<float>());
        var e = Assert.Throws<InvalidOperationException>(() => _ = parents + childs);
        Assert.Contains("belong to different graphs", e.Message);
    }
}
