namespace AutogradFast.Tool.Workloads;

/// <summary>W4 mlp-tiny: a small model's training step (16-32-1 MLP, tanh, MSE, SGD lr 0.01).</summary>
internal sealed class W4MlpTiny : Workload
{
    private Tensor _X, _T, _W1, _b1, _W2, _b2;
    private Tensor[] _params = [];

    public override string Id => "W4";

    public override string Name => "mlp-tiny";

    public override void Setup()
    {
        _X = PeerData.Uniform(41, [1, 16], -1, 1);                   // input, no grad
        _T = Tensor.Full([1, 1], 0.5);                               // target
        _W1 = PeerData.Uniform(42, [16, 32], -1.0 / 4, 1.0 / 4).RequiresGrad_(true);
        _b1 = PeerData.Uniform(43, [32], -1.0 / 4, 1.0 / 4).RequiresGrad_(true);
        _W2 = PeerData.Uniform(44, [32, 1], -1 / Math.Sqrt(32), 1 / Math.Sqrt(32)).RequiresGrad_(true);
        _b2 = PeerData.Uniform(45, [1], -1 / Math.Sqrt(32), 1 / Math.Sqrt(32)).RequiresGrad_(true);
        _params = [_W1, _b1, _W2, _b2];
    }

    protected override void Run(Dictionary<string, double>? check)
    {
        Tensor X = _X, T = _T, W1 = _W1, b1 = _b1, W2 = _W2, b2 = _b2;
        Tensor[] parameters = _params;
        using (Autograd.Scope())
        {
            Tensor h = (Tensor.Mm(X, W1) + b1).Tanh();
            Tensor output = Tensor.Mm(h, W2) + b2;
            Tensor loss = (output - T).Pow(2).Mean();
            loss.Backward();
            float lv = loss.Item<float>();
            if (check is not null)
            {
                check["loss"] = lv;
                check["W1.grad.sum"] = HostSum(GradOf(W1));
                check["b1.grad.sum"] = HostSum(GradOf(b1));
                check["W2.grad.sum"] = HostSum(GradOf(W2));
                check["b2.grad.sum"] = HostSum(GradOf(b2));
            }
            using (Autograd.NoGrad())
            {
                foreach (Tensor p in parameters) p.Add_(GradOf(p), alpha: -0.01);   // SGD, lr = 0.01
            }
            foreach (Tensor p in parameters) GradOf(p).Zero_();
        }
    }
}
