using System.Text.Json;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// Second derivatives against PyTorch, recorded by tests/oracle/higher_order_fixtures.py into
/// Fixtures/higher_order.json. For each case: the first gradients g_i = ∂(out·u)/∂x_i computed with
/// <c>createGraph: true</c> (values, requires_grad and grad_fn), and the Hessian-vector product
/// ∂/∂x of s = Σ_i Σ (g_i ⊙ v_i) for the recorded directions v_i. <see cref="Graphs"/> rebuilds each
/// graph in C#, next to the Python it was recorded from.
/// </summary>
public class HigherOrderOracleTests
{
    private static readonly Lazy<IReadOnlyList<HigherOrderCase>> Cases = new(LoadCases);

    /// <summary>Graphs whose float64 case computes in float32 on the way (so float32's tolerance applies).</summary>
    private static readonly HashSet<string> ComputesInFloat32 = ["to_other_dtype_and_back"];

    public static TheoryData<string> CaseNames() => NamesWhere(_ => true);

    private static TheoryData<string> NamesWhere(Func<HigherOrderCase, bool> keep)
    {
        var data = new TheoryData<string>();
        foreach (HigherOrderCase c in Cases.Value.Where(keep)) data.Add(c.Name);
        return data;
    }

    // ---- the checks ----

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void OutputAndFirstGradients_MatchPyTorch(string name)
    {
        HigherOrderCase c = Case(name);
        Result r = Evaluate(c);
        Assert.Equal(c.Output.GradFn, r.OutputGradFn);
        AssertValues(c.Output.Data, r.Output, RelativeTolerance(c), $"{name}: output");
        Assert.True(r.FirstError is null, $"{name}: Autograd.Grad(createGraph: true) threw: {r.FirstError}");
        foreach ((string input, GradData expected) in c.Grads)
        {
            GradResult got = r.Grads[input];
            Assert.True(got.Data is not null, $"{name}: the gradient of {input} is null; PyTorch has one");
            Assert.True(expected.RequiresGrad == got.RequiresGrad,
                $"{name}: the gradient of {input} has RequiresGrad {got.RequiresGrad}, PyTorch {expected.RequiresGrad}");
            AssertValues(expected.Data, got.Data!, RelativeTolerance(c), $"{name}: ∂out/∂{input}");
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void FirstGradients_HavePyTorchsGradFn(string name)
    {
        HigherOrderCase c = Case(name);
        Result r = Evaluate(c);
        Assert.True(r.FirstError is null, $"{name}: Autograd.Grad(createGraph: true) threw: {r.FirstError}");
        string[] mismatches = c.Grads
            .Where(kv => kv.Value.GradFn != r.Grads[kv.Key].GradFn)
            .Select(kv => $"∂out/∂{kv.Key}: {r.Grads[kv.Key].GradFn ?? "null"}, PyTorch {kv.Value.GradFn ?? "null"}")
            .ToArray();
        Assert.True(mismatches.Length == 0, $"{name}: grad_fn differs from PyTorch's: {string.Join("; ", mismatches)}");
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void HessianVectorProducts_MatchPyTorch(string name) => AssertHessianVectorProducts(name);

    private static void AssertHessianVectorProducts(string name)
    {
        HigherOrderCase c = Case(name);
        Result r = Evaluate(c);
        Assert.True(r.FirstError is null, $"{name}: Autograd.Grad(createGraph: true) threw: {r.FirstError}");
        Assert.True(r.HvpError is null, $"{name}: the Hessian-vector product threw: {r.HvpError}");
        foreach ((string input, TensorData? expected) in c.Hvp)
        {
            TensorData? got = r.Hvp[input];
            if (expected is null)
            {
                Assert.True(got is null, $"{name}: ∂s/∂{input} should be null, as in PyTorch (the input does not reach s)");
                continue;
            }
            Assert.True(got is not null, $"{name}: ∂s/∂{input} is null (unused); PyTorch has a tensor");
            AssertValues(expected, got!, RelativeTolerance(c), $"{name}: ∂s/∂{input}");
        }
    }

    [Fact]
    public void Fixtures_AreLoaded_OneCasePerGraphAndDtype()
    {
        Assert.True(Cases.Value.Count >= 80, $"only {Cases.Value.Count} fixture cases");
        Assert.Equal(Cases.Value.Count, Cases.Value.Select(c => c.Name).Distinct().Count());
        foreach (IGrouping<string, HigherOrderCase> graph in Cases.Value.GroupBy(c => c.Graph))
        {
            DType[] dtypes = graph.Select(c => c.Output.Data.DType).OrderBy(d => d).ToArray();
            Assert.True(dtypes.SequenceEqual([DType.Float32, DType.Float64]), $"{graph.Key}: recorded in {string.Join(", ", dtypes)}");
        }
    }

    [Fact]
    public void EveryFixtureGraph_HasACSharpBuilder()
    {
        string[] missing = Cases.Value.Select(c => c.Graph).Distinct().Where(g => !Graphs.ContainsKey(g)).ToArray();
        Assert.True(missing.Length == 0, "fixture graphs without a C# builder: " + string.Join(", ", missing));
    }

    [Fact]
    public void EveryCSharpBuilder_IsInTheFixture()
    {
        var recorded = Cases.Value.Select(c => c.Graph).ToHashSet();
        string[] stale = Graphs.Keys.Where(g => !recorded.Contains(g)).ToArray();
        Assert.True(stale.Length == 0, "C# builders the fixture no longer has (re-run the oracle?): " + string.Join(", ", stale));
    }

    [Fact]
    public void ExceptionList_NamesOnlyFixtureGraphs()
    {
        var recorded = Cases.Value.Select(c => c.Graph).ToHashSet();
        string[] stale = ComputesInFloat32.Where(g => !recorded.Contains(g)).ToArray();
        Assert.True(stale.Length == 0, "the float32-tolerance list names graphs the fixture does not have: " + string.Join(", ", stale));
    }

    // ---- running one case ----

    private static HigherOrderCase Case(string name) => Cases.Value.Single(k => k.Name == name);

    private static double RelativeTolerance(HigherOrderCase c)
        => c.Output.Data.DType == DType.Float32 || ComputesInFloat32.Contains(c.Graph) ? 1e-5 : 1e-10;

    private sealed record GradResult(TensorData? Data, string? GradFn, bool RequiresGrad);

    /// <summary>What the library computed for one case, read out of the scope it ran in (errors as their messages).</summary>
    private sealed record Result(
        TensorData Output, string? OutputGradFn, string? FirstError, Dictionary<string, GradResult> Grads, string? HvpError, Dictionary<string, TensorData?> Hvp);

    private static Result Evaluate(HigherOrderCase c)
    {
        Assert.True(Graphs.TryGetValue(c.Graph, out Func<Inputs, Tensor>? build),
            $"No C# builder for graph '{c.Graph}' (PyTorch: {c.Python}); add it to HigherOrderOracleTests.Graphs.");
        using AutogradScope scope = Autograd.Scope();
        var inputs = new Inputs();
        foreach (InputSpec spec in c.Inputs) inputs.Add(spec.Name, spec.Data.ToTensor(spec.RequiresGrad));
        string[] names = c.Inputs.Where(i => i.RequiresGrad).Select(i => i.Name).ToArray();
        Tensor[] differentiated = names.Select(n => inputs[n]).ToArray();

        Tensor output = build!(inputs);
        var grads = new Dictionary<string, GradResult>();
        var hvp = new Dictionary<string, TensorData?>();
        Tensor?[] g;
        try
        {
            // g_i = ∂(out · u)/∂x_i, with a graph of its own
            g = Autograd.Grad([output], differentiated, [c.Gradient?.ToTensor(false)], createGraph: true);
        }
        catch (Exception e)
        {
            return new Result(TensorData.Of(output), output.GradFn, $"{e.GetType().Name}: {e.Message}", grads, null, hvp);
        }
        for (int i = 0; i < names.Length; i++)
            grads[names[i]] = g[i] is { } gi ? new GradResult(TensorData.Of(gi), gi.GradFn, gi.RequiresGrad) : new GradResult(null, null, false);

        string? hvpError = null;
        try
        {
            // s = Σ_i Σ (g_i ⊙ v_i); ∂s/∂x is the Hessian of out·u applied to v
            Tensor? s = null;
            for (int i = 0; i < names.Length; i++)
            {
                if (g[i] is not { } gi) continue;
                Tensor term = (gi * c.Directions[names[i]].ToTensor(false)).Sum();
                s = s is null ? term : s.Value + term;
            }
            Tensor?[] h = Autograd.Grad([s!.Value], differentiated, allowUnused: true);
            for (int i = 0; i < names.Length; i++) hvp[names[i]] = h[i] is { } hi ? TensorData.Of(hi) : null;
        }
        catch (Exception e)
        {
            hvpError = $"{e.GetType().Name}: {e.Message}";
        }
        return new Result(TensorData.Of(output), output.GradFn, null, grads, hvpError, hvp);
    }

    /// <summary>
    /// Relative tolerance, with an absolute floor scaled by the largest expected magnitude (as
    /// OracleGradientTests does), so that entries produced by cancellation do not demand more than the
    /// dtype can give.
    /// </summary>
    internal static void AssertValues(TensorData expected, TensorData actual, double rtol, string what)
    {
        Assert.True(expected.DType == actual.DType, $"{what}: dtype {actual.DType}, PyTorch {expected.DType}");
        Assert.True(expected.Shape.AsSpan().SequenceEqual(actual.Shape),
            $"{what}: shape {new Size(actual.Shape)}, PyTorch {new Size(expected.Shape)}");
        double scale = expected.Values.Length == 0 ? 0 : expected.Values.Max(Math.Abs);
        for (int i = 0; i < actual.Values.Length; i++)
        {
            double e = expected.Values[i], got = actual.Values[i];
            double tolerance = rtol * Math.Max(Math.Abs(e), 0.1 * scale) + 1e-300;
            if (Math.Abs(got - e) <= tolerance) continue;
            Assert.Fail(
                $"{what}[{i}]: got {got:R}, PyTorch {e:R} (|diff| {Math.Abs(got - e):E3} > {tolerance:E3})\n" +
                $"  got      [{string.Join(", ", actual.Values.Select(v => v.ToString("G9")))}]\n" +
                $"  expected [{string.Join(", ", expected.Values.Select(v => v.ToString("G9")))}]");
        }
    }

    // ---- the graphs, each beside the PyTorch code it was recorded from ----

    private static DType Other(DType d) => d == DType.Float32 ? DType.Float64 : DType.Float32;

    private static readonly Dictionary<string, Func<Inputs, Tensor>> Graphs = new()
    {
        // ---- unary ----
        ["pow_5"] = v => v.X.Pow(5),                                  // x ** 5
        ["pow_2"] = v => v.X.Pow(2),                                  // x ** 2
        ["pow_3"] = v => v.X.Pow(3),                                  // x ** 3
        ["pow_2_5"] = v => v.X.Pow(2.5),                              // x ** 2.5
        ["pow_half"] = v => v.X.Pow(0.5),                             // x ** 0.5
        ["pow_neg2"] = v => v.X.Pow(-2),                              // x ** -2
        ["reciprocal"] = v => v.X.Reciprocal(),                       // x.reciprocal()
        ["exp"] = v => v.X.Exp(),                                     // x.exp()
        ["exp_0d"] = v => v.X.Exp() * v.X,                            // x.exp() * x        x: ()
        ["log"] = v => v.X.Log(),                                     // x.log()
        ["tanh"] = v => v.X.Tanh(),                                   // x.tanh()
        ["sigmoid"] = v => v.X.Sigmoid(),                             // x.sigmoid()
        ["relu"] = v => v.X.Relu(),                                   // x.relu()
        ["relu_times_x"] = v => v.X.Relu() * v.X,                     // x.relu() * x
        ["neg_exp"] = v => (-v.X).Exp() * v.Y,                        // (-x).exp() * y

        // ---- binary, scalars, broadcasting ----
        ["mul"] = v => v.X * v.Y,                                     // x * y
        ["mul_same_leaf"] = v => v.X * v.X * v.Y,                     // x * x * y
        ["div"] = v => v.X / v.Y,                                     // x / y
        ["div_broadcast"] = v => v.X / v.Y,                           // x / y              (2,3)/(2,1)
        ["mul_broadcast_row"] = v => (v.X * v.Y).Tanh(),              // (x * y).tanh()     (2,3)*(3)
        ["add_broadcast_cube"] = v => (v.X + v.B).Pow(3).Sum(),       // ((x + b) ** 3).sum()   (2,3)+(3)
        ["sub_0d_square"] = v => (v.X - v.Y).Pow(2),                  // (x - y) ** 2       (2,3)-()
        ["scalar_chain"] = v => ((v.X - 1.5) * 2.5 / 0.7 + 0.25).Pow(3), // ((x - 1.5) * 2.5 / 0.7 + 0.25) ** 3
        ["rsub_rdiv"] = v => (2 - v.X) * (3 / v.Y),                   // (2 - x) * (3 / y)

        // ---- reductions ----
        ["sum_squared"] = v => v.X.Sum().Pow(2),                      // x.sum() ** 2
        ["mean_cube"] = v => v.X.Pow(3).Mean(),                       // (x ** 3).mean()
        ["mean_times_x"] = v => v.X.Mean() * v.X,                     // x.mean() * x
        ["norm"] = v => v.X.Norm(),                                   // x.norm()
        ["normalize"] = v => v.X / v.X.Norm(),                        // x / x.norm()
        ["variance"] = v => (v.X - v.X.Mean()).Pow(2).Mean(),         // ((x - x.mean()) ** 2).mean()

        // ---- dot, mm, mv, matmul ----
        ["dot_tanh"] = v => Tensor.Dot(v.X, v.Y).Tanh(),              // torch.dot(x, y).tanh()
        ["mm_square_half"] = v => v.X.Mm(v.W).Pow(2).Sum() / 2,       // (x.mm(w) ** 2).sum() / 2
        ["mm_tanh"] = v => v.X.Mm(v.W).Tanh(),                        // x.mm(w).tanh()
        ["mm_constant_weight"] = v => v.X.Mm(v.W).Sigmoid(),          // x.mm(w).sigmoid()  w without grad
        ["mv_sigmoid"] = v => Tensor.Mv(v.X, v.Y).Sigmoid(),          // torch.mv(x, y).sigmoid()
        ["matmul_1d_2d_exp"] = v => Tensor.MatMul(v.X, v.W).Exp(),    // torch.matmul(x, w).exp()
        // ((x.mm(w1) + b1).tanh().mm(w2) + b2).pow(2).mean()          x without grad
        ["mlp"] = v => ((v.X.Mm(v["w1"]) + v["b1"]).Tanh().Mm(v["w2"]) + v["b2"]).Pow(2).Mean(),

        // ---- views ----
        ["transpose_mul_exp"] = v => (v.X.T() * v.Y).Exp(),           // (x.t() * y).exp()
        ["transpose_dims_cube"] = v => v.X.Transpose(0, 1).Pow(3),    // x.transpose(0, 1) ** 3
        ["select_rows"] = v => v.X[1] * v.X[0].Exp(),                 // x[1] * x[0].exp()
        ["select_dim1_square"] = v => v.X.Select(1, 2).Pow(2) * v.Y,  // x.select(1, 2) ** 2 * y
        ["slice_step_cube"] = v => v.X.Slice(1, 0, 4, 2).Pow(3),      // x[:, 0:4:2] ** 3
        // (x.unsqueeze(0).expand(3, 3) * y).tanh()
        ["unsqueeze_expand_tanh"] = v => (v.X.Unsqueeze(0).Expand(3, 3) * v.Y).Tanh(),
        ["expand_square"] = v => (v.X.Expand(3, 2) * v.Y).Pow(2),     // (x.expand(3, 2) * y) ** 2
        ["view_chain"] = v => (v.X.T()[1].Unsqueeze(0) * v.Y).Sigmoid(), // (x.t()[1].unsqueeze(0) * y).sigmoid()

        // ---- copies and dtype conversion ----
        ["clone_times_exp"] = v => v.X.Clone() * v.X.Exp(),           // x.clone() * x.exp()
        // (x.to(other) ** 3).to(dtype) * y                             other: the other floating dtype
        ["to_other_dtype_and_back"] = v => v.X.To(Other(v.X.DType)).Pow(3).To(v.X.DType) * v.Y,
        ["contiguous_of_transposed"] = v => v.X.T().Contiguous().Tanh(), // x.t().contiguous().tanh()
        ["copy_into_zeros"] = v =>
        {
            Tensor y = Tensor.Zeros(2, 3, v.X.DType);                 // out = torch.zeros(2, 3, dtype=x.dtype)
            y.Copy_(v.X.Exp());                                       // out.copy_(x.exp())
            return y * v.Y;                                           // out = out * y
        },

        // ---- index assignment (CopySlices) ----
        ["copyslices_powers"] = v =>
        {
            Tensor y = Tensor.Zeros(3, 1, v.X.DType);                 // out = torch.zeros(3, 1, dtype=x.dtype)
            y[0] = v.X.Pow(3);                                        // out[0] = x ** 3
            y[1] = v.X.Pow(2);                                        // out[1] = x ** 2
            return y;
        },
        ["copyslices_into_nonleaf_square"] = v =>
        {
            Tensor y = v.X * 2;                                       // out = x * 2
            y[1] = v.Z.Exp();                                         // out[1] = z.exp()
            return y.Pow(2);                                          // out = out ** 2
        },
        ["copyslices_slice_times_x"] = v =>
        {
            Tensor y = v.X.Pow(2);                                    // out = x ** 2
            y[1..3] = v.Z.Tanh();                                     // out[1:3] = z.tanh()
            return y * v.X;                                           // out = out * x
        },

        // ---- where ----
        ["where"] = v => Tensor.Where(v.X > 0, v.X.Pow(3), v.Y.Exp()), // torch.where(x > 0, x ** 3, y.exp())
        // torch.where(y > 0, x.sigmoid(), y ** 2)                      x: (3), y: (2, 3)
        ["where_broadcast"] = v => Tensor.Where(v.Y > 0, v.X.Sigmoid(), v.Y.Pow(2)),

        // ---- composites: fan-out, loops ----
        ["fanout"] = v => v.X.Exp() * v.X.Tanh() + v.X / v.Y,         // x.exp() * x.tanh() + x / y
        ["softplus"] = v => (v.X.Exp() + 1).Log(),                    // (x.exp() + 1).log()
        ["loop_mm_tanh"] = v =>
        {
            Tensor h = v.X;                                           // h = x
            for (int i = 0; i < 3; i++) h = h.Mm(v.W).Tanh();         // for _ in range(3): h = h.mm(w).tanh()
            return h.Sum();                                           // out = h.sum()
        },
    };

    // ---- fixture model ----

    private sealed record GradData(string? GradFn, bool RequiresGrad, TensorData Data);

    private sealed record HigherOrderCase(
        string Name, string Graph, string Python, InputSpec[] Inputs, OutputSpec Output, TensorData? Gradient,
        Dictionary<string, GradData> Grads, Dictionary<string, TensorData> Directions, Dictionary<string, TensorData?> Hvp);

    private static IReadOnlyList<HigherOrderCase> LoadCases()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "higher_order.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        var cases = new List<HigherOrderCase>();
        foreach (JsonElement e in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            InputSpec[] inputs = InputSpec.ReadAll(e.GetProperty("inputs"));
            JsonElement output = e.GetProperty("output");
            JsonElement gradient = e.GetProperty("gradient");
            var grads = e.GetProperty("grads").EnumerateObject().ToDictionary(
                g => g.Name,
                g => new GradData(g.Value.GetProperty("grad_fn").GetString(), g.Value.GetProperty("requires_grad").GetBoolean(), TensorData.Read(g.Value)));
            var directions = e.GetProperty("directions").EnumerateObject().ToDictionary(d => d.Name, d => TensorData.Read(d.Value));
            var hvp = e.GetProperty("hvp").EnumerateObject().ToDictionary(
                h => h.Name, h => TensorData.ReadOrNull(h.Value));
            cases.Add(new HigherOrderCase(
                e.GetProperty("name").GetString()!,
                e.GetProperty("graph").GetString()!,
                e.GetProperty("python").GetString()!,
                inputs,
                OutputSpec.Read(output),
                TensorData.ReadOrNull(gradient),
                grads, directions, hvp));
        }
        return cases;
    }
}
