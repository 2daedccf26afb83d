namespace AutogradFast.Tool.Seeds;

/// <summary>
/// seeds/002: add, mul, exp, the non-scalar backward error, detach, no_grad, gradient accumulation
/// and <c>grad.zero_()</c> in a loop.
/// </summary>
internal static class Notebook002
{
    public static void Run(Notebook nb)
    {
        Tensor x = default, y = default, y2 = default, y3 = default, u = default, z = default, weights = default;

        nb.Text("(In [1]: `import torch`. Nothing to translate: the library is referenced by the project.)");
        nb.Text("torch provides autograd package which computes gradients");
        nb.Text("(torch.randn is random: every random cell seeds the generator first, so x differs from the recorded run; the gradients follow the same formulas.)");

        nb.Text("### addition");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(47);
            x = Tensor.Randn(1, requiresGrad: true);
            nb.Print(x);
            y = x + 2;
            nb.Print(y);
            y.Backward();
            return x.Grad;
        });

        nb.Text("### multiplication");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(43);
            x = Tensor.Randn(1, requiresGrad: true);
            nb.Print(x);
            y2 = x * x;
            nb.Print(y2);
            y2.Backward();
            return x.Grad;
        });

        nb.Text("### exponential");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(40);
            x = Tensor.Randn(1, requiresGrad: true);
            nb.Print(x.Exp());
            y3 = x.Exp();
            y3.Backward();
            return x.Grad;
        });
        nb.FailingCell(() =>
        {
            Autograd.ManualSeed(48);
            x = Tensor.Randn(2, requiresGrad: true);
            nb.Print(x.Exp());
            y3 = x.Exp();
            y3.Backward();
            _ = x.Grad; // not reached: the notebook's last line, x.grad
        });
        nb.Cell(() =>
        {
            Autograd.ManualSeed(55);
            x = Tensor.Randn(2, requiresGrad: true);
            nb.Print(x.Exp());
            y3 = x.Exp();
            nb.Print(y3);
            y3.Backward(Tensor.From(new[] { 1, 4 }));
            return x.Grad;
        });

        nb.Text("### detaching computation");
        nb.Text("""
            (In [None], never run: as written the Python cell is an IndentationError, since `with` has no body.)
            // to not compute gradient wrt x, any of the following three options can be used:
            x.RequiresGrad_(false)
            x.Detach()
            using (Autograd.NoGrad()) { ... }
            """);
        nb.Cell(() =>
        {
            x = Tensor.Arange(4, requiresGrad: true, dtype: DType.Float32);
            y = x * x;
            u = y;
            z = u * x;
            // here z = [x1^3, x2^3, x3^3, x4^3]
            z.Sum().Backward();

            // x.grad = gradient wrt x
            // x.grad = [3*x1^2, 3*x2^2, 3*x3^2, 3*x4^2]
            nb.Print(x.Grad);
        });
        nb.Cell(() =>
        {
            x = Tensor.Arange(4, requiresGrad: true, dtype: DType.Float32);
            y = x * x;
            u = y.Detach();
            z = u * x;
            // here z = [u1*x1, u2*x2, u3*x3, u4*x4]
            z.Sum().Backward();

            // u is constant now and is not dependent on any variable
            // x.grad = [u1, u2, u3, u4]
            nb.Print(x.Grad);
        });

        nb.Text("### clearing gradient");
        nb.Cell(() =>
        {
            // Pytorch accumulates the gradient into grad attribute, so it is required to clear them before next update
            weights = Tensor.Ones(4, requiresGrad: true);

            for (int epoch = 0; epoch < 3; epoch++)
            {
                var modelOutput = (weights * 3).Sum();
                modelOutput.Backward();
                nb.Print(weights.Grad);

                // to clear gradients for next iteration
                weights.Grad!.Value.Zero_();
            }
        });
        nb.Differs("the code zeroes weights.grad after every print, so it prints [3., 3., 3., 3.] three times; the recorded 3/6/9 is what it would print without the zero_().");
        nb.Cell(() =>
        {
            var a = 2;
            nb.Print($"{nameof(a)}={a}");
        });
    }
}
