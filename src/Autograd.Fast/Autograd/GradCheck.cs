using System.Globalization;
using AutogradFast.Storage;

namespace AutogradFast;

// torch.autograd.gradcheck and gradgradcheck (PyTorch 1.13's slow mode: the whole Jacobian, one
// finite-difference column per input element and one backward per output element).
public static partial class Autograd
{
    /// <summary>
    /// <c>torch.autograd.gradcheck(func, inputs, eps, atol, rtol, raise_exception)</c>: compares the
    /// Jacobian of every output of <paramref name="f"/> that requires grad, with respect to every input
    /// that requires grad, computed by backward (one <see cref="Grad(ReadOnlySpan{Tensor}, ReadOnlySpan{Tensor}, ReadOnlySpan{Tensor?}, bool?, bool, bool)"/>
    /// per output element) against central finite differences <c>(f(x + eps) - f(x - eps)) / 2eps</c>,
    /// elementwise as <c>torch.allclose</c> does: <c>|analytical - numerical| &lt;= atol + rtol * |numerical|</c>.
    /// It also checks, as PyTorch does, that backward gives the same values twice (reentrancy), that a
    /// zero gradient gives zero gradients, and that gradients have their input's shape and dtype.
    /// </summary>
    /// <remarks>
    /// Inputs that require grad must be float64 (PyTorch 1.13 only warns; here it is an
    /// <see cref="ArgumentException"/>, as float32 cannot meet these tolerances). <paramref name="f"/> is
    /// called with a contiguous float64 copy of each input that requires grad (a leaf of the check's
    /// own, perturbed in place under no-grad and restored after each evaluation) and with the other
    /// inputs as given; the caller's tensors are never written. Grad mode is on while f runs, so f may
    /// compute gradients itself. Everything the check makes is released when it returns.
    /// </remarks>
    /// <returns>true when every check passes; false on a failure when <paramref name="raiseException"/> is false.</returns>
    /// <exception cref="GradCheckException">a check fails and <paramref name="raiseException"/> is true.</exception>
    public static bool GradCheck(Func<Tensor[], Tensor[]> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3,
        bool raiseException = true)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(inputs);
        return GradChecker.Run(f, inputs, eps, atol, rtol, raiseException);
    }

    /// <summary><see cref="GradCheck(Func{Tensor[], Tensor[]}, Tensor[], double, double, double, bool)"/> for a function with one output.</summary>
    public static bool GradCheck(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3,
        bool raiseException = true)
    {
        ArgumentNullException.ThrowIfNull(f);
        return GradCheck(xs => [f(xs)], inputs, eps, atol, rtol, raiseException);
    }

    /// <summary><see cref="GradCheck(Func{Tensor[], Tensor[]}, Tensor[], double, double, double, bool)"/> for a function of one input with one output.</summary>
    public static bool GradCheck(Func<Tensor, Tensor> f, Tensor input, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3,
        bool raiseException = true)
    {
        ArgumentNullException.ThrowIfNull(f);
        return GradCheck(xs => [f(xs[0])], [input], eps, atol, rtol, raiseException);
    }

    /// <summary>
    /// <c>torch.autograd.gradgradcheck(func, inputs, grad_outputs, eps, atol, rtol, raise_exception)</c>:
    /// <see cref="GradCheck(Func{Tensor[], Tensor[]}, Tensor[], double, double, double, bool)"/> of the
    /// vector-Jacobian product of <paramref name="f"/>, g(x, u) = ∂(Σ f(x)·u)/∂x computed with
    /// <c>createGraph: true</c>, as a function of both the inputs and the grad outputs u. That checks
    /// the second derivatives (the derivative of every backward rule f uses). Without
    /// <paramref name="gradOutputs"/>, u is drawn from <see cref="Tensor.Randn(ReadOnlySpan{int}, DType, bool)"/>
    /// (float64, requiring grad; seed it with <see cref="ManualSeed"/>), one per output of f.
    /// </summary>
    public static bool GradGradCheck(Func<Tensor[], Tensor[]> f, Tensor[] inputs, Tensor[]? gradOutputs = null, double eps = 1e-6,
        double atol = 1e-5, double rtol = 1e-3, bool raiseException = true)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(inputs);
        using AutogradScope scope = Scope();
        Tensor[] u;
        if (gradOutputs is null)
        {
            Tensor[] outputs = f(inputs);
            u = new Tensor[outputs.Length];
            for (int i = 0; i < outputs.Length; i++) u[i] = Tensor.Randn(outputs[i].Shape.AsSpan(), DType.Float64, requiresGrad: true);
        }
        else u = gradOutputs;
        int n = inputs.Length, m = u.Length;
        Tensor[] all = [.. inputs, .. u];
        return GradCheck(args =>
        {
            Tensor[] outs = f(args[..n]);
            var differentiable = new List<Tensor>();
            var weights = new List<Tensor?>();
            for (int i = 0; i < outs.Length && i < m; i++)
            {
                if (!outs[i].RequiresGrad) continue;
                differentiable.Add(outs[i]);
                weights.Add(args[n + i]);
            }
            Tensor[] wrt = args[..n].Where(a => a.RequiresGrad).ToArray();
            if (differentiable.Count == 0 || wrt.Length == 0) return [];
            Tensor?[] g = Grad(differentiable.ToArray(), wrt, weights.ToArray(), createGraph: true, allowUnused: true);
            return g.Where(t => t is not null).Select(t => t!.Value).ToArray();
        }, all, eps, atol, rtol, raiseException);
    }

    /// <summary><see cref="GradGradCheck(Func{Tensor[], Tensor[]}, Tensor[], Tensor[], double, double, double, bool)"/> for a function with one output.</summary>
    public static bool GradGradCheck(Func<Tensor[], Tensor> f, Tensor[] inputs, Tensor? gradOutput = null, double eps = 1e-6,
        double atol = 1e-5, double rtol = 1e-3, bool raiseException = true)
    {
        ArgumentNullException.ThrowIfNull(f);
        return GradGradCheck(xs => [f(xs)], inputs, gradOutput is { } g ? [g] : null, eps, atol, rtol, raiseException);
    }

    /// <summary><see cref="GradGradCheck(Func{Tensor[], Tensor[]}, Tensor[], Tensor[], double, double, double, bool)"/> for a function of one input with one output.</summary>
    public static bool GradGradCheck(Func<Tensor, Tensor> f, Tensor input, Tensor? gradOutput = null, double eps = 1e-6,
        double atol = 1e-5, double rtol = 1e-3, bool raiseException = true)
    {
        ArgumentNullException.ThrowIfNull(f);
        return GradGradCheck(xs => [f(xs[0])], [input], gradOutput is { } g ? [g] : null, eps, atol, rtol, raiseException);
    }
}

