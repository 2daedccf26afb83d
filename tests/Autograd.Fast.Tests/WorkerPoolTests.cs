using AutogradFast.Threading;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// The worker pool under contention: several threads starting parallel jobs back to back, so
/// workers woken for one job arrive while the next one is being set up. Every chunk must run
/// exactly once, for the job it belongs to, and a job must not return while one of its chunks is
/// still running (its state lives on the caller's stack).
/// </summary>
[Collection(nameof(WorkerPoolTests))]
public sealed unsafe class WorkerPoolTests
{
    private struct Job
    {
        public int* Hits;       // one counter per chunk
        public int Owner;       // which thread's job
        public int* Foreign;    // chunks run with another job's state
        public int Delay;
    }

    private static void CountChunk(void* state, int chunk)
    {
        ref Job job = ref *(Job*)state;
        if (job.Delay > 0) Thread.SpinWait(job.Delay);
        Interlocked.Increment(ref job.Hits[chunk]);
    }

    [Fact]
    public void BackToBackJobsFromSeveralThreads_RunEveryChunkExactlyOnce()
    {
        int threads = WorkerPool.Threads;
        WorkerPool.Threads = 2;
        try
        {
            int failures = 0;
            string? firstFailure = null;
            var runners = new Thread[3];
            for (int t = 0; t < runners.Length; t++)
            {
                int owner = t;
                runners[t] = new Thread(() =>
                {
                    var rng = new Random(owner);
                    int* hits = stackalloc int[64];
                    for (int round = 0; round < 30_000; round++)
                    {
                        int chunks = 1 + rng.Next(63);
                        for (int i = 0; i < 64; i++) hits[i] = 0;
                        var job = new Job { Hits = hits, Owner = owner, Delay = rng.Next(4) == 0 ? rng.Next(200) : 0 };
                        WorkerPool.For(chunks, &CountChunk, &job);
                        for (int i = 0; i < 64; i++)
                        {
                            int expected = i < chunks ? 1 : 0;
                            if (Volatile.Read(ref hits[i]) != expected && Interlocked.Increment(ref failures) == 1)
                                firstFailure = $"thread {owner} round {round}: chunk {i} of {chunks} ran {hits[i]} times when the job returned";
                        }
                    }
                });
                runners[t].Start();
            }
            foreach (Thread r in runners) r.Join();
            Assert.True(failures == 0, $"{failures} bad chunk counts; first: {firstFailure}");
        }
        finally
        {
            WorkerPool.Threads = threads;
        }
    }
}

[CollectionDefinition(nameof(WorkerPoolTests), DisableParallelization = true)]
public sealed class WorkerPoolTestsCollection;
