namespace AutogradFast.Tool.Seeds;

/// <summary>seeds/004: the gradient of 2·dot(x, x), sum, non-scalar outputs, detach, control flow.</summary>
internal static class Notebook004
{
    public static void Run(Notebook nb)
    {
        Tensor x = default, y = default, u = default, z = default, a = default, d = default;
        Func<Tensor, Tensor> F = null!;

        nb.Cell(() => { x = Tensor.Arange(4.0); });
        nb.Cell(() => x);
        nb.Text("Scalar-valued function with respect to a vector x: the gradient has x's shape.");
        nb.Cell(() => x.RequiresGrad_(true));
        nb.Cell(() => x.Grad);
        nb.Cell(() => { y = 2 * Tensor.Dot(x, x); });
        nb.Cell(() => y);
        nb.Cell(() => y.Backward());
        nb.Cell(() => x.Grad);
        nb.Cell(() => x.Grad!.Value == 4 * x);
        nb.Cell(() => x.Grad!.Value.Zero_());
        nb.Cell(() => x);
        nb.Text("y = x1 + x2 + ... + xn: every partial derivative is 1.");
        nb.Cell(() => { y = x.Sum(); });
        nb.Cell(() => y.Backward());
        nb.Cell(() => x.Grad);

        nb.Text("# Backward for Non-Scalar Variables");
        nb.Cell(() => x);
        nb.Cell(() => x.Grad!.Value.Zero_());
        nb.Cell(() => { y = x * x; });
        nb.Cell(() => y.Backward(gradient: Tensor.Ones(y.Length)));
        nb.Cell(() => x.Grad);

        nb.Text("## Detaching Computation");
        nb.Cell(() => x.Grad!.Value.Zero_());
        nb.Cell(() => { y = x * x; });
        nb.Cell(() => { u = y.Detach(); });
        nb.Cell(() => { z = u * x; });
        nb.Cell(() => z.Sum().Backward());
        nb.Cell(() => x.Grad);
        nb.Cell(() => x.Grad!.Value == u);
        nb.Cell(() => x.Grad!.Value.Zero_());
        nb.Cell(() => y.Sum().Backward());
        nb.Cell(() => x.Grad);
        nb.Cell(() => x.Grad!.Value == 2 * x);

        nb.Text("# Gradients and Python Control Flow");
        nb.Cell(() =>
        {
            F = a =>
            {
                var b = a * 2;
                while (b.Norm() < 1000)
                    b = b * 2;
                return b.Sum() > 0 ? b : 100 * b;
            };
        });
        nb.Cell(() => { Autograd.ManualSeed(3); a = Tensor.Randn([], requiresGrad: true); });
        nb.Cell(() => { d = F(a); });
        nb.Cell(() => d.Backward());
        nb.Cell(() => d);
        nb.Cell(() => a);
        nb.Cell(() => a.Grad);
        nb.Cell(() => a.Grad!.Value == d / a);
        nb.Differs("a is random (torch.randn; seed 3 gives a negative a, taking the notebook's `100 * b` branch as its recorded run did), so d and a.grad differ in value; a.grad == d / a holds for any a.");
    }
}
