namespace AutogradFast.Tool.Workloads;

/// <summary>W2 seed-dot: dot product and a scalar multiply; all 4 gradient values go to the host.</summary>
internal sealed class W2SeedDot : Workload
{
    private Tensor _x;
    private readonly float[] _g = new float[4];   // g = x.grad.tolist(), into a reused host array

    public override string Id => "W2";

    public override string Name => "seed-dot";

    public override int? Nodes => 2;

    public override void Setup()
    {
        _x = Tensor.Arange(4, DType.Float32).RequiresGrad_(true);   // torch.arange(4, dtype=torch.float32).requires_grad_(True)
    }

    protected override void Run(Dictionary<string, double>? check)
    {
        Tensor x = _x;
        float[] g = _g;
        using (Autograd.Scope())
        {
            Tensor y = 2 * Tensor.Dot(x, x);
            y.Backward();
            GradOf(x).CopyTo<float>(g);
            if (check is not null)
            {
                check["y"] = y.Item<float>();
                for (int i = 0; i < g.Length; i++) check[$"x.grad[{i}]"] = g[i];
            }
            GradOf(x).Zero_();
        }
    }
}
