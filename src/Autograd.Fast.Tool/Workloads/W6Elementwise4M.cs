namespace AutogradFast.Tool.Workloads;

/// <summary>W6 elementwise-4M: bandwidth-bound elementwise ops and a reduction over 2^22 floats.</summary>
internal sealed class W6Elementwise4M : Workload
{
    private const int N = 4_194_304;   // 2^22 floats = 16 MiB
    private Tensor _x;

    public override string Id => "W6";

    public override string Name => "elementwise-4M";

    public override bool Threaded => true;

    /// <summary>The forward reads x, the backward reads x and writes x.grad.</summary>
    public override long? BytesMin => 3L * N * sizeof(float);

    public override void Setup()
    {
        _x = PeerData.Normal(61, [N], 0.1).RequiresGrad_(true);
    }

    protected override void Run(Dictionary<string, double>? check)
    {
        Tensor x = _x;
        using (Autograd.Scope())
        {
            Tensor y = (x * x).Exp().Sum();
            y.Backward();                   // x.grad = 2 x exp(x^2)
            if (check is not null)
            {
                check["y"] = y.Item<float>();
                check["x.grad.sum"] = HostSum(GradOf(x));
            }
            GradOf(x).Zero_();
        }
    }
}
