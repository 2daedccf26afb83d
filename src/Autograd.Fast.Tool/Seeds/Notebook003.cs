namespace AutogradFast.Tool.Seeds;

/// <summary>
/// seeds/003: dy/dx and dy/du of a polynomial, zeroing and re-using leaves, dot and @ on 1-D and 2-D
/// (also integer) tensors, vector outputs, Python control flow.
/// </summary>
internal static class Notebook003
{
    public static void Run(Notebook nb)
    {
        Tensor x = default, u = default, y = default, z = default, a = default, d = default;

        nb.Text("(In [9]: `import torch`. Nothing to translate: the library is referenced by the project.)");
        nb.Text("""
            <b>Diff of function with scalar input and scalar output</b> \
            y = 3x^2 + 4x + 2ux <br/>
            <b>find:</b>
            dy/dx at x = 3
            dy/dx at x = 2

            then, \
            z = 3*x**2 + x \
            find: \
            dz/dx at x = 3

            then, \
            find dy/dx at x = 7
            """);
        nb.Cell(() =>
        {
            x = Tensor.From(3.0f, requiresGrad: true);
            u = Tensor.From(2.0f, requiresGrad: true);
            y = 3 * x.Pow(2) + 4 * x + 2 * u * x;

            y.Backward();
            nb.Print("dy/dx for x = 3 : ", x.Grad);
            nb.Print("dy/dx for u = 2 : ", u.Grad);
        });
        nb.Cell(() =>
        {
            x.Grad!.Value.Zero_();
            z = 3 * x.Pow(2) + x;
            z.Backward();
            nb.Print("dz/dx at x = 3 : ", x.Grad);
        });
        nb.Cell(() =>
        {
            x = Tensor.From(7.0f, requiresGrad: true);
            y = 3 * x.Pow(2) + 4 * x + 2 * u * x; // you have to redefine y, otherwise it won't work
            y.Backward();
            nb.Print(x.Grad);
        });

        nb.Text("<b>Diff of function with vector input, scalar output</b>");
        nb.Text("(In [None]: `%reset #clears all variables and imports` and `import torch`. Nothing to translate: the next cells assign every variable they use.)");
        nb.Text("<i>NOTE: torch.tensor([[1, 7, -2]]) and torch.tensor([1, 7, -2]) are not completely the same</i>");
        nb.Cell(() =>
        {
            x = Tensor.From(new[,] { { 1, 7, -2 } }); // this is a 2D tensor
            nb.Print(x, x.T(), x.Shape, x.T().Shape, Tensor.MatMul(x, x.T()));
            // Tensor.Dot(x, x); // throws an error, because dot product is only allowed for 1D tensor

            x = Tensor.From(new[] { 1, 7, -2 }); // this is an 1D tensor
            nb.Print(x, x.T(), x.Shape, x.T().Shape, Tensor.MatMul(x, x.T()));
            return Tensor.Dot(x, x);
        });

        nb.Text("what does the following differentiation result mean?");
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1.0f, 7.0f, -2.0f }, requiresGrad: true);
            y = 3 * Tensor.Dot(x, Tensor.From(new[] { 1.0f, 7.0f, 5.0f })) + Tensor.MatMul(x, x.T());
            // nb.Print(y);
            y.Backward();
            nb.Print(x.Grad);
        });
        nb.Differs("print(y) is commented out, so only x.grad prints; the recorded output also shows y, tensor(174., grad_fn=<AddBackward0>), from a run with the print.");

        nb.Text("""
            <b>Differentiation of function with vector output</b> \
            grad can be normally created only for scalar output functions.\
            for vector valued function a special tensor called "gradient" has to be passed to backward()\
            <i> what does the output actually mean? </i>
            """);
        nb.Text("(In [1]: `%reset` and `import torch`. Nothing to translate: the next cells assign every variable they use.)");
        nb.Cell(() =>
        {
            x = Tensor.From(new[] { 1.0f, 7.0f, -2.0f }, requiresGrad: true);
            y = 3 * x * x + x.Pow(2);
            nb.Print(y);
            // y.Backward(); // throws error because: grad can be created only for scalar output functions
            y.Backward(gradient: Tensor.Ones(y.Length)); // meaning of the gradient tensor => page 86 of dive into deep learning book
            nb.Print(x.Grad);
        });

        nb.Text("<b>Differentiation of functions defined with python control flow</b>");
        nb.Cell(() =>
        {
            static Tensor F(Tensor a)
            {
                var b = a * 2;
                while (b.Norm() < 1000)
                    b = b * 2;
                Tensor c;
                if (b.Sum() > 0)
                    c = b;
                else
                    c = 100 * b;
                return c;
            }

            // F.Backward(); // will throw error
            a = Tensor.From(new[] { 5.0f }, requiresGrad: true);
            d = F(a);
            d.Backward();
            nb.Print("df/da at a = 5: ", a.Grad);
        });
    }
}
