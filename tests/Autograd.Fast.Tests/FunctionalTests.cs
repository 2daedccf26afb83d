using System.Text.Json;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// The functional transforms (torch.autograd.functional): against closed forms, against PyTorch's
/// results recorded by tests/oracle/functional_fixtures.py into Fixtures/functional.json (8 functions,
/// 5 layouts of x, float32 and float64), PyTorch's semantics (detached results, createGraph) and error texts.
/// </summary>
public class FunctionalTests
{
    // ---- closed forms ----

    private static readonly double[] X = [0.5, -1.25, 2.0];

    private static double[] Values(Tensor t) => t.ToArray<double>();

    [Fact]
    public void Jacobian_OfSquare_IsDiag2x()
    {
        Tensor x = Tensor.From(X);
        Tensor j = Functional.Jacobian(t => t * t, x);
        Assert.Equal(new Size(3, 3), j.Shape);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) Assert.Equal(r == c ? 2 * X[r] : 0, j[r, c].Item(), 15);
    }

    [Fact]
    public void Jacobian_HasTheOutputsShapeThenTheInputs()
    {
        // f: (2, 2) -> (2, 2) elementwise: J[i, j, k, l] = 3x[i, j]² when (i, j) == (k, l)
        Tensor x = Tensor.From(new[,] { { 0.5, -1.0 }, { 1.5, 2.0 } });
        Tensor j = Functional.Jacobian(t => t.Pow(3), x);
        Assert.Equal(new Size(2, 2, 2, 2), j.Shape);
        double[] got = Values(j), xs = Values(x);
        for (int o = 0; o < 4; o++)
            for (int i = 0; i < 4; i++) Assert.Equal(o == i ? 3 * xs[i] * xs[i] : 0, got[o * 4 + i], 14);
        // a 0-d output: J is shaped as x
        Tensor g = Functional.Jacobian(t => t.Pow(2).Sum(), x);
        Assert.Equal(x.Shape, g.Shape);
        Assert.Equal(xs.Select(v => 2 * v), Values(g));
    }

    [Fact]
    public void Jacobian_OfSeveralInputsAndOutputs()
    {
        Tensor a = Tensor.From(X), b = Tensor.From(new[] { 0.3, 0.9, -0.7 });
        Tensor[][] j = Functional.Jacobian(t => [t[0] * t[1], t[0].Exp().Sum() + t[1].Sum()], [a, b]);
        Assert.Equal(2, j.Length);
        Assert.All(j, row => Assert.Equal(2, row.Length));
        double[] av = Values(a), bv = Values(b);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(r == c ? bv[r] : 0, j[0][0][r, c].Item(), 15); // ∂(a·b)/∂a = diag(b)
                Assert.Equal(r == c ? av[r] : 0, j[0][1][r, c].Item(), 15); // ∂(a·b)/∂b = diag(a)
            }
        Assert.Equal(av.Select(Math.Exp), Values(j[1][0]), (p, q) => Math.Abs(p - q) < 1e-14);
        Assert.Equal([1.0, 1.0, 1.0], Values(j[1][1]));
    }

    [Fact]
    public void Jacobian_OfAnOutputThatDoesNotDependOnX_IsZeros()
    {
        Tensor x = Tensor.From(X);
        Tensor j = Functional.Jacobian(t => t.Detach() * 2, x);
        Assert.Equal(new Size(3, 3), j.Shape);
        Assert.All(Values(j), v => Assert.Equal(0.0, v));
        Tensor[][] k = Functional.Jacobian(t => [t[0] * 2, t[0] * t[0]], [x, Tensor.From(1.0)]);
        Assert.Equal(new Size(3), k[0][1].Shape); // ∂out/∂(unused 0-d input): zeros shaped out.shape ++ []
        Assert.All(Values(k[0][1]), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void Hessian_OfCubeSum_IsDiag6x()
    {
        Tensor x = Tensor.From(X);
        Tensor h = Functional.Hessian(t => t.Pow(3).Sum(), x);
        Assert.Equal(new Size(3, 3), h.Shape);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) Assert.Equal(r == c ? 6 * X[r] : 0, h[r, c].Item(), 13);
    }

    [Fact]
    public void Hessian_OfAMixedFunction_IsSymmetricAndMatchesTheClosedForm()
    {
        // f = x0²·x1 + x0·x1·x2 + x2³: H = [[2x1, 2x0 + x2, x1], [2x0 + x2, 0, x0], [x1, x0, 6x2]]
        Tensor x = Tensor.From(X);
        Tensor h = Functional.Hessian(t => t[0] * t[0] * t[1] + t[0] * t[1] * t[2] + t[2].Pow(3), x);
        double x0 = X[0], x1 = X[1], x2 = X[2];
        double[,] expected = { { 2 * x1, 2 * x0 + x2, x1 }, { 2 * x0 + x2, 0, x0 }, { x1, x0, 6 * x2 } };
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) Assert.Equal(expected[r, c], h[r, c].Item(), 13);
    }

    private static readonly double[,] A = { { 1.0, 2.0, -0.5 }, { 0.0, 3.0, 1.5 }, { -2.0, 0.25, 4.0 } };
    private static readonly double[] V = [0.7, -0.2, 1.1];

    private static double[] SymmetrizedTimesV()
    {
        var r = new double[3];
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++) r[i] += (A[i, k] + A[k, i]) * V[k];
        return r;
    }

    [Fact]
    public void Hvp_AndVhp_OfAQuadratic_Are_AplusATranspose_v()
    {
        Tensor a = Tensor.From(A);
        Func<Tensor, Tensor> quadratic = t => Tensor.Dot(t, Tensor.Mv(a, t));
        Tensor x = Tensor.From(X), v = Tensor.From(V);
        var (output, hvp) = Functional.Hvp(quadratic, x, v);
        var (output2, vhp) = Functional.Vhp(quadratic, x, v);
        double[] expected = SymmetrizedTimesV();
        Assert.Equal(expected, Values(hvp), (p, q) => Math.Abs(p - q) < 1e-13);
        Assert.Equal(expected, Values(vhp), (p, q) => Math.Abs(p - q) < 1e-13);
        double xAx = 0;
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++) xAx += X[i] * A[i, k] * X[k];
        Assert.Equal(xAx, output.Item(), 13);
        Assert.Equal(xAx, output2.Item(), 13);
    }

    [Fact]
    public void Jvp_OfExp_IsExpTimesV_AndVjp_OfSquare_Is2xv()
    {
        Tensor x = Tensor.From(X), v = Tensor.From(V);
        var (y, jvp) = Functional.Jvp(t => t.Exp(), x, v);
        Assert.Equal(X.Select(Math.Exp), Values(y), (p, q) => Math.Abs(p - q) < 1e-15);
        Assert.Equal(X.Select((xi, i) => Math.Exp(xi) * V[i]), Values(jvp), (p, q) => Math.Abs(p - q) < 1e-14);
        var (sq, vjp) = Functional.Vjp(t => t * t, x, v);
        Assert.Equal(X.Select(xi => xi * xi), Values(sq));
        Assert.Equal(X.Select((xi, i) => 2 * xi * V[i]), Values(vjp));
        var (s, g) = Functional.Vjp(t => t.Pow(2).Sum(), x); // one element: v may be left out
        Assert.Equal(X.Sum(xi => xi * xi), s.Item(), 14);
        Assert.Equal(X.Select(xi => 2 * xi), Values(g));
    }

    // ---- PyTorch's semantics ----

    [Fact]
    public void Results_AreDetached_AndTheCallersTensorIsUntouched()
    {
        Tensor x = Tensor.From(X, requiresGrad: true), v = Tensor.From(V);
        Tensor[] results =
        [
            Functional.Jacobian(t => t.Exp(), x), Functional.Hessian(t => t.Pow(3).Sum(), x),
            Functional.Vjp(t => t.Exp(), x, v).Output, Functional.Vjp(t => t.Exp(), x, v).Vjp,
            Functional.Jvp(t => t.Exp(), x, v).Output, Functional.Jvp(t => t.Exp(), x, v).Jvp,
            Functional.Hvp(t => t.Pow(3).Sum(), x, v).Output, Functional.Hvp(t => t.Pow(3).Sum(), x, v).Hvp,
            Functional.Vhp(t => t.Pow(3).Sum(), x, v).Output, Functional.Vhp(t => t.Pow(3).Sum(), x, v).Vhp,
        ];
        Assert.All(results, r => Assert.False(r.RequiresGrad));
        Assert.All(results, r => Assert.Null(r.GradFn));
        Assert.Null(x.Grad);
        Assert.Equal(X, Values(x));
        // the caller's x need not require grad, and f sees a tensor that does
        bool sawGrad = false;
        _ = Functional.Jacobian(t => { sawGrad = t.RequiresGrad; return t * 2; }, Tensor.From(X));
        Assert.True(sawGrad);
    }

    [Fact]
    public void CreateGraph_KeepsTheGraphBackToX()
    {
        double[] xs = [0.5, -1.25, 2.0];
        Tensor x = Tensor.From(xs, requiresGrad: true), v = Tensor.From(V);

        // J of x³ is diag(3x²); the sum of J differentiates to 6x
        Tensor j = Functional.Jacobian(t => t.Pow(3), x, createGraph: true);
        Assert.True(j.RequiresGrad);
        Assert.Equal(xs.Select(a => 6 * a), Values(Autograd.Grad(j.Sum(), x)!.Value), (p, q) => Math.Abs(p - q) < 1e-13);

        // H of Σx⁴ is diag(12x²); its sum differentiates to 24x
        Tensor h = Functional.Hessian(t => t.Pow(4).Sum(), x, createGraph: true);
        Assert.True(h.RequiresGrad);
        Assert.Equal(xs.Select(a => 24 * a), Values(Autograd.Grad(h.Sum(), x)!.Value), (p, q) => Math.Abs(p - q) < 1e-12);

        // Hv and vH of Σx⁴: 12x²v; d/dx Σ(12x²v) = 24xv
        foreach (Tensor product in new[] { Functional.Hvp(t => t.Pow(4).Sum(), x, v, createGraph: true).Hvp,
                     Functional.Vhp(t => t.Pow(4).Sum(), x, v, createGraph: true).Vhp })
        {
            Assert.Equal(xs.Select((a, i) => 12 * a * a * V[i]), Values(product), (p, q) => Math.Abs(p - q) < 1e-12);
            Assert.Equal(xs.Select((a, i) => 24 * a * V[i]), Values(Autograd.Grad(product.Sum(), x)!.Value), (p, q) => Math.Abs(p - q) < 1e-12);
        }

        // Jv of x³ is 3x²v, vᵀJ too; both differentiate to 6xv; the output keeps its graph as well
        var (y, jvp) = Functional.Jvp(t => t.Pow(3), x, v, createGraph: true);
        var (y2, vjp) = Functional.Vjp(t => t.Pow(3), x, v, createGraph: true);
        Assert.True(y.RequiresGrad && y2.RequiresGrad);
        foreach (Tensor product in new[] { jvp, vjp })
            Assert.Equal(xs.Select((a, i) => 6 * a * V[i]), Values(Autograd.Grad(product.Sum(), x)!.Value), (p, q) => Math.Abs(p - q) < 1e-13);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void PlainTransforms_ReleaseWhatTheyRecord()
    {
        using AutogradScope scope = Autograd.Scope();
        Tensor x = Tensor.From(X), v = Tensor.From(V);
        Func<Tensor, Tensor> f = t => (t.Tanh() * t.Exp()).Sum();
        void All()
        {
            _ = Functional.Jacobian(f, x);
            _ = Functional.Hessian(f, x);
            _ = Functional.Vjp(f, x);
            _ = Functional.Jvp(f, x, v);
            _ = Functional.Hvp(f, x, v);
            _ = Functional.Vhp(f, x, v);
        }
        All();
        int live = Autograd.PoolStatistics().LiveTensors;
        using (Autograd.Scope())
        {
            for (int i = 0; i < 3; i++) All();
            // each call leaves only its results: 1 + 1 + 2 * 4 per round
            Assert.Equal(live + 3 * 10, Autograd.PoolStatistics().LiveTensors);
        }
        Assert.Equal(live, Autograd.PoolStatistics().LiveTensors);
    }

    // ---- error paths, in PyTorch's words ----

    private static string Error(string scenario) => Fixture.Value.Errors[scenario];

    [Fact]
    public void WrongVShape_IsPyTorchsError()
    {
        Tensor x3 = Tensor.Ones(3, DType.Float64), v2 = Tensor.Ones(2, DType.Float64);
        Assert.Equal(Error("vjp_v_size"), Assert.Throws<ArgumentException>(() => Functional.Vjp(t => t * 2, x3, v2)).Message);
        Assert.Equal(Error("jvp_v_size"), Assert.Throws<ArgumentException>(() => Functional.Jvp(t => t * 2, x3, v2)).Message);
        Assert.Equal(Error("hvp_v_size"), Assert.Throws<ArgumentException>(() => Functional.Hvp(t => (t * t).Sum(), x3, v2)).Message);
        Assert.Equal(Error("vhp_v_size"), Assert.Throws<ArgumentException>(() => Functional.Vhp(t => (t * t).Sum(), x3, v2)).Message);
        Assert.Equal(Error("vjp_without_v"), Assert.Throws<ArgumentException>(() => Functional.Vjp(t => t * 2, x3)).Message);
    }

    [Fact]
    public void NonScalarOutput_OfHessianHvpVhp_IsPyTorchsError()
    {
        Tensor x3 = Tensor.Ones(3, DType.Float64);
        Assert.StartsWith(Error("hessian_not_single"), Assert.Throws<ArgumentException>(() => Functional.Hessian(t => t * t, x3)).Message,
            StringComparison.Ordinal);
        Assert.StartsWith(Error("hvp_not_single"), Assert.Throws<ArgumentException>(() => Functional.Hvp(t => t * t, x3, x3)).Message,
            StringComparison.Ordinal);
        Assert.StartsWith(Error("vhp_not_single"), Assert.Throws<ArgumentException>(() => Functional.Vhp(t => t * t, x3, x3)).Message,
            StringComparison.Ordinal);
        // and the library works on afterwards
        Assert.Equal(new Size(3, 3), Functional.Hessian(t => (t * t).Sum(), x3).Shape);
    }

    // ---- against PyTorch ----

    /// <summary>Each fixture function beside the PyTorch expression it was recorded from.</summary>
    private static readonly Dictionary<string, Func<Tensor, Tensor>> Functions = new()
    {
        ["square"] = x => x * x,                                   // x * x
        ["exp_mul"] = x => x.Exp() * x,                            // x.exp() * x
        ["tanh_times_sum"] = x => x.Tanh() * x.Sum(),              // x.tanh() * x.sum()
        ["normalize"] = x => x / x.Norm(),                         // x / x.norm()
        ["cube_sum"] = x => x.Pow(3).Sum(),                        // (x ** 3).sum()
        ["log_sum_exp"] = x => x.Exp().Sum().Log(),                // x.exp().sum().log()
        ["norm_times_mean"] = x => x.Norm() * x.Mean(),            // x.norm() * x.mean()
        ["sigmoid_dot"] = x => (x.Sigmoid() * x).Sum(),            // (x.sigmoid() * x).sum()
    };

    /// <summary>x from its base, as the oracle's LAYOUTS make it.</summary>
    private static Tensor Layout(string layout, Tensor b) => layout switch
    {
        "contiguous" or "vector" or "zero_d" => b,
        "transposed" => b.T(),
        "slice" => b.Slice(1, 0, 5, 2),
        _ => throw new InvalidDataException($"unknown layout {layout}"),
    };

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (FunctionalCase c in Fixture.Value.Cases) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Transforms_MatchPyTorch(string name)
    {
        FunctionalCase c = Fixture.Value.Cases.Single(k => k.Name == name);
        Assert.True(Functions.TryGetValue(c.Function, out Func<Tensor, Tensor>? f), $"no C# function for '{c.Function}' ({c.Python})");
        using AutogradScope scope = Autograd.Scope();
        Tensor x = Layout(c.Layout, c.Base.ToTensor(requiresGrad: false));
        Assert.Equal(c.Layout is "transposed" or "slice", !x.Contiguous().Equals(x));
        AssertValues(c.X, TensorData.Of(x), 0, $"{name}: x");
        Tensor u = c.U.ToTensor(false), v = c.V.ToTensor(false);
        double rtol = c.X.DType == DType.Float32 ? 1e-5 : 1e-10;

        AssertValues(c.Jacobian, TensorData.Of(Functional.Jacobian(f!, x)), rtol, $"{name}: jacobian");
        var (output, vjp) = Functional.Vjp(f!, x, u);
        AssertValues(c.Output, TensorData.Of(output), rtol, $"{name}: output");
        AssertValues(c.Vjp, TensorData.Of(vjp), rtol, $"{name}: vjp");
        var (output2, jvp) = Functional.Jvp(f!, x, v);
        AssertValues(c.Output, TensorData.Of(output2), rtol, $"{name}: jvp's output");
        AssertValues(c.Jvp, TensorData.Of(jvp), rtol, $"{name}: jvp");
        if (c.Hessian is null)
        {
            Assert.True(c.Output.Values.Length != 1, $"{name}: a one-element output without a recorded Hessian");
            return;
        }
        AssertValues(c.Hessian, TensorData.Of(Functional.Hessian(f!, x)), rtol, $"{name}: hessian");
        AssertValues(c.Hvp!, TensorData.Of(Functional.Hvp(f!, x, v).Hvp), rtol, $"{name}: hvp");
        AssertValues(c.Vhp!, TensorData.Of(Functional.Vhp(f!, x, v).Vhp), rtol, $"{name}: vhp");
    }

    [Fact]
    public void Fixture_HasEveryFunctionInEveryLayoutAndDtype()
    {
        IReadOnlyList<FunctionalCase> cases = Fixture.Value.Cases;
        Assert.Equal(80, cases.Count);
        Assert.Equal(cases.Count, cases.Select(c => c.Name).Distinct().Count());
        Assert.Equal(Functions.Keys.Order(), cases.Select(c => c.Function).Distinct().Order());
        foreach (IGrouping<string, FunctionalCase> fn in cases.GroupBy(c => c.Function))
            Assert.Equal(10, fn.Select(c => (c.Layout, c.X.DType)).Distinct().Count());
        Assert.Contains(cases, c => c.Hessian is not null && c.Layout == "transposed");
        Assert.Contains(cases, c => c.Hessian is not null && c.Layout == "zero_d" && c.X.DType == DType.Float32);
    }

    /// <summary>
    /// As HigherOrderOracleTests: relative, with an absolute floor of 0.1 of the largest expected
    /// magnitude, and at least 0.1 (times rtol): an entry that is 0 in exact arithmetic (normalize of a
    /// 0-d x) is rounding noise of either library's order of operations.
    /// </summary>
    private static void AssertValues(TensorData expected, TensorData actual, double rtol, string what)
    {
        Assert.True(expected.DType == actual.DType, $"{what}: dtype {actual.DType}, PyTorch {expected.DType}");
        Assert.True(expected.Shape.AsSpan().SequenceEqual(actual.Shape), $"{what}: shape {new Size(actual.Shape)}, PyTorch {new Size(expected.Shape)}");
        double scale = expected.Values.Length == 0 ? 0 : expected.Values.Max(Math.Abs);
        for (int i = 0; i < actual.Values.Length; i++)
        {
            double e = expected.Values[i], got = actual.Values[i];
            double tolerance = rtol * Math.Max(Math.Abs(e), Math.Max(0.1 * scale, 0.1)) + 1e-300;
            if (Math.Abs(got - e) <= tolerance) continue;
            Assert.Fail($"{what}[{i}]: got {got:R}, PyTorch {e:R} (|diff| {Math.Abs(got - e):E3} > {tolerance:E3})\n" +
                $"  got      [{string.Join(", ", actual.Values.Select(p => p.ToString("G9")))}]\n" +
                $"  expected [{string.Join(", ", expected.Values.Select(p => p.ToString("G9")))}]");
        }
    }

    // ---- fixture model ----

    private sealed record FunctionalCase(
        string Name, string Function, string Python, string Layout, TensorData Base, TensorData X, TensorData U, TensorData V,
        TensorData Output, TensorData Jacobian, TensorData Vjp, TensorData Jvp, TensorData? Hessian, TensorData? Hvp, TensorData? Vhp);

    private sealed record FixtureData(IReadOnlyList<FunctionalCase> Cases, Dictionary<string, string> Errors);

    private static readonly Lazy<FixtureData> Fixture = new(Load);

    private static FixtureData Load()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "functional.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        var cases = new List<FunctionalCase>();
        foreach (JsonElement e in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            TensorData T(string key) => TensorData.Read(e.GetProperty(key));
            TensorData? Maybe(string key) => TensorData.ReadOrNull(e.GetProperty(key));
            cases.Add(new FunctionalCase(
                e.GetProperty("name").GetString()!, e.GetProperty("function").GetString()!, e.GetProperty("python").GetString()!,
                e.GetProperty("layout").GetString()!, T("base"), T("x"), T("u"), T("v"), T("output"), T("jacobian"), T("vjp"), T("jvp"),
                Maybe("hessian"), Maybe("hvp"), Maybe("vhp")));
        }
        var errors = doc.RootElement.GetProperty("errors").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        return new FixtureData(cases, errors);
    }
}
