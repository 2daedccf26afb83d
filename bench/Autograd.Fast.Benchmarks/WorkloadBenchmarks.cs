using AutogradFast.Tool.Workloads;
using BenchmarkDotNet.Attributes;

namespace AutogradFast.Benchmarks;

/// <summary>
/// The single-threaded peer workloads of shared/workloads.md (W1-W4, W8), the tool's own classes.
/// One invocation is one user step; the state is built in the global setup.
/// </summary>
public class WorkloadBenchmarks
{
    private readonly WorkloadState _state = new();

    [GlobalSetup(Target = nameof(W1SeedPoly))] public void SetupW1() => _state.Open("W1", 1);

    [GlobalSetup(Target = nameof(W2SeedDot))] public void SetupW2() => _state.Open("W2", 1);

    [GlobalSetup(Target = nameof(W3Chain1k))] public void SetupW3() => _state.Open("W3", 1);

    [GlobalSetup(Target = nameof(W4MlpTiny))] public void SetupW4() => _state.Open("W4", 1);

    [GlobalSetup(Target = nameof(W8SeedLoop))] public void SetupW8() => _state.Open("W8", 1);

    [GlobalCleanup] public void Cleanup() => _state.Close();

    /// <summary>W1 seed-poly: a 7-node scalar graph.</summary>
    [Benchmark] public void W1SeedPoly() => _state.Step();

    /// <summary>W2 seed-dot: a 2-node graph over 4 elements.</summary>
    [Benchmark] public void W2SeedDot() => _state.Step();

    /// <summary>W3 chain-1k: 1000 scalar nodes in a chain.</summary>
    [Benchmark] public void W3Chain1k() => _state.Step();

    /// <summary>W4 mlp-tiny: a 16-32-1 MLP training step.</summary>
    [Benchmark] public void W4MlpTiny() => _state.Step();

    /// <summary>W8 seed-loop: data-dependent control flow.</summary>
    [Benchmark] public void W8SeedLoop() => _state.Step();
}

/// <summary>
/// The peer workloads that workloads.md runs at 1 and 2 threads (W5-W7), with the library's thread
/// budget set by <c>Autograd.SetNumThreads</c> (through the tool's LibraryThreads).
/// </summary>
public class ThreadedWorkloadBenchmarks
{
    private readonly WorkloadState _state = new();

    [Params(1, 2)] public int Threads { get; set; }

    [GlobalSetup(Target = nameof(W5MlpBatch))] public void SetupW5() => _state.Open("W5", Threads);

    [GlobalSetup(Target = nameof(W6Elementwise4M))] public void SetupW6() => _state.Open("W6", Threads);

    [GlobalSetup(Target = nameof(W7Matmul1024))] public void SetupW7() => _state.Open("W7", Threads);

    [GlobalCleanup] public void Cleanup() => _state.Close();

    /// <summary>W5 mlp-batch: 256 x 64-256-256-10 training step, GEMM-heavy.</summary>
    [Benchmark] public void W5MlpBatch() => _state.Step();

    /// <summary>W6 elementwise-4M: exp(x*x).sum() and its backward over 2^22 floats.</summary>
    [Benchmark] public void W6Elementwise4M() => _state.Step();

    /// <summary>W7 matmul-1024: one 1024^3 GEMM forward, two backward.</summary>
    [Benchmark] public void W7Matmul1024() => _state.Step();
}

/// <summary>
/// One workload's state for a benchmark case: the thread budget, a check step from fresh state
/// (a wrong result stops the run instead of being timed), then fresh state again in a scope of its
/// own that the global cleanup closes, so the next case starts from an empty pool.
/// </summary>
internal sealed class WorkloadState
{
    private IWorkload? _workload;
    private AutogradScope _scope;
    private bool _open;

    public void Open(string id, int threads)
    {
        Close();
        LibraryThreads.Set(threads);
        IWorkload workload = WorkloadCatalog.Create(id);
        List<string> failures = WorkloadCatalog.Failures(id, WorkloadTimer.CheckFromFreshState(workload));
        if (failures.Count > 0)
            throw new InvalidOperationException($"{id}: check values differ from workloads.md: {string.Join("; ", failures)}");
        _scope = Autograd.Scope();
        _open = true;
        workload.Setup();
        _workload = workload;
    }

    public void Step() => _workload!.Step();

    public void Close()
    {
        if (_open) _scope.Dispose();
        _open = false;
        _workload = null;
    }
}
