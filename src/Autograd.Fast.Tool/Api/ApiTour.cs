namespace AutogradFast.Tool.Api;

/// <summary>
/// <c>autograd-fast api</c>: one short program per part of the autograd API beyond Backward (hooks,
/// custom functions, in-place recording, grad modes, functional transforms, forward mode, GradCheck,
/// anomaly mode), each checked against its closed form. It exists so the NativeAOT binary proves
/// these features work without reflection; every line says ok or FAILED, and a failure exits 1.
/// </summary>
internal static class ApiTour
{
    public const string Help = """
        Usage: autograd-fast api

        Runs a tour of the autograd API (hooks, custom functions, in-place recording, grad modes,
        functional transforms, forward mode, GradCheck, anomaly mode), one checked line per feature.
        Exit code 1 when a check fails.
        """;

    public static int RunCommand(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (args.Count == 1 && args[0] is "--help" or "-h")
        {
            output.WriteLine(Help);
            return 0;
        }
        if (args.Count > 0)
        {
            error.WriteLine($"autograd-fast api: unexpected argument '{args[0]}'.");
            error.WriteLine(Help);
            return 2;
        }
        int failures = 0;
        foreach ((string name, Func<(string Shown, bool Ok)> check) in Checks)
        {
            (string shown, bool ok) = Run(check);
            if (!ok) failures++;
            output.WriteLine($"{(ok ? "ok    " : "FAILED")} {name}: {shown}");
        }
        output.WriteLine(failures == 0 ? "api tour: all checks passed" : $"api tour: {failures} check(s) failed");
        return failures == 0 ? 0 : 1;
    }

    private static (string, bool) Run(Func<(string, bool)> check)
    {
        try
        {
            using AutogradScope scope = Autograd.Scope();
            return check();
        }
        catch (Exception e)
        {
            return ($"{e.GetType().Name}: {e.Message}", false);
        }
    }

    private static readonly (string Name, Func<(string, bool)> Check)[] Checks =
    [
        ("hooks", Hooks),
        ("custom function", CustomFunction),
        ("custom function under createGraph", CustomFunctionTwice),
        ("custom function with two outputs", TwoOutputs),
        ("in-place on a non-leaf", InPlace),
        ("in-place through a view", InPlaceView),
        ("saved value overwritten", SavedValueOverwritten),
        ("grad modes", GradModes),
        ("functional jacobian and hessian", JacobianHessian),
        ("forward mode (jvp)", ForwardMode),
        ("gradcheck", GradCheck),
        ("anomaly mode", Anomaly),
    ];

    private static double[] V(Tensor t) => t.ToArray<double>();

