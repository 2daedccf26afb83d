namespace AutogradFast.Tool.Workloads;

/// <summary>W5 mlp-batch: a batched training step (256 x 64-256-256-10, relu, MSE, SGD), GEMM-heavy.</summary>
internal sealed class W5MlpBatch : Workload
{
    private Tensor _X, _Y, _W1, _b1, _W2, _b2, _W3, _b3;
    private Tensor[] _params = [];

    public override string Id => "W5";

    public override string Name => "mlp-batch";

    public override bool Threaded => true;

    /// <summary>3 forward + 3 weight-gradient + 2 input-gradient GEMMs.</summary>
    public override long? Flops => 121_372_672;

    public override void Setup()
    {
        _X = PeerData.Uniform(51, [256, 64], -1, 1); _Y = PeerData.Uniform(52, [256, 10], -1, 1);   // no grad
        _W1 = PeerData.Uniform(53, [64, 256], -1.0 / 8, 1.0 / 8).RequiresGrad_(true); _b1 = PeerData.Uniform(54, [256], -1.0 / 8, 1.0 / 8).RequiresGrad_(true);
        _W2 = PeerData.Uniform(55, [256, 256], -1.0 / 16, 1.0 / 16).RequiresGrad_(true); _b2 = PeerData.Uniform(56, [256], -1.0 / 16, 1.0 / 16).RequiresGrad_(true);
        _W3 = PeerData.Uniform(57, [256, 10], -1.0 / 16, 1.0 / 16).RequiresGrad_(true); _b3 = PeerData.Uniform(58, [10], -1.0 / 16, 1.0 / 16).RequiresGrad_(true);
        _params = [_W1, _b1, _W2, _b2, _W3, _b3];
    }

    private static readonly string[] Names = ["W1", "b1", "W2", "b2", "W3", "b3"];

    protected override void Run(Dictionary<string, double>? check)
    {
        Tensor X = _X, Y = _Y, W1 = _W1, b1 = _b1, W2 = _W2, b2 = _b2, W3 = _W3, b3 = _b3;
        Tensor[] parameters = _params;
        using (Autograd.Scope())
        {
            Tensor h1 = (Tensor.Mm(X, W1) + b1).Relu();
            Tensor h2 = (Tensor.Mm(h1, W2) + b2).Relu();
            Tensor output = Tensor.Mm(h2, W3) + b3;
            Tensor loss = (output - Y).Pow(2).Mean();
            loss.Backward();
            float lv = loss.Item<float>();
            if (check is not null)
            {
                check["loss"] = lv;
                for (int i = 0; i < parameters.Length; i++) check[Names[i] + ".grad.sum"] = HostSum(GradOf(parameters[i]));
            }
            using (Autograd.NoGrad())
            {
                foreach (Tensor p in parameters) p.Add_(GradOf(p), alpha: -0.01);   // SGD, lr = 0.01
            }
            foreach (Tensor p in parameters) GradOf(p).Zero_();
        }
    }
}