/// <summary>
/// A failed <see cref="Autograd.GradCheck(Func{Tensor[], Tensor[]}, Tensor[], double, double, double, bool)"/>
/// or <see cref="Autograd.GradGradCheck(Func{Tensor[], Tensor[]}, Tensor[], Tensor[], double, double, double, bool)"/>
/// (PyTorch raises a RuntimeError with the same message): which output and input, and both Jacobians.
/// </summary>
public sealed class GradCheckException : Exception
{
    public GradCheckException() { }

    public GradCheckException(string message) : base(message) { }

    public GradCheckException(string message, Exception innerException) : base(message, innerException) { }
}

internal static unsafe class GradChecker
{
    public static bool Run(Func<Tensor[], Tensor[]> f, Tensor[] inputs, double eps, double atol, double rtol, bool raiseException)
    {
        using AutogradScope check = Autograd.Scope();
        using GradModeScope gradOn = Autograd.EnableGrad();

        // The differentiated inputs: float64 leaves of our own, so perturbing them never touches the caller's.
        var args = new Tensor[inputs.Length];
        var diff = new List<int>();
        for (int i = 0; i < inputs.Length; i++)
        {
            Tensor x = inputs[i];
            if (!x.RequiresGrad)
            {
                args[i] = x;
                continue;
            }
            if (x.DType != DType.Float64) ThrowHelper.GradCheckInputNotDouble(i, x.DType);
            args[i] = Tensor.FromSpan<double>(Values(x), x.Shape.AsSpan(), requiresGrad: true);
            diff.Add(i);
        }
        if (diff.Count == 0) ThrowHelper.GradCheckNoInputRequiresGrad();
        Tensor[] wrt = diff.Select(i => args[i]).ToArray();

        Tensor[] all = f(args);
        Tensor[] outputs = all.Where(o => o.RequiresGrad).ToArray();
        Size[] shapes = all.Select(o => o.Shape).ToArray();

        if (outputs.Length == 0)
        {
            // Nothing to differentiate: the function must then be constant in its inputs.
            foreach (int i in diff)
                for (int k = 0; k < args[i].NumEl(); k++)
                    foreach (double[] column in NumericalColumn(f, args, all.Select((_, o) => o).ToArray(), shapes, args[i], k, eps))
                        if (column.Any(v => v != 0)) return Fail(raiseException, "Numerical gradient for function expected to be zero");
            return true;
        }
        int[] differentiableIndex = all.Select((o, index) => (o, index)).Where(p => p.o.RequiresGrad).Select(p => p.index).ToArray();

        foreach (Tensor o in outputs) _ = Values(o); // computed now (a deferred result would read the inputs while they are perturbed)

        // Backward first, while the inputs hold the values the graph saw: twice (reentrancy), then with zero grad outputs.
        var analytical = new double[outputs.Length][][];
        for (int o = 0; o < outputs.Length; o++)
        {
            analytical[o] = Analytical(outputs[o], wrt, out bool sizesOk, out bool typesOk);
            double[][] again = Analytical(outputs[o], wrt, out _, out _);
            if (!sizesOk) return Fail(raiseException, "Analytical gradient has incorrect size");
            _ = typesOk; // PyTorch checks dtypes only with check_grad_dtypes=True (off by default)
            for (int j = 0; j < wrt.Length; j++)
                if (!analytical[o][j].AsSpan().SequenceEqual(again[j]))
                    return Fail(raiseException, "Backward is not reentrant, i.e., running backward with same input and grad_output multiple times " +
                        "gives different values, although analytical gradient matches numerical gradient. The tolerance for nondeterminism was 0.0.");
        }
        var zeros = new Tensor?[outputs.Length];
        for (int o = 0; o < outputs.Length; o++) zeros[o] = Tensor.ZerosLike(outputs[o]);
        Tensor?[] fromZeros = Autograd.Grad(outputs, wrt, zeros, allowUnused: true);
        string? zeroFailure = null;
        for (int j = 0; j < wrt.Length && zeroFailure is null; j++)
        {
            if (fromZeros[j] is not { } g) continue;
            if (Values(g).Any(v => v != 0)) zeroFailure = "backward not multiplied by grad_output";
            else if (g.DType != wrt[j].DType) zeroFailure = "grad is incorrect type";
            else if (g.Shape != wrt[j].Shape) zeroFailure = "grad is incorrect size";
        }

        // numerical[o][j]: (input j's numel) x (output o's numel), PyTorch's layout
        var numerical = new double[outputs.Length][][];
        for (int o = 0; o < outputs.Length; o++) numerical[o] = new double[wrt.Length][];
        for (int j = 0; j < wrt.Length; j++)
        {
            int n = wrt[j].NumEl();
            for (int o = 0; o < outputs.Length; o++) numerical[o][j] = new double[n * outputs[o].NumEl()];
            for (int k = 0; k < n; k++)
            {
                double[][] columns = NumericalColumn(f, args, differentiableIndex, shapes, wrt[j], k, eps);
                for (int o = 0; o < outputs.Length; o++)
                {
                    int width = outputs[o].NumEl();
                    Array.Copy(columns[o], 0, numerical[o][j], k * width, width);
                }
            }
        }

        for (int o = 0; o < outputs.Length; o++)
        {
            for (int j = 0; j < wrt.Length; j++)
            {
                double[] a = analytical[o][j], n = numerical[o][j];
                if (a.Length == 0 && n.Length == 0) continue;
                if (AllClose(a, n, rtol, atol)) continue;
                int[] shape = [wrt[j].NumEl(), outputs[o].NumEl()];
                string message = string.Create(CultureInfo.InvariantCulture,
                    $"Jacobian mismatch for output {o} with respect to input {j},\nnumerical:{Tensor.FromSpan<double>(n, shape)}\nanalytical:{Tensor.FromSpan<double>(a, shape)}\n");
                return Fail(raiseException, message);
            }
        }
        // (PyTorch runs this check after the comparison, so a wrong Jacobian is reported first)
        if (zeroFailure is not null) return Fail(raiseException, zeroFailure);
        return true;
    }

