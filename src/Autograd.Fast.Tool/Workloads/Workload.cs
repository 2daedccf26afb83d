namespace AutogradFast.Tool.Workloads;

/// <summary>
/// One workload of shared/workloads.md ("Peer workloads, v1"): its leaves and data, and one user step
/// written as the 1:1 translation of the reference PyTorch code.
/// </summary>
internal interface IWorkload
{
    /// <summary>"W1" ... "W8".</summary>
    string Id { get; }

    /// <summary>workloads.md's name, e.g. "seed-poly".</summary>
    string Name { get; }

    /// <summary>True for W5-W7, which run at 1 and 2 threads; the others run single-threaded.</summary>
    bool Threaded { get; }

    /// <summary>Recorded nodes per step where workloads.md states them (W1, W2, W3): gives <c>ns_per_node</c>.</summary>
    int? Nodes { get; }

    /// <summary>Minimal memory traffic per step (W6): gives <c>gbps</c>.</summary>
    long? BytesMin { get; }

    /// <summary>GEMM FLOP per step (W5, W7): gives <c>gflops</c>.</summary>
    long? Flops { get; }

    /// <summary>
    /// Builds fresh state (leaves with requires_grad, input data) in the current scope. Calling it again
    /// starts over; the caller decides the state's lifetime by the scope it calls this in.
    /// </summary>
    void Setup();

    /// <summary>One user step (forward, backward, read, optimiser step where there is one, zero the grads).</summary>
    void Step();

    /// <summary>
    /// One step that also returns the check values, taken after <c>backward()</c> and before zeroing,
    /// in workloads.md's order and with the keys every harness uses.
    /// </summary>
    IReadOnlyDictionary<string, double> CheckStep();
}

/// <summary>
/// The shared shape of the workload classes: <see cref="Run"/> is the step, written once; a check step
/// passes a dictionary to fill, a timed step passes null.
/// </summary>
internal abstract class Workload : IWorkload
{
    public abstract string Id { get; }

    public abstract string Name { get; }

    public virtual bool Threaded => false;

    public virtual int? Nodes => null;

    public virtual long? BytesMin => null;

    public virtual long? Flops => null;

    public abstract void Setup();

    public void Step() => Run(null);

    public IReadOnlyDictionary<string, double> CheckStep()
    {
        var check = new Dictionary<string, double>();
        Run(check);
        return check;
    }

    /// <summary>One user step; fills <paramref name="check"/> (after backward, before zeroing) when it is not null.</summary>
    protected abstract void Run(Dictionary<string, double>? check);

    /// <summary>The sum of a float32 tensor's elements in double, copied to the host (check values only).</summary>
    protected static double HostSum(Tensor t)
    {
        double s = 0;
        foreach (float v in t.ToArray<float>()) s += v;
        return s;
    }

    /// <summary>The gradient of a leaf after backward (it exists from the first backward on).</summary>
    protected static Tensor GradOf(Tensor leaf) => leaf.Grad ?? throw new InvalidOperationException("backward() did not reach a leaf that requires grad");
}
