using AutogradFast.Tool.Workloads;

namespace AutogradFast.Tests;

/// <summary>
/// Issue 3's allocation bar, measured as the issue states it: GC.GetAllocatedBytesForCurrentThread
/// around 1,000 warm steps of each workload is 0. (Worker threads run function-pointer jobs on the
/// caller's stack state and allocate nothing by construction; a process-wide count is not usable
/// here because the runtime's tiering and the test host allocate in the background.) The collection
/// runs alone so the timing-heavy workloads do not slow the parallel tests.
/// </summary>
[Collection(nameof(WorkloadAllocationTests))]
public sealed class WorkloadAllocationTests
{
    public static TheoryData<string, int> Workloads => new()
    {
        { "W1", 1 }, { "W2", 1 }, { "W3", 1 }, { "W4", 1 }, { "W8", 1 },
        { "W5", 1 }, { "W5", 2 }, { "W6", 2 }, { "W7", 2 },
    };

    [Theory]
    [MemberData(nameof(Workloads))]
    public void ThousandWarmSteps_AllocateZeroManagedBytes(string id, int threads)
    {
        int previous = Autograd.NumThreads;
        try
        {
            Autograd.SetNumThreads(threads);
            using var state = Autograd.Scope();
            IWorkload workload = WorkloadCatalog.Create(id);
            workload.Setup();
            for (int i = 0; i < 20; i++) workload.Step();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++) workload.Step();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated == 0, $"{id} at {threads} thread(s) allocated {allocated} bytes over 1000 steps");
        }
        finally
        {
            Autograd.SetNumThreads(previous);
        }
    }
}

[CollectionDefinition(nameof(WorkloadAllocationTests), DisableParallelization = true)]
public sealed class WorkloadAllocationCollection;
