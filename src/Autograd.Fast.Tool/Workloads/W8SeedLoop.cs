namespace AutogradFast.Tool.Workloads;

/// <summary>W8 seed-loop: data-dependent control flow (a tensor comparison read as a host bool each time).</summary>
internal sealed class W8SeedLoop : Workload
{
    private Tensor _a;

    public override string Id => "W8";

    public override string Name => "seed-loop";

    public override void Setup()
    {
        _a = Tensor.From(new[] { 0.7f }, requiresGrad: true);   // a = torch.tensor([0.7], requires_grad=True)
    }

    protected override void Run(Dictionary<string, double>? check)
    {
        Tensor a = _a;
        using (Autograd.Scope())
        {
            Tensor b = a * 2;
            while (b.Norm() < 1000)
                b = b * 2;
            Tensor c = b.Sum() > 0 ? b : 100 * b;
            c.Backward();                   // c has one element
            float g = GradOf(a).Item<float>();
            if (check is not null)
            {
                check["c"] = c.Item<float>();
                check["a.grad"] = g;
            }
            GradOf(a).Zero_();
        }
    }
}