    /// <summary>
    /// Column k of every Jacobian with respect to <paramref name="x"/> (one entry per output index in
    /// <paramref name="which"/>): the central difference of f's outputs when element k of x moves by ±eps.
    /// </summary>
    private static double[][] NumericalColumn(Func<Tensor[], Tensor[]> f, Tensor[] args, int[] which, Size[] shapes, Tensor x, int k, double eps)
    {
        TensorContext c = x.Ctx;
        double original = c.Pointer<double>(x.Slot)[k]; // x is our own contiguous float64 leaf
        double[][] minus, plus;
        try
        {
            Perturb(c, x, k, original - eps);
            minus = Evaluate(f, args, which, shapes, k, eps);
            Perturb(c, x, k, original + eps);
            plus = Evaluate(f, args, which, shapes, k, eps);
        }
        finally
        {
            Perturb(c, x, k, original);
        }
        var columns = new double[which.Length][];
        for (int o = 0; o < which.Length; o++)
        {
            columns[o] = new double[plus[o].Length];
            for (int e = 0; e < plus[o].Length; e++) columns[o][e] = (plus[o][e] - minus[o][e]) / (2 * eps);
        }
        return columns;
    }

    /// <summary>
    /// Writes element k of our leaf (its address is taken anew: a tiny tensor's inline storage moves when
    /// the records grow). As PyTorch's write through <c>x.data</c>, it does not count as a version: the
    /// value is restored exactly before the graph of the first call is used again.
    /// </summary>
    private static void Perturb(TensorContext c, Tensor x, int k, double value)
    {
        using GradModeScope noGrad = Autograd.NoGrad();
        c.Pointer<double>(x.Slot)[k] = value;
    }

