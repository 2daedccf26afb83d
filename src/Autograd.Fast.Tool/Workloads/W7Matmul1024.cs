namespace AutogradFast.Tool.Workloads;

/// <summary>W7 matmul-1024: one 1024^3 GEMM forward and two in backward (compute-bound).</summary>
internal sealed class W7Matmul1024 : Workload
{
    private Tensor _A, _B;

    public override string Id => "W7";

    public override string Name => "matmul-1024";

    public override bool Threaded => true;

    public override long? Flops => 3L * 2 * 1024 * 1024 * 1024;

    public override void Setup()
    {
        _A = PeerData.Uniform(71, [1024, 1024], -1, 1).RequiresGrad_(true);
        _B = PeerData.Uniform(72, [1024, 1024], -1, 1).RequiresGrad_(true);
    }

    protected override void Run(Dictionary<string, double>? check)
    {
        Tensor A = _A, B = _B;
        using (Autograd.Scope())
        {
            Tensor.MatMul(A, B).Sum().Backward();   // (A @ B).sum().backward()
            if (check is not null)
            {
                check["A.grad.sum"] = HostSum(GradOf(A));
                check["B.grad.sum"] = HostSum(GradOf(B));
            }
            GradOf(A).Zero_(); GradOf(B).Zero_();
        }
    }
}
