namespace AutogradFast.Tool.Workloads;

/// <summary>W1 seed-poly: latency of a tiny scalar graph (7 nodes).</summary>
internal sealed class W1SeedPoly : Workload
{
    private Tensor _x, _u;

    public override string Id => "W1";

    public override string Name => "seed-poly";

    public override int? Nodes => 7;

    public override void Setup()
    {
        _x = Tensor.From(3f, requiresGrad: true);   // x = torch.tensor(3.0, requires_grad=True)
        _u = Tensor.From(2f, requiresGrad: true);   // u = torch.tensor(2.0, requires_grad=True)
    }

    protected override void Run(Dictionary<string, double>? check)
    {
        Tensor x = _x, u = _u;
        using (Autograd.Scope())
        {
            Tensor y = 3 * x.Pow(2) + 4 * x + 2 * u * x;
            y.Backward();
            float gx = GradOf(x).Item<float>(); float gu = GradOf(u).Item<float>();
            if (check is not null)
            {
                check["y"] = y.Item<float>();
                check["x.grad"] = gx;
                check["u.grad"] = gu;
            }
            GradOf(x).Zero_(); GradOf(u).Zero_();
        }
    }
}