    /// <summary>f's outputs at the current (perturbed) inputs, as values; the graph it records is released at once.</summary>
    private static double[][] Evaluate(Func<Tensor[], Tensor[]> f, Tensor[] args, int[] which, Size[] shapes, int k, double eps)
    {
        using AutogradScope evaluation = Autograd.Scope();
        Tensor[] outs = f(args);
        var result = new double[which.Length][];
        for (int o = 0; o < which.Length; o++)
        {
            Tensor t = outs[which[o]];
            if (t.Shape != shapes[which[o]]) ThrowHelper.GradCheckOutputShapeChanged(k, eps, shapes[which[o]], t.Shape);
            result[o] = Values(t);
        }
        return result;
    }

    /// <summary>
    /// analytical[j]: (input j's numel) x (output's numel), filled column by column: column e is the
    /// gradient of output element e (a one-hot grad output), zeros where an input is unused.
    /// </summary>
    private static double[][] Analytical(Tensor output, Tensor[] wrt, out bool sizesOk, out bool typesOk)
    {
        sizesOk = typesOk = true;
        int width = output.NumEl();
        var result = new double[wrt.Length][];
        for (int j = 0; j < wrt.Length; j++) result[j] = new double[wrt[j].NumEl() * width];
        var oneHot = new double[width];
        for (int e = 0; e < width; e++)
        {
            using AutogradScope row = Autograd.Scope();
            Array.Clear(oneHot);
            oneHot[e] = 1;
            Tensor u = Tensor.FromSpan<double>(oneHot, output.Shape.AsSpan());
            if (output.DType != DType.Float64) u = u.To(output.DType);
            Tensor?[] g = Autograd.Grad([output], wrt, [u], retainGraph: true, allowUnused: true);
            for (int j = 0; j < wrt.Length; j++)
            {
                if (g[j] is not { } gj) continue;
                if (gj.Shape != wrt[j].Shape)
                {
                    sizesOk = false;
                    continue;
                }
                if (gj.DType != wrt[j].DType) typesOk = false;
                double[] values = Values(gj);
                for (int k = 0; k < values.Length; k++) result[j][k * width + e] = values[k];
            }
        }
        return result;
    }

    /// <summary><c>torch.allclose(analytical, numerical, rtol, atol)</c>: NaN is never close.</summary>
    private static bool AllClose(double[] analytical, double[] numerical, double rtol, double atol)
    {
        for (int i = 0; i < analytical.Length; i++)
        {
            double a = analytical[i], n = numerical[i];
            if (a == n) continue; // equal infinities
            if (!(Math.Abs(a - n) <= atol + rtol * Math.Abs(n))) return false;
        }
        return true;
    }

    private static bool Fail(bool raiseException, string message)
    {
        if (raiseException) ThrowHelper.GradCheckFailed(message);
        return false;
    }

    /// <summary>A tensor's elements in row-major order, as doubles.</summary>
    internal static double[] Values(Tensor t) => t.DType switch
    {
        DType.Float64 => t.ToArray<double>(),
        DType.Float32 => Array.ConvertAll(t.ToArray<float>(), v => (double)v),
        DType.Int64 => Array.ConvertAll(t.ToArray<long>(), v => (double)v),
        _ => Array.ConvertAll(t.ToArray<bool>(), v => v ? 1.0 : 0.0),
    };
}
