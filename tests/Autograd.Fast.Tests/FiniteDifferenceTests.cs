using AutogradFast.Graph;
using AutogradFast.Storage;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// Gradient checks in float64: the vector-Jacobian product the engine computes for a random
/// upstream gradient u against central finite differences of φ(x) = Σ f(x)·u, for every op kind,
/// with broadcast shapes and non-contiguous inputs (transposed views, slices with a step).
/// </summary>
public class FiniteDifferenceTests
{
    private const double H = 1e-6;
    private const double RelativeTolerance = 1e-6;

    internal enum Domain { Any, Positive }

    internal sealed record Input(int[] Shape, Domain Domain = Domain.Any);

    /// <param name="Differentiates">f computes gradients itself (Autograd.Grad with createGraph): φ is then evaluated with grad mode on.</param>
    internal sealed record Case(string Name, Func<Tensor[], Tensor> F, Input[] Inputs, bool Differentiates = false);

    /// <summary>∂y/∂x as a tensor with a graph of its own, so that f can be a first derivative and the check a second one.</summary>
    private static Tensor GradOf(Tensor y, Tensor x) => Autograd.Grad(y, x, createGraph: true)!.Value;

    private static Input Any(params int[] shape) => new(shape);

    private static Input Pos(params int[] shape) => new(shape, Domain.Positive);

