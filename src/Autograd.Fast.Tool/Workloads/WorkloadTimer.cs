using System.Diagnostics;

namespace AutogradFast.Tool.Workloads;

/// <summary>One workload measured by workloads.md's timing method.</summary>
internal sealed record Measurement(
    IReadOnlyDictionary<string, double> Check,
    double MedianNs,
    double MinNs,
    double MaxNs,
    long Iters,
    int Reps,
    double AllocatedBytesPerStep,
    int GcCount);

/// <summary>
/// workloads.md's timing method: a check step from fresh state; fresh state again; warm-up for at least
/// 0.3 s and 3 steps; iters = ceil(0.5 s / estimate); 5 repetitions of iters back-to-back steps on a
/// monotonic clock (Stopwatch); median, min and max of the 5 per-step means. The GC stays enabled (the
/// library allocates no managed memory per step); the managed bytes allocated and the collections
/// during the timed repetitions are reported so that this stays visible.
/// </summary>
internal static class WorkloadTimer
{
    public const double WarmupNs = 300e6;
    public const double TargetNs = 500e6;
    public const int MinWarmupSteps = 3;
    public const int Reps = 5;

    /// <summary>
    /// One check step from fresh state. The state lives in a scope of its own, closed afterwards, so
    /// repeated setups do not pile up in the thread's root scope.
    /// </summary>
    public static IReadOnlyDictionary<string, double> CheckFromFreshState(IWorkload workload)
    {
        using (Autograd.Scope())
        {
            workload.Setup();
            return workload.CheckStep();
        }
    }

    public static Measurement Measure(IWorkload workload)
    {
        IReadOnlyDictionary<string, double> check = CheckFromFreshState(workload);   // 1.
        using (Autograd.Scope())
        {
            workload.Setup();                                                          //    fresh state again
            long steps = 0;
            long start = Stopwatch.GetTimestamp();                                     // 2. warm-up
            double elapsed;
            do
            {
                workload.Step();
                steps++;
                elapsed = NsSince(start);
            }
            while (steps < MinWarmupSteps || elapsed < WarmupNs);
            long iters = Math.Max(1, (long)Math.Ceiling(TargetNs / (elapsed / steps)));   // 3.

            var means = new double[Reps];
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            int gcBefore = GC.CollectionCount(0);
            for (int r = 0; r < Reps; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                for (long i = 0; i < iters; i++) workload.Step();
                means[r] = NsSince(t0) / iters;
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            int collections = GC.CollectionCount(0) - gcBefore;
            Array.Sort(means);
            return new Measurement(check, means[Reps / 2], means[0], means[^1], iters, Reps,
                (double)allocated / (iters * Reps), collections);
        }
    }

    private static double NsSince(long timestamp) => (Stopwatch.GetTimestamp() - timestamp) * (1e9 / Stopwatch.Frequency);
}