    private static bool Same(double[] a, params double[] b) => a.Length == b.Length && a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1e-12 * Math.Max(1, Math.Abs(p.Second)));

    private static string Show(double[] v) => "[" + string.Join(", ", v.Select(x => x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture))) + "]";

    // y = 2x, a hook doubles y's gradient, RetainGrad keeps it: x.grad = 2 * 2 * 3
    private static (string, bool) Hooks()
    {
        var x = Tensor.From(new[] { 1.0, 2 }, requiresGrad: true);
        Tensor y = x * 2;
        y.RegisterHook(g => g * 2);
        y.RetainGrad();
        (y * 3).Sum().Backward();
        double[] gx = V(x.Grad!.Value), gy = V(y.Grad!.Value);
        return ($"y.grad {Show(gy)}, x.grad {Show(gx)}", Same(gy, 6, 6) && Same(gx, 12, 12));
    }

    private sealed class Exp : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            Tensor result = inputs[0].Exp();
            ctx.SaveForBackward(result);
            return result;
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput * ctx.SavedTensors[0]];

        public override Tensor Jvp(FunctionContext ctx, Tensor[] tangents) => tangents[0] * ctx.SavedTensors[0];
    }

    // a custom exp used twice: d/dx exp(x) * exp(2x) = 3 exp(3x)
    private static (string, bool) CustomFunction()
    {
        var x = Tensor.From(new[] { 0.0, 0.5 }, requiresGrad: true);
        Tensor y = AutogradFunction.Apply<Exp>(x) * AutogradFunction.Apply<Exp>(x * 2);
        y.Sum().Backward();
        double[] g = V(x.Grad!.Value), expected = V((x.Detach() * 3).Exp() * 3);
        return ($"{y.GradFn} <- ExpBackward, x.grad {Show(g)}", y.GradFn == "MulBackward0" && Same(g, expected));
    }

    // d²/dx² exp(x) through the custom backward (it is differentiable)
    private static (string, bool) CustomFunctionTwice()
    {
        var x = Tensor.From(new[] { 0.25 }, requiresGrad: true);
        Tensor g = Autograd.Grad(AutogradFunction.Apply<Exp>(x).Sum(), x, createGraph: true)!.Value;
        Tensor h = Autograd.Grad(g.Sum(), x)!.Value;
        double[] expected = V(x.Detach().Exp());
        return ($"d2/dx2 exp(x) = {Show(V(h))}", Same(V(h), expected));
    }

    private sealed class SquareAndCube : MultiOutputFunction
    {
        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs[0]);
            return [inputs[0] * inputs[0], inputs[0] * inputs[0] * inputs[0]];
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs)
        {
            Tensor x = ctx.SavedTensors[0];
            return [gradOutputs[0] * x * 2 + gradOutputs[1] * x * x * 3];
        }
    }

    // (x², x³) from one custom function: d/dx (x² + x³) = 2x + 3x²
    private static (string, bool) TwoOutputs()
    {
        var x = Tensor.From(new[] { 1.0, 2 }, requiresGrad: true);
        Tensor[] o = MultiOutputFunction.Apply<SquareAndCube>(x);
        (o[0] + o[1]).Sum().Backward();
        return ($"{o[0].GradFn} / {o[1].GradFn}, x.grad {Show(V(x.Grad!.Value))}", o[1].GradFn == "SquareAndCubeBackward" && Same(V(x.Grad!.Value), 5, 16));
    }

    // y = x * 1; y *= y0 (a copy); y += 1: d/dx (x^2 + 1) = 2x
    private static (string, bool) InPlace()
    {
        var x = Tensor.From(new[] { 1.5, -2 }, requiresGrad: true);
        Tensor y = x * 1;
        y.Mul_(x).Add_(1);
        y.Sum().Backward();
        return ($"{y.GradFn}, x.grad {Show(V(x.Grad!.Value))}", y.GradFn == "AddBackward0" && Same(V(x.Grad!.Value), 3, -4));
    }

    // y = x * 1; y[0] *= 3: the base's history is CopySlices
    private static (string, bool) InPlaceView()
    {
        var x = Tensor.From(new[] { 1.0, 2, 3, 4 }, requiresGrad: true);
        Tensor y = x * 1;
        Tensor v = y.Slice(0, 0, 2);
        v.Mul_(3);
        y.Sum().Backward();
        return ($"{y.GradFn} / {v.GradFn}, x.grad {Show(V(x.Grad!.Value))}",
            y.GradFn == "CopySlices" && v.GradFn == "AsStridedBackward0" && Same(V(x.Grad!.Value), 3, 3, 1, 1));
    }

    private static (string, bool) SavedValueOverwritten()
    {
        var x = Tensor.From(new[] { 1.0 }, requiresGrad: true);
        Tensor y = x * 1;
        Tensor z = y * x;
        y.Mul_(2);
        try
        {
            z.Backward();
            return ("no error", false);
        }
        catch (InvalidOperationException e)
        {
            return (e.Message[..e.Message.IndexOf(':', StringComparison.Ordinal)], e.Message.Contains("is at version 1; expected version 0", StringComparison.Ordinal));
        }
    }

    private static (string, bool) GradModes()
    {
        var x = Tensor.From(new[] { 1.0 }, requiresGrad: true);
        bool noGrad, enabled, inference;
        using (Autograd.NoGrad())
        {
            noGrad = (x * 2).RequiresGrad;
            using (Autograd.EnableGrad()) enabled = (x * 2).RequiresGrad;
        }
        Tensor made;
        using (Autograd.InferenceMode()) made = x * 2;
        inference = made.IsInference;
        return ($"no-grad records {noGrad}, enable-grad inside {enabled}, inference tensor {inference}", !noGrad && enabled && inference);
    }

    // J of x*x is diag(2x); H of sum(x^3) is diag(6x)
    private static (string, bool) JacobianHessian()
    {
        var x = Tensor.From(new[] { 1.0, -2 });
        double[] j = V(Functional.Jacobian(t => t * t, x)), h = V(Functional.Hessian(t => t.Pow(3).Sum(), x));
        return ($"J {Show(j)}, H {Show(h)}", Same(j, 2, 0, 0, -4) && Same(h, 6, 0, 0, -12));
    }

    // J·v of exp(x) * x in one forward pass, through the custom function's jvp too
    private static (string, bool) ForwardMode()
    {
        var x = Tensor.From(new[] { 0.0, 1 });
        var v = Tensor.From(new[] { 1.0, 2 });
        (_, Tensor jvp) = ForwardAD.Jvp(t => AutogradFunction.Apply<Exp>(t) * t, x, v);
        double[] expected = V((x.Exp() * (x + 1)) * v);
        return ($"jvp {Show(V(jvp))}", Same(V(jvp), expected));
    }

    private static (string, bool) GradCheck()
    {
        var x = Tensor.From(new[] { 0.3, -0.7, 1.1 }, requiresGrad: true);
        bool right = Autograd.GradCheck(t => AutogradFunction.Apply<Exp>(t).Tanh(), x);
        bool secondOrder = Autograd.GradGradCheck(t => AutogradFunction.Apply<Exp>(t).Tanh(), x);
        bool catchesWrong = !Autograd.GradCheck(t => t.Detach() * t, x, raiseException: false);
        return ($"custom op passes {right}, second order {secondOrder}, planted wrong rule caught {catchesWrong}", right && secondOrder && catchesWrong);
    }

    private static (string, bool) Anomaly()
    {
        var a = Tensor.From(new[] { 0.0, 1 }, requiresGrad: true);
        using (Autograd.DetectAnomaly())
        {
            try
            {
                (a / a).Sum().Backward();
                return ("no error", false);
            }
            catch (InvalidOperationException e)
            {
                string first = e.Message.Split('\n')[0];
                return (first, first.Contains("Function 'DivBackward0' returned nan values", StringComparison.Ordinal) && e.Message.Contains(nameof(Anomaly), StringComparison.Ordinal));
            }
        }
    }
}