    /// <summary>The per-op registry (ForwardModeTests runs it in forward mode too).</summary>
    internal static readonly Case[] Cases =
    [
        // ---- binary, broadcasting, non-contiguous operands ----
        new("add_broadcast_row", t => t[0] + t[1], [Any(2, 3), Any(3)]),
        new("add_0d_and_2d", t => t[0] + t[1], [Any(), Any(2, 3)]),
        new("add_transposed", t => t[0].T() + t[1], [Any(3, 2), Any(2, 3)]),
        new("sub_broadcast_col", t => t[0] - t[1], [Any(2, 3), Any(2, 1)]),
        new("sub_strided_slice", t => t[0].Slice(1, 0, 5, 2) - t[1], [Any(2, 5), Any(3)]),
        new("mul_outer_broadcast", t => t[0] * t[1], [Any(3, 1), Any(1, 4)]),
        new("mul_transposed", t => t[0].T() * t[1], [Any(3, 2), Any(2, 3)]),
        new("mul_same_leaf", t => t[0] * t[0], [Any(2, 3)]),
        new("div_broadcast", t => t[0] / t[1], [Any(2, 3), Pos(2, 1)]),
        new("div_0d_denominator", t => t[0] / t[1], [Any(2, 3), Pos()]),
        new("div_strided_denominator", t => t[0] / t[1].Slice(0, 0, 6, 2), [Any(2, 3), Pos(6)]),

        // ---- with scalars ----
        new("add_scalar", t => t[0] + 1.5, [Any(2, 3)]),
        new("add_scalar_left_transposed", t => 2 + t[0].T(), [Any(2, 3)]),
        new("sub_scalar", t => t[0] - 0.7, [Any(2, 3)]),
        new("rsub_scalar", t => 3 - t[0], [Any(2, 3)]),
        new("mul_scalar", t => t[0] * 2.5, [Any(2, 3)]),
        new("mul_scalar_left_strided", t => 3 * t[0].Slice(1, 1, 4, 2), [Any(2, 4)]),
        new("div_scalar", t => t[0] / 3, [Any(2, 3)]),
        new("rdiv_scalar", t => 2 / t[0], [Pos(2, 3)]),
        new("neg_transposed", t => -t[0].T(), [Any(2, 3)]),

        // ---- unary ----
        new("reciprocal", t => t[0].Reciprocal(), [Pos(2, 3)]),
        new("reciprocal_strided", t => t[0].Slice(0, 0, 3, 2).Reciprocal(), [Pos(3, 2)]),
        new("pow_3", t => t[0].Pow(3), [Any(2, 3)]),
        new("pow_2_transposed", t => t[0].T().Pow(2), [Any(2, 3)]),
        new("pow_2_5", t => t[0].Pow(2.5), [Pos(2, 3)]),
        new("pow_neg_1_5", t => t[0].Pow(-1.5), [Pos(2, 3)]),
        new("pow_half", t => t[0].Pow(0.5), [Pos(4)]),
        new("exp", t => t[0].Exp(), [Any(2, 3)]),
        new("exp_transposed", t => t[0].T().Exp(), [Any(2, 3)]),
        new("log", t => t[0].Log(), [Pos(2, 3)]),
        new("log_strided", t => t[0].Slice(1, 0, 5, 2).Log(), [Pos(2, 5)]),
        new("tanh", t => t[0].Tanh(), [Any(2, 3)]),
        new("sigmoid", t => t[0].Sigmoid(), [Any(2, 3)]),
        new("sigmoid_transposed", t => t[0].T().Sigmoid(), [Any(3, 2)]),
        new("relu", t => t[0].Relu(), [Any(3, 4)]),
        new("relu_strided", t => t[0].Slice(0, 0, 4, 3).Relu(), [Any(4, 2)]),

        // ---- reductions ----
        new("sum", t => t[0].Sum(), [Any(2, 3)]),
        new("sum_transposed", t => (t[0].T() * t[1]).Sum(), [Any(2, 3), Any(3, 2)]),
        new("mean", t => t[0].Mean(), [Any(2, 3)]),
        new("mean_strided", t => t[0].Slice(1, 0, 4, 2).Mean(), [Any(3, 4)]),
        new("norm", t => t[0].Norm(), [Any(2, 3)]),
        new("norm_transposed", t => t[0].T().Norm(), [Any(2, 3)]),

        // ---- products ----
        new("dot", t => Tensor.Dot(t[0], t[1]), [Any(4), Any(4)]),
        new("dot_strided", t => Tensor.Dot(t[0].Select(1, 0), t[1].Slice(0, 0, 6, 2)), [Any(3, 2), Any(6)]),
        new("mm", t => Tensor.Mm(t[0], t[1]), [Any(2, 3), Any(3, 4)]),
        new("mm_transposed_left", t => Tensor.Mm(t[0].T(), t[1]), [Any(3, 2), Any(3, 4)]),
        new("mm_transposed_right", t => Tensor.Mm(t[0], t[1].T()), [Any(2, 3), Any(4, 3)]),
        new("mm_same_leaf", t => t[0].Mm(t[0]), [Any(3, 3)]),
        new("mv", t => Tensor.Mv(t[0], t[1]), [Any(2, 3), Any(3)]),
        new("mv_transposed_strided", t => Tensor.Mv(t[0].T(), t[1].Slice(0, 1, 6, 2)), [Any(3, 2), Any(6)]),
        new("matmul_1d_1d", t => Tensor.MatMul(t[0], t[1]), [Any(3), Any(3)]),
        new("matmul_2d_1d", t => Tensor.MatMul(t[0], t[1]), [Any(2, 3), Any(3)]),
        new("matmul_1d_2d", t => Tensor.MatMul(t[0], t[1]), [Any(3), Any(3, 2)]),
        new("matmul_2d_2d", t => Tensor.MatMul(t[0], t[1]), [Any(2, 3), Any(3, 2)]),

        // ---- views ----
        new("t_then_mul", t => t[0].T() * t[1], [Any(2, 3), Any(3, 2)]),
        new("t_1d", t => t[0].T().Exp(), [Any(3)]),
        new("transpose_3d", t => t[0].Transpose(0, 2).Tanh(), [Any(2, 3, 4)]),
        new("transpose_of_slice", t => t[0].Slice(1, 0, 4, 2).Transpose(0, 1) * t[1], [Any(3, 4), Any(2, 3)]),
        new("select_first_dim", t => t[0][1] * t[1], [Any(3, 2), Any(2)]),
        new("select_dim1", t => t[0].Select(1, 2).Exp(), [Any(2, 3)]),
        new("select_two_indices", t => t[0][1, 2] * t[1], [Any(2, 3), Any(2)]),
        new("select_of_transposed", t => t[0].T()[1], [Any(2, 3)]),
        new("slice_step", t => t[0].Slice(1, 0, 5, 2), [Any(2, 5)]),
        new("slice_range", t => t[0][1..3].Sigmoid(), [Any(4, 3)]),
        new("slice_of_transposed", t => t[0].T().Slice(0, 1, 3) * 2, [Any(2, 3)]),
        new("unsqueeze_broadcast", t => t[0].Unsqueeze(1) * t[1], [Any(3), Any(4)]),
        new("unsqueeze_of_slice", t => t[0].Slice(0, 0, 5, 2).Unsqueeze(0).Exp(), [Any(5)]),

        new("expand_row", t => t[0].Expand(3, 4) * t[1], [Any(1, 4), Any(3, 4)]),
        new("expand_new_dims", t => t[0].Expand(2, 3, 2).Tanh(), [Any(3, 1)]),
        new("expand_as_of_transposed", t => t[0].T().ExpandAs(t[1]) * t[1], [Any(2, 1), Any(3, 1, 2)]),

        // ---- copies ----
        new("clone", t => t[0].Clone() * t[0], [Any(2, 3)]),
        new("contiguous_of_transposed", t => t[0].T().Contiguous().Exp(), [Any(2, 3)]),
        new("copy_into_zeros", t =>
        {
            Tensor y = Tensor.Zeros(2, 3, DType.Float64);
            y.Copy_(t[0].Exp());
            return y * t[1];
        }, [Any(3), Any(2, 3)]),
        new("copy_over_history", t =>
        {
            Tensor y = t[0] * 3;
            y.Copy_(t[1].T());
            return y.Sigmoid();
        }, [Any(2, 3), Any(3, 2)]),

        // ---- index assignment ----
        new("copyslices_into_zeros", t =>
        {
            Tensor y = Tensor.Zeros(3, 1, DType.Float64);
            y[0] = t[0][0].Pow(2);
            y[1] = t[0][1].Pow(3);
            y[2] = t[0][1].Pow(4);
            return y;
        }, [Any(2)]),
        new("copyslices_into_nonleaf", t =>
        {
            Tensor y = t[0] * 2;
            y[1] = t[1].Exp();
            return y.Tanh();
        }, [Any(3, 2), Any(2)]),
        new("copyslices_slice_with_transposed_value", t =>
        {
            Tensor y = t[0] + 1;
            y[1..3] = t[1].T();
            return y * y;
        }, [Any(4, 2), Any(2, 2)]),
        new("copyslices_value_with_leading_ones", t =>
        {
            Tensor y = Tensor.Zeros(2, 3, DType.Float64);
            y[1] = t[0] * 2;
            return y * y;
        }, [Any(1, 1, 3)]),
        new("copyslices_two_indices", t =>
        {
            Tensor y = t[0] * 1.0;
            y[0, 1] = t[1] * 3;
            return y;
        }, [Any(2, 3), Any()]),

        // ---- in-place ops recorded on non-leaves and through views (InPlaceRecordingTests checks them against PyTorch) ----
        new("add_alpha", t => t[0].Add(t[1], 2.5), [Any(2, 3), Any(3)]),
        new("inplace_arithmetic_chain", t =>
        {
            Tensor y = t[0] * 1;
            y.Add_(t[1], alpha: -1.5).Mul_(t[1]).Div_(t[2]).Sub_(t[1].T().T()).Pow_(3).Add_(0.5).Mul_(2).Div_(3).Sub_(1);
            return y * t[0];
        }, [Any(2, 3), Any(3), Pos(2, 1)]),
        new("inplace_zero_and_fill", t =>
        {
            Tensor y = t[0] * 1, z = t[0] * 1;
            y.Zero_();
            z.Fill_(2);
            return (y + z) * t[1];
        }, [Any(2, 3), Any(2, 3)]),
        new("inplace_through_views", t =>
        {
            Tensor y = t[0] * 1;
            y[0].Mul_(t[1]);
            y.T().Add_(t[2].T());
            y.Slice(1, 0, 3, 2).Pow_(2);
            return y * y;
        }, [Any(2, 3), Any(3), Any(2, 3)]),
        new("inplace_second_derivative", t =>
        {
            Tensor y = t[0] * 1;
            y.Mul_(t[0]);
            y[1].Mul_(t[0][0]);
            return GradOf((y * y).Sum(), t[0]);
        }, [Any(2, 3)], Differentiates: true),

        new("where", t => Tensor.Where(t[0] > 0, t[0].Exp(), t[1] * 3), [Any(2, 3), Any(2, 3)]),
        new("where_broadcast", t => Tensor.Where(t[1] > 0, t[0], t[1].Tanh()), [Any(3), Any(2, 3)]),

        // ---- a custom function (one node with the user's backward and jvp), alone, twice in a graph, and differentiated ----
        new("custom_function_cube", t => AutogradFunction.Apply<CubeFunction>(t[0] * t[1]), [Any(2, 3), Any(3)]),
        new("custom_function_twice", t => AutogradFunction.Apply<CubeFunction>(t[0]) * AutogradFunction.Apply<CubeFunction>(t[0].T()).T(), [Any(2, 3)]),
        new("custom_function_two_outputs", t =>
        {
            Tensor[] o = MultiOutputFunction.Apply<PowersFunction>(t[0], t[1]);
            return o[0] * 2 + o[1];
        }, [Any(2, 3), Any(3)]),
        new("custom_function_second_derivative", t => GradOf(AutogradFunction.Apply<CubeFunction>(t[0]).Sum(), t[0]), [Any(2, 3)], Differentiates: true),

        // ---- second derivatives: f is a gradient computed with createGraph, checked against differences of it ----
        new("grad_of_tanh", t => GradOf(t[0].Tanh().Sum(), t[0]), [Any(2, 3)], Differentiates: true),
        new("grad_of_sigmoid", t => GradOf(t[0].Sigmoid().Sum(), t[0]), [Any(2, 3)], Differentiates: true),
        new("grad_of_relu_times_x", t => GradOf((t[0].Relu() * t[0].Exp()).Sum(), t[0]), [Any(2, 3)], Differentiates: true),
        new("grad_of_pow3", t => GradOf(t[0].Pow(3).Sum(), t[0]), [Any(2, 3)], Differentiates: true),
        new("grad_of_pow2_5", t => GradOf(t[0].Pow(2.5).Sum(), t[0]), [Pos(4)], Differentiates: true),
        new("grad_of_square", t => GradOf((t[0] * t[0] * t[1]).Sum(), t[0]), [Any(2, 3), Any(3)], Differentiates: true),
        new("grad_of_dot_self", t => GradOf(Tensor.Dot(t[0], t[0]).Exp(), t[0]), [Any(3)], Differentiates: true),
        new("grad_of_exp_log", t => GradOf((t[0].Exp() * t[1].Log()).Sum(), t[1]) * t[0], [Any(2, 3), Pos(2, 3)], Differentiates: true),
        new("grad_of_div", t => GradOf((t[0] / t[1]).Pow(2).Sum(), t[1]), [Any(2, 3), Pos(2, 3)], Differentiates: true),
        new("grad_of_reciprocal", t => GradOf(t[0].Reciprocal().Sum(), t[0]), [Pos(4)], Differentiates: true),
        new("grad_of_select", t => GradOf((t[0][1] * t[0][0].Exp()).Sum(), t[0]), [Any(2, 3)], Differentiates: true),
        new("grad_of_slice", t => GradOf(t[0].Slice(1, 0, 4, 2).Pow(3).Sum(), t[0]), [Any(2, 4)], Differentiates: true),
        new("grad_of_broadcast_add", t => GradOf((t[0] + t[1]).Pow(2).Sum(), t[1]), [Any(2, 3), Any(3)], Differentiates: true),
        new("grad_of_broadcast_to_0d", t => GradOf((t[0] * t[1]).Pow(2).Sum(), t[1]), [Any(2, 3), Any()], Differentiates: true),
        new("grad_of_broadcast_keepdim", t => GradOf((t[0] * t[1]).Pow(2).Sum(), t[1]), [Any(2, 3), Any(2, 1)], Differentiates: true),
        new("grad_of_unsqueeze", t => GradOf((t[0].Unsqueeze(0) * t[1]).Pow(2).Sum(), t[0]), [Any(3), Any(2, 3)], Differentiates: true),
        // the derivative of select's gradient is a region read (as_strided), whose derivative is a strided scatter
        new("third_order_through_select", t => GradOf(GradOf(GradOf(t[0][1].Pow(4).Sum(), t[0]).Pow(2).Sum(), t[0]).Pow(2).Sum(), t[0]),
            [Any(2, 3)], Differentiates: true),
        new("third_derivative_of_square", t => GradOf(GradOf((t[0] * t[0] * t[0]).Sum(), t[0]).Sum(), t[0]) * t[0], [Any(2, 3)], Differentiates: true),
        new("grad_of_expand", t => GradOf((t[0].Expand(3, 2) * t[1]).Pow(2).Sum(), t[0]), [Any(1, 2), Any(3, 2)], Differentiates: true),
        new("grad_of_norm", t => GradOf(t[0].Norm() * t[0].Sum(), t[0]), [Any(2, 3)], Differentiates: true),
        new("grad_of_mm", t => GradOf(Tensor.Mm(t[0], t[1]).Tanh().Sum(), t[0]), [Any(2, 3), Any(3, 2)], Differentiates: true),
        new("grad_of_mv", t => GradOf(Tensor.Mv(t[0], t[1]).Sigmoid().Sum(), t[1]), [Any(2, 3), Any(3)], Differentiates: true),
        new("grad_of_where", t => GradOf(Tensor.Where(t[0] > 0, t[0].Pow(2), t[0].Exp()).Sum(), t[0]), [Any(2, 3)], Differentiates: true),
        new("grad_of_copyslices", t =>
        {
            Tensor y = t[0] * 1.0;
            y[0] = t[1].Exp();
            Tensor?[] g = Autograd.Grad([(y * y).Sum()], [t[0], t[1]], createGraph: true);
            return g[0]!.Value.Pow(2).Sum() + g[1]!.Value.Pow(2).Sum();
        }, [Any(2, 3), Any(3)], Differentiates: true),
        new("grad_of_copy", t =>
        {
            Tensor y = Tensor.Zeros(2, 3, DType.Float64);
            y.Copy_(t[0].Tanh());
            return GradOf((y * y).Sum(), t[0]);
        }, [Any(3)], Differentiates: true),
        new("grad_of_grad_of_tanh", t => GradOf(GradOf(t[0].Tanh().Sum(), t[0]).Sum(), t[0]), [Any(4)], Differentiates: true),

        // ---- composites ----
        new("mlp", t => Tensor.MatMul(Tensor.MatMul(t[0], t[1]).Tanh(), t[2]).Sigmoid(), [Any(4, 3), Any(3, 5), Any(5, 2)]),
        new("variance", t => (t[0] - t[0].Mean()).Pow(2).Mean(), [Any(2, 3)]),
        new("normalize", t => t[0] / t[0].Norm(), [Any(2, 3)]),
        new("loop", t =>
        {
            Tensor h = t[0];
            for (int i = 0; i < 3; i++) h = h * t[1] + t[0].Sigmoid();
            return h;
        }, [Any(2, 3), Any(3)]),
    ];

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (Case c in Cases) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void AnalyticGradient_MatchesCentralDifferences(string name)
    {
        Case c = Cases.Single(k => k.Name == name);
        GradCheck(c, StableSeed(name));
    }

