namespace AutogradFast.Tool.Seeds;

/// <summary>
/// seeds/001: 0-d versus shape-[1] tensors, <c>gradient=</c> scaling, <c>x.sum()</c>, <c>torch.mm</c>
/// with gradients of several shapes, non-scalar outputs.
/// </summary>
internal static class Notebook001
{
    public static void Run(Notebook nb)
    {
        Tensor x = default, y = default, a = default, gradient = default;

        nb.Text("https://pytorch.org/tutorials/beginner/blitz/autograd_tutorial.html");
        nb.Text("(In [71]: `import torch`. Nothing to translate: the library is referenced by the project.)");
        nb.Text("""
            (Python's f-strings become C# interpolated strings. In an f-string a 0-d tensor formats as its
            item() (`4.0`), which Format(...) below reproduces; None prints for a missing grad; type(x.grad)
            becomes x.Grad?.GetType(), which prints AutogradFast.Tensor where Python prints <class 'torch.Tensor'>.)
            """);

        nb.Text("## x 0-d, y 0-d");
        nb.Cell(() =>
        {
            x = Tensor.From(1f, requiresGrad: true);
            nb.Print($"x.shape: {x.Shape}, x.grad: {Format(x.Grad)}");
            y = 2 * x + x.Pow(2);
            nb.Print($"y: {Format(y)}; y.shape: {y.Shape}");
        });
        nb.Cell(() =>
        {
            x = Tensor.From(1f, requiresGrad: true);
            y = 2 * x + x.Pow(2);
            y.Backward();
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}, manual result: {Format(2 + 2 * x)}");
        });
        nb.Text("Not in the notebook: the repr of that 0-d x.grad, which the f-string above formats as its item():");
        nb.Cell(() => x.Grad);
        nb.Cell(() =>
        {
            x = Tensor.From(1f, requiresGrad: true);
            y = 2 * x + x.Pow(2);
            gradient = Tensor.From(1f);
            y.Backward(gradient: gradient);
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}, manual result: {Format(gradient * (2 + 2 * x))}");
        });
        nb.Cell(() =>
        {
            x = Tensor.From(1f, requiresGrad: true);
            y = 2 * x + x.Pow(2);
            gradient = Tensor.From(100f);
            y.Backward(gradient: gradient);
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}, manual result: {Format(gradient * (2 + 2 * x))}");
        });
        nb.Text("Not in the notebook: the repr of that 0-d x.grad, which the f-string above formats as its item():");
        nb.Cell(() => x.Grad);

        nb.Text("## x.shape=[1], y.shape=[1]");
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f }, requiresGrad: true);
            nb.Print($"x.shape: {x.Shape}");
            y = 2 * x + x.Pow(2);
            nb.Print($"y: {Format(y)}; y.shape: {y.Shape}");
        });
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f }, requiresGrad: true);
            y = 2 * x + x.Pow(2);
            y.Backward();
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}, manual result: {Format(2 + 2 * x)}");
        });
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f }, requiresGrad: true);
            y = 2 * x + x.Pow(2);
            gradient = Tensor.From(new[] { 1f });
            y.Backward(gradient: gradient);
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}, manual result: {Format(gradient * (2 + 2 * x))}");
        });
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f }, requiresGrad: true);
            y = 2 * x + x.Pow(2);
            gradient = Tensor.From(new[] { 100f });
            y.Backward(gradient: gradient);
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}, manual result: {Format(gradient * (2 + 2 * x))}");
        });

        nb.Text("## x.shape=[2], y 0d - Example 1");
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            nb.Print($"x: {Format(x)}, x.shape: {x.Shape}, x.grad: {Format(x.Grad)}");
            y = 2 * x[0] + x[1].Pow(2);
            nb.Print($"y.shape: {y.Shape}");
        });
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            y = 2 * x[0] + x[1].Pow(2);
            y.Backward();
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}, manual result: {Format(new object[] { 2, 2 * x[1] })}");
        });
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            y = 2 * x[0] + x[1].Pow(2);
            gradient = Tensor.From(100f);
            y.Backward(gradient: gradient);
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}, manual result: {Format(new[] { 2 * gradient, 2 * x[1] * gradient })}");
        });

        nb.Text("## x.shape=[2], y 0d - Example 2");
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            nb.Print($"x: {Format(x)}, x.shape: {x.Shape}, x.grad: {Format(x.Grad)}");
            y = x.Sum();
            nb.Print($"y.shape: {y.Shape}");
        });
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            y = x.Sum();
            y.Backward();
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}, manual result: {Format(new[] { 1, 1 })}");
        });
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            y = x.Sum();
            gradient = Tensor.From(100f);
            y.Backward(gradient: gradient);
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}, manual result: {Format(new[] { 1 * gradient, 1 * gradient })}");
        });

        nb.Text("## x.shape=[2,1], y.shape=[1, 1]");
        nb.Cell(() =>
        {
            a = Tensor.From(new float[,] { { 1, 2 } }, requiresGrad: true);
            nb.Print($"a.shape: {a.Shape}");
            x = Tensor.From(new float[,] { { 3 }, { 5 } });
            nb.Print($"x.shape: {x.Shape}");
            y = Tensor.Mm(a, x);
            nb.Print($"y: {Format(y)}; y.shape: {y.Shape}");
        });
        nb.Differs("the grad_fn of torch.mm is MmBackward0 today; the recorded run (an older PyTorch) printed MmBackward.");
        nb.Cell(() =>
        {
            a = Tensor.From(new float[,] { { 1, 2 } });
            x = Tensor.From(new float[,] { { 3 }, { 5 } }, requiresGrad: true);
            y = Tensor.Mm(a, x);
            y.Backward();
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}");
        });
        nb.Cell(() =>
        {
            a = Tensor.From(new float[,] { { 1, 2 } });
            x = Tensor.From(new float[,] { { 3 }, { 5 } }, requiresGrad: true);
            y = Tensor.Mm(a, x);
            gradient = Tensor.From(new float[,] { { 100 } });
            nb.Print($"gradient.shape: {gradient.Shape}");
            y.Backward(gradient: gradient);
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}");
        });
        nb.FailingCell(() =>
        {
            a = Tensor.From(new float[,] { { 1, 2 } });
            x = Tensor.From(new float[,] { { 3 }, { 5 } }, requiresGrad: true);
            y = Tensor.Mm(a, x);
            gradient = Tensor.From(new float[,] { { 100, 300 } });
            nb.Print($"gradient.shape: {gradient.Shape}");
            y.Backward(gradient: gradient);
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}");
        });
        nb.Differs("today backward() refuses a gradient whose shape differs from the output's (RuntimeError: Mismatch in shape); the recorded run's older PyTorch summed it silently (x.grad [[400.], [800.]]).");
        nb.FailingCell(() =>
        {
            a = Tensor.From(new float[,] { { 1, 2 } });
            x = Tensor.From(new float[,] { { 3 }, { 5 } }, requiresGrad: true);
            y = Tensor.Mm(a, x);
            gradient = Tensor.From(new float[,] { { 100 }, { 300 } });
            nb.Print($"gradient.shape: {gradient.Shape}");
            y.Backward(gradient: gradient);
            nb.Print($"x.grad: {Format(x.Grad)}; type(x.grad): {x.Grad?.GetType()}, x.grad.shape: {x.Grad!.Value.Shape}");
        });
        nb.Differs("today backward() refuses a gradient whose shape differs from the output's (RuntimeError: Mismatch in shape); the recorded run's older PyTorch summed it silently (x.grad [[400.], [800.]]).");

        nb.Text("## x.shape=[2], y.shape=[2]");
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            nb.Print($"x: {Format(x)}, x.shape: {x.Shape}, x.grad: {Format(x.Grad)}");
            y = 2 * x;
            nb.Print($"y.shape: {y.Shape}");
        });
        nb.Cell(() =>
        {
            // x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            // y = 2 * x;
            // y.Backward();
            // InvalidOperationException: grad can be implicitly created only for scalar outputs
        });
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            y = 3.14 * x;
            y.Backward(Tensor.From(new[] { 1f, 1f }));
            nb.Print($"x.grad:{Format(x.Grad)}; type(x.grad):{x.Grad?.GetType()}, x.grad.shape:{x.Grad!.Value.Shape}");
        });
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            y = 3.14 * x;
            y.Backward(Tensor.From(new[] { 10f, 100f }));
            nb.Print($"x.grad:{Format(x.Grad)}; type(x.grad):{x.Grad?.GetType()}, x.grad.shape:{x.Grad!.Value.Shape}");
        });
    }

    /// <summary>
    /// What a Python f-string prints for <c>{value}</c>: <c>format(value)</c>, which for a 0-d tensor is
    /// the format of its <c>item()</c> (<c>4.0</c>, not <c>tensor(4.)</c>); a list shows its elements'
    /// reprs; None for null. Everything else prints as its repr.
    /// </summary>
    internal static string Format(object? value) => value switch
    {
        Tensor t when t.Dim() == 0 => t.DType switch
        {
            DType.Int64 => t.Item<long>().ToString(System.Globalization.CultureInfo.InvariantCulture),
            DType.Bool => Notebook.Show(t.Item<bool>()),
            _ => Notebook.Show(t.Item()),
        },
        _ => Notebook.Show(value),
    };
}
