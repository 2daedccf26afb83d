using System.Text.Json;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// Forward values, grad_fn names and leaf gradients against PyTorch, recorded by
/// tests/oracle/gradient_fixtures.py into Fixtures/gradients.json. Each fixture case names a
/// graph; <see cref="Graphs"/> rebuilds that graph in C#, next to the Python it was recorded from.
/// </summary>
public class OracleGradientTests
{
    private static readonly Lazy<IReadOnlyList<GradientCase>> Cases = new(LoadCases);

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (GradientCase c in Cases.Value) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Gradients_MatchPyTorch(string name)
    {
        GradientCase c = Cases.Value.Single(k => k.Name == name);
        Assert.True(Graphs.TryGetValue(c.Graph, out Func<Inputs, Tensor>? build),
            $"No C# builder for graph '{c.Graph}' (PyTorch: {c.Python}); add it to OracleGradientTests.Graphs.");
        // Float32 anywhere in the case bounds the precision of everything downstream.
        bool anyFloat32 = c.Output.Data.DType == DType.Float32 || c.Inputs.Any(i => i.Data.DType == DType.Float32);
        double rtol = anyFloat32 ? 1e-5 : 1e-12;

        using AutogradScope scope = Autograd.Scope();
        var inputs = new Inputs();
        foreach (InputSpec spec in c.Inputs) inputs.Add(spec.Name, spec.Data.ToTensor(spec.RequiresGrad));

        Tensor output = build!(inputs);

        Assert.Equal(c.Output.GradFn, output.GradFn);
        AssertTensor(c.Output.Data, output, rtol, $"{name}: output");

        Tensor? gradient = c.Gradient?.ToTensor(false);
        output.Backward(gradient);

        foreach (InputSpec spec in c.Inputs)
        {
            Tensor? grad = inputs[spec.Name].Grad;
            if (!c.Grads.TryGetValue(spec.Name, out TensorData? expected) || expected is null)
            {
                Assert.True(grad is null, $"{name}: {spec.Name}.Grad should be null, as in PyTorch");
                continue;
            }
            Assert.True(grad is not null, $"{name}: {spec.Name}.Grad is null; PyTorch has one");
            AssertTensor(expected, grad!.Value, rtol, $"{name}: {spec.Name}.Grad");
        }
    }