    [Fact]
    public void CaseNames_AreUnique() => Assert.Equal(Cases.Length, Cases.Select(c => c.Name).Distinct().Count());

    [Fact]
    public void EveryOpKind_HasAGradFnName_AndIsExercisedByAFiniteDifferenceCase()
    {
        var reached = new HashSet<OpKind>();
        foreach (Case c in Cases)
        {
            using AutogradScope scope = Autograd.Scope();
            Tensor[] leaves = MakeLeaves(c, InitialValues(c, new Random(StableSeed(c.Name))), requiresGrad: true);
            reached.UnionWith(KindsReachedFrom(c.F(leaves)));
        }
        foreach (OpKind kind in Enum.GetValues<OpKind>())
        {
            string gradFn = OpRows.GradFnName(kind);
            Assert.False(string.IsNullOrEmpty(gradFn), $"{kind} has no grad_fn name");
            if (kind == OpKind.MakeDual) continue; // needs a dual level: ForwardModeTests records it on every registry case and differentiates through it
            if (kind == OpKind.ToCopy) continue; // a float64 -> float32 step rounds away the perturbation; PyTorch fixtures check it (to_float32, to_float64)
            // (every fused backward kernel is reached too: the second-derivative cases record them)
            Assert.True(reached.Contains(kind), $"no finite-difference case records a {kind} node ({gradFn})");
        }
    }

