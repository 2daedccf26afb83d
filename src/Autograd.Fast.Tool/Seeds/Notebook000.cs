namespace AutogradFast.Tool.Seeds;

/// <summary>
/// seeds/000: scalar and vector inputs and outputs; backward() with the default, ones and 100×ones
/// gradients; index assignment into zeros (<c>y[0] = x**3</c>) and why the gradient sums.
/// </summary>
internal static class Notebook000
{
    public static void Run(Notebook nb)
    {
        Tensor x = default, y = default;

        nb.Text("""
            # Gradient calculation examples in PyTorch

            Author: Yang Zhang<br/>
            Source: https://github.com/yang-zhang/deep-learning/blob/master/pytorch_grad.ipynb
            """);
        nb.Text("""
            ## Table of Contents

            1. Input is scalar; output is scalar
            2. Input is vector; output is scalar
            3. Input is scalar; output is vector
            4. Input is vector; output is vector
            """);
        nb.Text("# Gradient calculation examples in PyTorch\n\nExamples of gradient calculation in PyTorch.");
        nb.Text("(In [None]: `import torch`. Nothing to translate: the library is referenced by the project.)");
        nb.Text("(torch.rand is random: every random cell seeds the generator first, so the walkthrough prints the same values on every run. The notebook recorded no outputs.)");

        nb.Text("## input is scalar; output is scalar");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(0);
            x = Tensor.Rand(1, requiresGrad: true);
            return x;
        });
        nb.Cell(() =>
        {
            y = 3 * x.Pow(2);
            y.Backward();
            return x.Grad;
        });
        nb.Cell(() => x * 6);

        nb.Text("Equivalently:");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(1);
            x = Tensor.Rand(1, requiresGrad: true);
            return x;
        });
        nb.Cell(() =>
        {
            y = 3 * x.Pow(2);
            y.Backward(gradient: Tensor.Ones(1));
            return x.Grad;
        });
        nb.Cell(() => x * 6);

        nb.Text("Set a non-ones gradient:");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(2);
            x = Tensor.Rand(1, requiresGrad: true);
            return x;
        });
        nb.Cell(() =>
        {
            y = 3 * x.Pow(2);
            y.Backward(gradient: 100 * Tensor.Ones(1));
            return x.Grad;
        });
        nb.Cell(() => 100 * x * 6);

        nb.Text("## input is vector; output is scalar");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(3);
            x = Tensor.Rand(2, 1, requiresGrad: true);
            return x;
        });
        nb.Cell(() =>
        {
            y = x[0].Pow(3) + 2 * x[1].Pow(2);

            y.Backward();
        });
        nb.Cell(() => x.Grad);
        nb.Cell(() => (3 * x[0].Pow(2), 4 * x[1]));

        nb.Text("Equivalently:");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(4);
            x = Tensor.Rand(2, 1, requiresGrad: true);
            return x;
        });
        nb.Cell(() =>
        {
            y = x[0].Pow(3) + 2 * x[1].Pow(2);

            y.Backward(gradient: Tensor.Ones(1));
        });
        nb.Cell(() => x.Grad);
        nb.Cell(() => (3 * x[0].Pow(2), 4 * x[1]));

        nb.Text("Set a non-ones gradient:");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(5);
            x = Tensor.Rand(2, 1, requiresGrad: true);
            return x;
        });
        nb.Cell(() =>
        {
            y = x[0].Pow(3) + 2 * x[1].Pow(2);

            y.Backward(gradient: 100 * Tensor.Ones(1));
        });
        nb.Cell(() => x.Grad);
        nb.Cell(() => (3 * x[0].Pow(2), 4 * x[1]));

        nb.Text("## input is scalar; output is vector");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(6);
            x = Tensor.Rand(1, requiresGrad: true);
            return x;
        });
        nb.Cell(() => { y = Tensor.Zeros(2, 1, requiresGrad: false); });
        nb.Cell(() =>
        {
            y[0] = x.Pow(3);
            y[1] = 2 * x.Pow(2);
            return y;
        });
        nb.Cell(() => y.Backward(gradient: Tensor.Ones(y.Size().AsSpan())));
        nb.Cell(() => x.Grad);
        nb.Text("why?");
        nb.Cell(() => 3 * x.Pow(2) + 4 * x);

        nb.Text("## input is vector; output is vector");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(7);
            x = Tensor.Rand(2, 1, requiresGrad: true);
            return x;
        });
        nb.Cell(() => { y = Tensor.Zeros(3, 1, requiresGrad: false); });
        nb.Cell(() =>
        {
            y[0] = x[0].Pow(2);
            y[1] = x[1].Pow(3);
            y[2] = x[1].Pow(4);
        });
        nb.Cell(() => y.Backward(gradient: Tensor.Ones(y.Size().AsSpan())));
        nb.Text("Cummulative grad of `x[0]` and `x[1]` respectively.");
        nb.Cell(() => x.Grad);
        nb.Cell(() => (2 * x[0], 3 * x[1].Pow(2), 4 * x[1].Pow(3)));
        nb.Cell(() => (2 * x[0], 3 * x[1].Pow(2) + 4 * x[1].Pow(3)));

        nb.Text("Set a non-ones gradient:");
        nb.Cell(() =>
        {
            Autograd.ManualSeed(8);
            x = Tensor.Rand(2, 1, requiresGrad: true);
            return x;
        });
        nb.Cell(() => { y = Tensor.Zeros(3, 1, requiresGrad: false); });
        nb.Cell(() =>
        {
            y[0] = x[0].Pow(2);
            y[1] = x[1].Pow(3);
            y[2] = x[1].Pow(4);
        });
        nb.Cell(() => y.Backward(gradient: 100 * Tensor.Ones(y.Size().AsSpan())));
        nb.Text("Cummulative grad of `x[0]` and `x[1]` respectively.");
        nb.Cell(() => x.Grad);
        nb.Cell(() => (2 * x[0], 3 * x[1].Pow(2), 4 * x[1].Pow(3)));
        nb.Cell(() => (2 * x[0], 3 * x[1].Pow(2) + 4 * x[1].Pow(3)));
    }
}
