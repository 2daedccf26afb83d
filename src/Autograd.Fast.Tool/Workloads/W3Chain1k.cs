namespace AutogradFast.Tool.Workloads;

/// <summary>W3 chain-1k: per-node cost of recording and backward over a 1000-node chain.</summary>
internal sealed class W3Chain1k : Workload
{
    private Tensor _x;

    public override string Id => "W3";

    public override string Name => "chain-1k";

    public override int? Nodes => 1000;

    public override void Setup()
    {
        _x = Tensor.From(1f, requiresGrad: true);   // x = torch.tensor(1.0, requires_grad=True)
    }

    protected override void Run(Dictionary<string, double>? check)
    {
        Tensor x = _x;
        using (Autograd.Scope())
        {
            Tensor y = x;
            for (int i = 0; i < 500; i++)
                y = y * 1.0001 + 0.5;
            y.Backward();
            float g = GradOf(x).Item<float>();
            if (check is not null)
            {
                check["y"] = y.Item<float>();
                check["x.grad"] = g;
            }
            GradOf(x).Zero_();
        }
    }
}