    // ---- the helper ----

    /// <summary>
    /// Builds f on float64 leaves, backpropagates a random u, and compares each leaf's .Grad with
    /// (φ(x + h·e) − φ(x − h·e)) / 2h, φ(x) = Σ f(x)·u, evaluated under no-grad on fresh leaves.
    /// </summary>
    private static void GradCheck(Case c, int seed)
    {
        var rng = new Random(seed);
        double[][] values = InitialValues(c, rng);

        using AutogradScope scope = Autograd.Scope();
        Tensor[] leaves = MakeLeaves(c, values, requiresGrad: true);
        Tensor y = c.F(leaves);
        Assert.Equal(DType.Float64, y.DType);
        Assert.NotNull(y.GradFn);
        double[] u = Enumerate(y.NumEl(), _ => 2 * rng.NextDouble() - 1);
        y.Backward(Tensor.FromSpan<double>(u, y.Shape.AsSpan()));

        double[][] analytic = new double[leaves.Length][];
        for (int i = 0; i < leaves.Length; i++)
        {
            Tensor? g = leaves[i].Grad;
            analytic[i] = g is null ? new double[values[i].Length] : g.Value.ToArray<double>();
            if (g is not null) Assert.True(g.Value.Shape == leaves[i].Shape, $"{c.Name}: grad {i} has shape {g.Value.Shape}, input {leaves[i].Shape}");
        }
        double scale = analytic.SelectMany(a => a).Select(Math.Abs).DefaultIfEmpty(0).Max();

        for (int i = 0; i < values.Length; i++)
        {
            for (int k = 0; k < values[i].Length; k++)
            {
                double original = values[i][k];
                values[i][k] = original + H;
                double plus = Phi(c, values, u);
                values[i][k] = original - H;
                double minus = Phi(c, values, u);
                values[i][k] = original;
                double numeric = (plus - minus) / (2 * H);
                double tolerance = RelativeTolerance * Math.Max(Math.Abs(numeric), scale) + 1e-9;
                Assert.True(Math.Abs(analytic[i][k] - numeric) <= tolerance,
                    $"{c.Name}: d/d input{i}[{k}]: analytic {analytic[i][k]:R}, finite difference {numeric:R} " +
                    $"(|diff| {Math.Abs(analytic[i][k] - numeric):E3} > {tolerance:E3})");
            }
        }
    }