    [Fact]
    public void Fixtures_AreLoaded()
    {
        Assert.True(Cases.Value.Count >= 80, $"only {Cases.Value.Count} fixture cases");
        Assert.Equal(Cases.Value.Count, Cases.Value.Select(c => c.Name).Distinct().Count());
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

    /// <summary>
    /// Relative tolerance, with an absolute floor scaled by the largest expected magnitude so that
    /// entries produced by cancellation (a sum of products near 0) do not demand more than the
    /// dtype can give.
    /// </summary>
    private static void AssertTensor(TensorData expected, Tensor actual, double rtol, string what)
    {
        Assert.True(expected.DType == actual.DType, $"{what}: dtype {actual.DType}, PyTorch {expected.DType}");
        Assert.True(expected.Shape.AsSpan().SequenceEqual(actual.Shape.AsSpan()),
            $"{what}: shape {actual.Shape}, PyTorch {new Size(expected.Shape)}");
        double[] got = actual.DType == DType.Float32 ? Array.ConvertAll(actual.ToArray<float>(), v => (double)v) : actual.ToArray<double>();
        double scale = expected.Values.Length == 0 ? 0 : expected.Values.Max(Math.Abs);
        for (int i = 0; i < got.Length; i++)
        {
            double e = expected.Values[i];
            double tolerance = rtol * Math.Max(Math.Abs(e), 0.1 * scale) + 1e-300;
            Assert.True(Math.Abs(got[i] - e) <= tolerance,
                $"{what}[{i}]: got {got[i]:R}, PyTorch {e:R} (|diff| {Math.Abs(got[i] - e):E3} > {tolerance:E3})\n" +
                $"  got      [{string.Join(", ", got.Select(v => v.ToString("G9")))}]\n" +
                $"  expected [{string.Join(", ", expected.Values.Select(v => v.ToString("G9")))}]");
        }
    }

    // ---- the graphs, each beside the PyTorch code it was recorded from ----

    private static readonly Dictionary<string, Func<Inputs, Tensor>> Graphs = new()
    {
        // ---- tensor-tensor arithmetic, with NumPy broadcasting ----
        ["add_same"] = v => v.X + v.Y,                                // x + y          (2,3)+(2,3)
        ["add_row_broadcast"] = v => v.X + v.Y,                       // x + y          (2,3)+(3)
        ["add_leading_one"] = v => v.X + v.Y,                         // x + y          (1,)+(2,3)
        ["add_0d_left"] = v => v.X + v.Y,                             // x + y          ()+(2,3)
        ["add_0d_right"] = v => v.X + v.Y,                            // x + y          (2,3)+()
        ["add_both_broadcast"] = v => v.X + v.Y,                      // x + y          (3,1)+(1,4)
        ["add_constant"] = v => v.X + v.Y,                            // x + y          y without grad
        ["sub_same"] = v => v.X - v.Y,                                // x - y
        ["sub_col_broadcast"] = v => v.X - v.Y,                       // x - y          (2,3)-(2,1)
        ["sub_0d_right"] = v => v.X - v.Y,                            // x - y          (2,3)-()
        ["sub_small_left"] = v => v.X - v.Y,                          // x - y          (3)-(2,3)
        ["mul_same"] = v => v.X * v.Y,                                // x * y
        ["mul_col_broadcast"] = v => v.X * v.Y,                       // x * y          (2,3)*(2,1)
        ["mul_row_left"] = v => v.X * v.Y,                            // x * y          (3)*(2,3)
        ["mul_0d_left"] = v => v.X * v.Y,                             // x * y          ()*(2,3)
        ["mul_outer"] = v => v.X * v.Y,                               // x * y          (3,1)*(1,4)
        ["mul_3d_broadcast"] = v => v.X * v.Y,                        // x * y          (2,1,3)*(4,1)
        ["mul_constant"] = v => v.X * v.Y,                            // x * y          y without grad
        ["div_same"] = v => v.X / v.Y,                                // x / y
        ["div_row_broadcast"] = v => v.X / v.Y,                       // x / y          (2,3)/(3)
        ["div_col_broadcast"] = v => v.X / v.Y,                       // x / y          (2,3)/(2,1)
        ["div_0d_numerator"] = v => v.X / v.Y,                        // x / y          ()/(2,3)
        ["div_0d_denominator"] = v => v.X / v.Y,                      // x / y          (2,3)/()
        ["div_0d_both"] = v => v.X / v.Y,                             // x / y          ()/()

        // ---- with a scalar on either side ----
        ["add_scalar_right"] = v => v.X + 2.5,                        // x + 2.5
        ["add_scalar_left"] = v => 2.5 + v.X,                         // 2.5 + x
        ["add_int_scalar"] = v => v.X + 2,                            // x + 2
        ["sub_scalar_right"] = v => v.X - 1.5,                        // x - 1.5
        ["rsub_int_scalar"] = v => 2 - v.X,                           // 2 - x
        ["rsub_float_scalar"] = v => 0.5 - v.X,                       // 0.5 - x
        ["mul_scalar_left"] = v => 3 * v.X,                           // 3 * x
        ["mul_scalar_right"] = v => v.X * 3.14,                       // x * 3.14
        ["div_int_scalar"] = v => v.X / 4,                            // x / 4
        ["div_float_scalar"] = v => v.X / 0.3,                        // x / 0.3
        ["rdiv_scalar"] = v => 2 / v.X,                               // 2 / x
        ["neg"] = v => -v.X,                                          // -x
        ["neg_0d"] = v => -v.X,                                       // -x

        // ---- unary ----
        ["reciprocal"] = v => v.X.Reciprocal(),                       // x.reciprocal()
        ["pow_2"] = v => v.X.Pow(2),                                  // x ** 2
        ["pow_3"] = v => v.X.Pow(3),                                  // x ** 3
        ["pow_half"] = v => v.X.Pow(0.5),                             // x ** 0.5
        ["pow_2_5"] = v => v.X.Pow(2.5),                              // x ** 2.5
        ["pow_neg1"] = v => v.X.Pow(-1),                              // x ** -1
        ["pow_neg2"] = v => v.X.Pow(-2),                              // x ** -2
        ["pow_1"] = v => v.X.Pow(1),                                  // x ** 1
        ["pow_0"] = v => v.X.Pow(0),                                  // x ** 0
        ["exp"] = v => v.X.Exp(),                                     // x.exp()
        ["exp_0d"] = v => v.X.Exp(),                                  // x.exp()
        ["log"] = v => v.X.Log(),                                     // x.log()
        ["tanh"] = v => v.X.Tanh(),                                   // x.tanh()
        ["sigmoid"] = v => v.X.Sigmoid(),                             // x.sigmoid()
        ["relu"] = v => v.X.Relu(),                                   // x.relu()

        // ---- reductions ----
        ["sum_2d"] = v => v.X.Sum(),                                  // x.sum()
        ["sum_0d"] = v => v.X.Sum(),                                  // x.sum()
        ["sum_explicit_gradient"] = v => v.X.Sum(),                   // x.sum()        backward(tensor(2.5))
        ["mean_2d"] = v => v.X.Mean(),                                // x.mean()
        ["mean_1d"] = v => v.X.Mean(),                                // x.mean()
        ["norm_2d"] = v => v.X.Norm(),                                // x.norm()
        ["norm_1d"] = v => v.X.Norm(),                                // x.norm()

        // ---- dot, mm, mv, matmul ----
        ["dot"] = v => Tensor.Dot(v.X, v.Y),                          // torch.dot(x, y)
        ["dot_constant"] = v => Tensor.Dot(v.X, v.Y),                 // torch.dot(x, y)    y without grad
        ["dot_same_leaf"] = v => Tensor.Dot(v.X, v.X),                // torch.dot(x, x)
        ["mm"] = v => Tensor.Mm(v.X, v.Y),                            // torch.mm(x, y)
        ["mm_constant_weight"] = v => v.X.Mm(v.W),                    // x.mm(w)            w without grad
        ["mm_same_leaf"] = v => v.X.Mm(v.X),                          // x.mm(x)
        ["mm_transposed_input"] = v => v.X.T().Mm(v.Y),               // x.t().mm(y)
        ["mm_transposed_weight"] = v => v.X.Mm(v.W.T()),              // x.mm(w.t())
        ["mv"] = v => Tensor.Mv(v.X, v.Y),                            // torch.mv(x, y)
        ["mv_transposed"] = v => Tensor.Mv(v.X.T(), v.Y),             // torch.mv(x.t(), y)
        ["matmul_1d_1d"] = v => Tensor.MatMul(v.X, v.Y),              // torch.matmul(x, y)
        ["matmul_2d_2d"] = v => Tensor.MatMul(v.X, v.Y),              // torch.matmul(x, y)
        ["matmul_2d_1d"] = v => Tensor.MatMul(v.X, v.Y),              // torch.matmul(x, y)
        ["matmul_1d_2d"] = v => Tensor.MatMul(v.X, v.Y),              // torch.matmul(x, y)
        ["linear_relu_sum"] = v => (v.X.Mm(v.W) + v.B).Relu().Sum(),  // (x.mm(w) + b).relu().sum()
        // torch.matmul(torch.matmul(x, w).tanh(), z).sigmoid().mean()
        ["mlp_two_layers"] = v => Tensor.MatMul(Tensor.MatMul(v.X, v.W).Tanh(), v.Z).Sigmoid().Mean(),

        // ---- views ----
        ["t_2d"] = v => v.X.T(),                                      // x.t()
        ["t_2d_then_mul"] = v => v.X.T() * v.Y,                       // x.t() * y
        ["t_1d"] = v => v.X.T(),                                      // x.t()
        ["t_then_add_row"] = v => v.X.T() + v.Y,                      // x.t() + y
        ["transpose_then_mul"] = v => v.X.Transpose(0, 1) * v.Y,      // x.transpose(0, 1) * y
        ["transpose_3d"] = v => v.X.Transpose(0, 2),                  // x.transpose(0, 2)
        ["transpose_negative_dims_exp"] = v => v.X.Transpose(-1, -2).Exp(), // x.transpose(-1, -2).exp()
        ["select_index"] = v => v.X[1],                               // x[1]
        ["select_negative_index"] = v => v.X[-1] * 2,                 // x[-1] * 2
        ["select_two_indices"] = v => v.X[1, 2],                      // x[1, 2]
        ["select_dim1"] = v => v.X.Select(1, 2),                      // x.select(1, 2)
        ["select_rows_multiply"] = v => v.X[0] * v.X[1],              // x[0] * x[1]
        ["slice_range"] = v => v.X[1..3],                             // x[1:3]
        ["slice_step_dim1"] = v => v.X.Slice(1, 0, 4, 2),             // x[:, 0:4:2]
        ["slice_step_dim0_exp"] = v => v.X.Slice(0, 0, 5, 2).Exp(),   // x[0:5:2].exp()
        ["slice_negative_bounds"] = v => v.X[^3..^1],                 // x[-3:-1]
        ["slice_one_element_implicit"] = v => v.X[1..2],              // x[1:2]          (1 element: implicit gradient)
        ["unsqueeze_0"] = v => v.X.Unsqueeze(0),                      // x.unsqueeze(0)
        ["unsqueeze_last"] = v => v.X.Unsqueeze(-1),                  // x.unsqueeze(-1)
        ["unsqueeze_broadcast"] = v => v.X.Unsqueeze(1) * v.Y,        // x.unsqueeze(1) * y
        ["view_chain"] = v => v.X.T()[1].Unsqueeze(0) * v.Y,          // x.t()[1].unsqueeze(0) * y
        // torch.dot(x.select(1, 0), y[0:6:2])
        ["strided_dot"] = v => Tensor.Dot(v.X.Select(1, 0), v.Y.Slice(0, 0, 6, 2)),

        // ---- expand, copies, dtype conversion, copy_ ----
        ["expand_row"] = v => v.X.Expand(3, 4) * v.Y,                 // x.expand(3, 4) * y
        ["expand_new_dims"] = v => v.X.Expand(2, 3, 2).Tanh(),        // x.expand(2, 3, 2).tanh()
        ["expand_as"] = v => v.X.ExpandAs(v.Y) * v.Y,                 // x.expand_as(y) * y
        ["clone"] = v => v.X.Clone() * v.X,                           // x.clone() * x
        ["contiguous_of_transposed"] = v => v.X.T().Contiguous().Exp(), // x.t().contiguous().exp()
        ["to_float64"] = v => v.X.To(DType.Float64) * v.Y,            // x.to(torch.float64) * y
        ["to_float32"] = v => v.X.To(DType.Float32).Exp(),            // x.to(torch.float32).exp()
        ["copy_into_zeros"] = v =>
        {
            Tensor y = Tensor.Zeros(2, 3, v.X.DType);                 // out = torch.zeros(2, 3, dtype=x.dtype)
            y.Copy_(v.X.Exp());                                       // out.copy_(x.exp())
            return y * v.Y;                                           // out = out * y
        },
        ["copy_over_history"] = v =>
        {
            Tensor y = v.X * 3;                                       // out = x * 3
            y.Copy_(v.Z.T());                                         // out.copy_(z.t())
            return y.Sigmoid();                                       // out = out.sigmoid()
        },
        ["copy_cast"] = v =>
        {
            Tensor y = Tensor.Zeros(3);                               // out = torch.zeros(3, dtype=torch.float32)
            y.Copy_(v.X);                                             // out.copy_(x)
            return y * 2;                                             // out = out * 2
        },

        // ---- index assignment (CopySlices) ----
        ["copyslices_seed000"] = v =>
        {
            Tensor x = v.X;
            Tensor y = Tensor.Zeros(3, 1, x.DType);                   // out = torch.zeros(3, 1, dtype=x.dtype)
            y[0] = x[0].Pow(2);                                       // out[0] = x[0] ** 2
            y[1] = x[1].Pow(3);                                       // out[1] = x[1] ** 3
            y[2] = x[1].Pow(4);                                       // out[2] = x[1] ** 4
            return y;
        },
        ["copyslices_into_nonleaf"] = v =>
        {
            Tensor y = v.X * 2;                                       // out = x * 2
            y[1] = v.Z.Exp();                                         // out[1] = z.exp()
            return y;
        },
        ["copyslices_slice"] = v =>
        {
            Tensor y = v.X + 1;                                       // out = x + 1
            y[1..3] = v.Z;                                            // out[1:3] = z
            return y;
        },
        ["copyslices_two_indices"] = v =>
        {
            Tensor y = v.X * 1.0;                                     // out = x * 1.0
            y[0, 1] = v.Z * 3;                                        // out[0, 1] = z * 3
            return y;
        },
        ["copyslices_broadcast_value"] = v =>
        {
            Tensor y = Tensor.Zeros(2, 3, v.Z.DType);                 // out = torch.zeros(2, 3, dtype=z.dtype)
            y[1] = v.Z;                                               // out[1] = z
            return y;
        },
        ["copyslices_value_leading_ones"] = v =>
        {
            Tensor y = Tensor.Zeros(2, 3, v.X.DType);                 // out = torch.zeros(2, 3, dtype=x.dtype)
            y[1] = v.X * 2;                                           // out[1] = x * 2      x: (1, 1, 3)
            return y * y;                                             // out = out * out
        },
        ["copyslices_leading_one_into_0d"] = v =>
        {
            Tensor y = Tensor.Zeros(1, v.X.DType);                    // out = torch.zeros(1, dtype=x.dtype)
            y[0] = v.X;                                               // out[0] = x          x: (1,)
            return y;
        },
        ["copyslices_then_square"] = v =>
        {
            Tensor y = v.X + 0;                                       // y = x + 0
            y[0] = y[1] * 2;                                          // y[0] = y[1] * 2
            return (y * y).Sum();                                     // out = (y * y).sum()
        },

        // ---- chained graphs: fan-out, shared leaves, loops ----
        ["fanout_square_plus"] = v => v.X * v.X + v.X,                // x * x + x
        ["fanout_exp_times_tanh"] = v => v.X.Exp() * v.X.Tanh(),      // x.exp() * x.tanh()
        ["fanout_mul_plus_div"] = v => v.X * v.Y + v.X / v.Y,         // x * y + x / y
        ["leaf_two_paths"] = v =>
        {
            Tensor a = v.X * v.Y;                                     // a = x * y
            Tensor b = a + v.X;                                       // b = a + x
            return b * v.X.Exp();                                     // out = b * x.exp()
        },
        ["loop_mul_add"] = v =>
        {
            Tensor h = v.X;                                           // h = x
            for (int i = 0; i < 3; i++) h = h * v.Y + v.X;            // for _ in range(3): h = h * y + x
            return h;
        },
        ["loop_mm_tanh"] = v =>
        {
            Tensor h = v.X;                                           // h = x
            for (int i = 0; i < 4; i++) h = h.Mm(v.W).Tanh();         // for _ in range(4): h = h.mm(w).tanh()
            return h.Sum();                                           // out = h.sum()
        },
        ["loop_doubling"] = v =>
        {
            Tensor y = v.X * 2;                                       // y = x * 2
            for (int i = 0; i < 5; i++) y = y * 2;                    // for _ in range(5): y = y * 2
            return y;
        },
        ["sigmoid_derivative"] = v => v.X.Sigmoid() * (1 - v.X.Sigmoid()), // x.sigmoid() * (1 - x.sigmoid())
        ["sum_times_tensor"] = v => v.X.Sum() * v.Y,                  // x.sum() * y
        ["variance"] = v => (v.X - v.X.Mean()).Pow(2).Mean(),         // ((x - x.mean()) ** 2).mean()
        ["normalize"] = v => v.X / v.X.Norm(),                        // x / x.norm()
        ["softplus"] = v => (v.X.Exp() + 1).Log(),                    // (x.exp() + 1).log()
        ["reuse_output"] = v =>
        {
            Tensor y = v.X.Exp();                                     // y = x.exp()
            return (y * y).Sum() + y.Mean();                          // out = (y * y).sum() + y.mean()
        },
        ["affine_chain"] = v => ((v.X + 1) * 2 - 3) / 4,              // ((x + 1) * 2 - 3) / 4
        ["constant_mix"] = v => v.X * v.C + v.C,                      // x * c + c       c without grad
        ["unused_input"] = v => v.X * 2,                              // x * 2           y requires grad, unused
        // (-x).reciprocal().relu() + x.pow(2).sigmoid()
        ["neg_reciprocal_chain"] = v => (-v.X).Reciprocal().Relu() + v.X.Pow(2).Sigmoid(),

        // ---- mixed float32 / float64 ----
        ["mixed_mul"] = v => v.X * v.Y,                               // x * y           f32 * f64
        ["mixed_add_broadcast"] = v => v.X + v.Y,                     // x + y           f32 (2,3) + f64 (3)
        ["mixed_div"] = v => v.X / v.Y,                               // x / y           f64 / f32
        ["mixed_chain"] = v => (v.X.Exp() * v.Y).Sum(),               // (x.exp() * y).sum()
        ["mixed_0d_double_times_float"] = v => v.X * v.Y,             // x * y           f64 () * f32 (2,3) -> f32
        ["mixed_0d_float_plus_double"] = v => v.X + v.Y,              // x + y           f32 () + f64 (2,3) -> f64
    };

    // ---- fixture model ----

    private sealed record GradientCase(
        string Name, string Graph, string Python, InputSpec[] Inputs, OutputSpec Output, TensorData? Gradient, Dictionary<string, TensorData?> Grads);

    private static IReadOnlyList<GradientCase> LoadCases()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "gradients.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        var cases = new List<GradientCase>();
        foreach (JsonElement e in doc.RootElement.EnumerateArray())
        {
            InputSpec[] inputs = InputSpec.ReadAll(e.GetProperty("inputs"));
            JsonElement output = e.GetProperty("output");
            JsonElement gradient = e.GetProperty("gradient");
            var grads = new Dictionary<string, TensorData?>();
            foreach (JsonProperty g in e.GetProperty("grads").EnumerateObject())
                grads[g.Name] = TensorData.ReadOrNull(g.Value);
            cases.Add(new GradientCase(
                e.GetProperty("name").GetString()!,
                e.GetProperty("graph").GetString()!,
                e.GetProperty("python").GetString()!,
                inputs,
                OutputSpec.Read(output),
                TensorData.ReadOrNull(gradient),
                grads));
        }
        return cases;
    }
}