    private static double Phi(Case c, double[][] values, double[] u)
    {
        using AutogradScope scope = Autograd.Scope();
        double[] y;
        if (c.Differentiates) y = c.F(MakeLeaves(c, values, requiresGrad: true)).ToArray<double>();
        else
        {
            using GradModeScope noGrad = Autograd.NoGrad();
            y = c.F(MakeLeaves(c, values, requiresGrad: false)).ToArray<double>();
        }
        double phi = 0;
        for (int i = 0; i < y.Length; i++) phi += y[i] * u[i];
        return phi;
    }

    internal static double[][] InitialValues(Case c, Random rng) => c.Inputs
        .Select(input => Enumerate(Shape.NumEl(input.Shape), _ => input.Domain == Domain.Positive
            ? 0.5 + 1.5 * rng.NextDouble()
            : (rng.Next(2) == 0 ? -1 : 1) * (0.2 + 1.4 * rng.NextDouble())))
        .ToArray();

    private static Tensor[] MakeLeaves(Case c, double[][] values, bool requiresGrad)
        => c.Inputs.Select((input, i) => Tensor.FromSpan<double>(values[i], input.Shape, requiresGrad)).ToArray();

    /// <summary>The op kinds of every node the backward from <paramref name="y"/> would visit.</summary>
    private static HashSet<OpKind> KindsReachedFrom(Tensor y)
    {
        TensorContext c = y.Ctx;
        var kinds = new HashSet<OpKind>();
        var seen = new HashSet<int>();
        var stack = new Stack<int>();
        if (c.Records[y.Slot].Node >= 0) stack.Push(c.Records[y.Slot].Node);
        while (stack.Count > 0)
        {
            int index = stack.Pop();
            if (!seen.Add(index)) continue;
            ref Node n = ref c.Nodes[index];
            kinds.Add(n.Kind);
            for (int k = 0; k < n.InputCount; k++)
            {
                int edge = Graph.Backward.Input(ref n, k, c).Edge;
                if (edge >= 0) stack.Push(edge);
            }
        }
        return kinds;
    }

    private static double[] Enumerate(int n, Func<int, double> f)
    {
        var result = new double[n];
        for (int i = 0; i < n; i++) result[i] = f(i);
        return result;
    }

    /// <summary>A seed that does not change between runs (string.GetHashCode does).</summary>
    internal static int StableSeed(string name)
    {
        int h = 17;
        foreach (char ch in name) h = unchecked(h * 31 + ch);
        return h;
    }

    private static class Shape
    {
        public static int NumEl(int[] shape) => shape.Aggregate(1, (a, b) => a * b);
    }
}
