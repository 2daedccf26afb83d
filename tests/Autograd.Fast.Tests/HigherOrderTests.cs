using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// Higher-order gradients in float64 against closed forms: derivative chains through both APIs
/// (<c>Autograd.Grad(createGraph: true)</c> and <c>Backward(createGraph: true)</c> followed by a backward
/// from <c>.Grad</c>, with PyTorch's accumulation semantics), mixed partials, Hessian-vector products
/// through mm, broadcasting, reductions, views, index assignment and where; gradients under
/// createGraph equal to the plain ones bit for bit; the error paths of Autograd.Grad with PyTorch's
/// wording (read from Fixtures/higher_order.json) and the library working after each; an MLP's
/// Hessian-vector product against finite differences of its gradient; and a gradient penalty that
/// trains with the pool flat.
/// </summary>
public class HigherOrderTests
{
    private static readonly double[] Signed = [1.5, -0.5, 0.3, -1.2, 0.8];
    private static readonly double[] Positive = [0.6, 1.3, 2.2, 0.9, 1.7];

    // ---- elementwise ops: first, second and third derivatives ----

    /// <param name="Derivatives">f', f'', f''' as closed forms.</param>
    /// <param name="FirstGradFn">PyTorch's grad_fn of f' under create_graph, where the library is meant to match it (null: not checked here).</param>
    private sealed record Unary(string Name, Func<Tensor, Tensor> F, double[] X, Func<double, double>[] Derivatives, string? FirstGradFn);

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    private static readonly Unary[] Unaries =
    [
        new("pow_5", x => x.Pow(5), Signed, [x => 5 * Math.Pow(x, 4), x => 20 * Math.Pow(x, 3), x => 60 * x * x], "MulBackward0"),
        new("pow_2_5", x => x.Pow(2.5), Positive, [x => 2.5 * Math.Pow(x, 1.5), x => 3.75 * Math.Sqrt(x), x => 1.875 / Math.Sqrt(x)], "MulBackward0"),
        new("exp", x => x.Exp(), Signed, [Math.Exp, Math.Exp, Math.Exp], "MulBackward0"),
        new("log", x => x.Log(), Positive, [x => 1 / x, x => -1 / (x * x), x => 2 / (x * x * x)], "DivBackward0"),
        new("reciprocal", x => x.Reciprocal(), Signed, [x => -1 / (x * x), x => 2 / (x * x * x), x => -6 / (x * x * x * x)], "MulBackward0"),
        new("tanh", x => x.Tanh(), Signed,
        [
            x => 1 - Math.Tanh(x) * Math.Tanh(x),                                          // 1 - t²
            x => -2 * Math.Tanh(x) * (1 - Math.Tanh(x) * Math.Tanh(x)),                    // -2t(1 - t²)
            x => -2 * (1 - Math.Tanh(x) * Math.Tanh(x)) * (1 - 3 * Math.Tanh(x) * Math.Tanh(x)), // -2(1 - t²)(1 - 3t²)
        ], "TanhBackwardBackward0"),
        new("sigmoid", x => x.Sigmoid(), Signed,
        [
            x => Sigmoid(x) * (1 - Sigmoid(x)),                                            // s(1 - s)
            x => Sigmoid(x) * (1 - Sigmoid(x)) * (1 - 2 * Sigmoid(x)),                     // s(1 - s)(1 - 2s)
            x => Sigmoid(x) * (1 - Sigmoid(x)) * (1 - 6 * Sigmoid(x) + 6 * Sigmoid(x) * Sigmoid(x)), // s(1 - s)(1 - 6s + 6s²)
        ], "SigmoidBackwardBackward0"),
    ];

    public static TheoryData<string> UnaryNames()
    {
        var data = new TheoryData<string>();
        foreach (Unary u in Unaries) data.Add(u.Name);
        return data;
    }

    /// <summary>g₁ = ∂Σf(x)/∂x, g₂ = ∂Σg₁/∂x, g₃ = ∂Σg₂/∂x: f is elementwise, so each is the next derivative at every x.</summary>
    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void Grad_WithCreateGraph_GivesTheFirstSecondAndThirdDerivatives(string name)
    {
        Unary u = Unaries.Single(k => k.Name == name);
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(u.X, requiresGrad: true);
            Tensor g1 = Autograd.Grad(u.F(x).Sum(), x, createGraph: true)!.Value;
            Tensor g2 = Autograd.Grad(g1.Sum(), x, createGraph: true)!.Value;
            Tensor g3 = Autograd.Grad(g2.Sum(), x)!.Value; // the last one plain: no graph of its own
            AssertClose(u.X.Select(u.Derivatives[0]), g1, $"{name}'");
            AssertClose(u.X.Select(u.Derivatives[1]), g2, $"{name}''");
            AssertClose(u.X.Select(u.Derivatives[2]), g3, $"{name}'''");
            Assert.True(g1.RequiresGrad && g2.RequiresGrad, "gradients computed with createGraph carry a graph");
            Assert.False(g3.RequiresGrad);
            Assert.Null(g3.GradFn);
            if (u.FirstGradFn is not null) Assert.Equal(u.FirstGradFn, g1.GradFn);
            Assert.Null(x.Grad); // Autograd.Grad touches no .Grad
        }
    }

    /// <summary>
    /// PyTorch: after <c>f(x).sum().backward(create_graph=True)</c>, x.grad = f'(x) with grad_fn
    /// CopyBackwards; <c>x.grad.sum().backward()</c> then adds f''(x) into that same tensor, in place.
    /// </summary>
    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void Backward_WithCreateGraph_ThenBackwardFromTheGrad_AddsTheSecondDerivativeInPlace(string name)
    {
        Unary u = Unaries.Single(k => k.Name == name);
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(u.X, requiresGrad: true);
            u.F(x).Sum().Backward(createGraph: true);
            Tensor held = x.Grad!.Value;
            Assert.Equal("CopyBackwards", held.GradFn);
            Assert.True(held.RequiresGrad);
            AssertClose(u.X.Select(u.Derivatives[0]), held, $"{name}'");

            held.Sum().Backward();
            double[] expected = u.X.Select(v => u.Derivatives[0](v) + u.Derivatives[1](v)).ToArray();
            AssertClose(expected, x.Grad!.Value, $"{name}' + {name}''");
            AssertClose(expected, held, $"{name}: the handle held before the second backward"); // the same tensor, updated in place
            Assert.Equal("CopyBackwards", x.Grad!.Value.GradFn);
            x.Grad = null; // breaks the cycle x → x.Grad → graph → x, as PyTorch advises
        }
    }

    /// <summary>x⁵'s derivatives down to the sixth, which is a zero tensor (as in PyTorch: pow_backward for exponent 0 gives zeros).</summary>
    [Fact]
    public void Pow5_DifferentiatesSixTimes_DownToZero()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Func<double, double>[] closed =
            [
                v => 5 * Math.Pow(v, 4), v => 20 * Math.Pow(v, 3), v => 60 * v * v, v => 120 * v, _ => 120, _ => 0,
            ];
            Tensor g = x.Pow(5);
            for (int k = 0; k < closed.Length; k++)
            {
                g = Autograd.Grad(g.Sum(), x, createGraph: true)!.Value;
                AssertClose(Signed.Select(closed[k]), g, $"derivative {k + 1} of x^5");
            }
        }
    }

    /// <summary>
    /// Backward(createGraph) twice makes x.grad a new tensor, old + new (AddBackward0), as PyTorch; a plain
    /// backward from it then adds in place: x⁵ gives 5x⁴, then 5x⁴ + 20x³, then 5x⁴ + 40x³ + 60x².
    /// </summary>
    [Fact]
    public void Backward_WithCreateGraph_FromTheGrad_ReplacesTheGradByASum_AsPyTorchDoes()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            x.Pow(5).Sum().Backward(createGraph: true);
            Assert.Equal("CopyBackwards", x.Grad!.Value.GradFn);
            Tensor first = x.Grad!.Value;
            first.Sum().Backward(createGraph: true);
            Assert.Equal("AddBackward0", x.Grad!.Value.GradFn);
            AssertClose(Signed.Select(v => 5 * Math.Pow(v, 4) + 20 * Math.Pow(v, 3)), x.Grad!.Value, "5x^4 + 20x^3");
            AssertClose(Signed.Select(v => 5 * Math.Pow(v, 4)), first, "the first .Grad, untouched (createGraph writes out of place)");
            x.Grad!.Value.Sum().Backward();
            AssertClose(Signed.Select(v => 5 * Math.Pow(v, 4) + 40 * Math.Pow(v, 3) + 60 * v * v), x.Grad!.Value, "5x^4 + 40x^3 + 60x^2");
            x.Grad = null;
        }
    }

    [Fact]
    public void Backward_WithCreateGraph_Twice_AddsTheGradientsOutOfPlace()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            x.Pow(3).Sum().Backward(createGraph: true);
            x.Pow(3).Sum().Backward(createGraph: true);
            Assert.Equal("AddBackward0", x.Grad!.Value.GradFn);
            AssertClose(Signed.Select(v => 6 * v * v), x.Grad!.Value, "3x^2 + 3x^2");
            // the sum is differentiable: Σ x.grad = Σ 6x², whose gradient is 12x
            AssertClose(Signed.Select(v => 12 * v), Autograd.Grad(x.Grad!.Value.Sum(), x)!.Value, "d(6x^2)/dx");
            x.Grad = null;
        }
    }

    [Fact]
    public void Backward_WithCreateGraph_AndInputs_WritesOnlyThoseGrads()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor y = Tensor.From(Positive, requiresGrad: true);
            (x.Pow(3) * y).Sum().Backward(createGraph: true, inputs: [x]);
            Assert.Null(y.Grad);
            AssertClose(Signed.Zip(Positive, (a, b) => 3 * a * a * b), x.Grad!.Value, "3x^2 y");
            // ∂/∂y Σ 3x²y = 3x²
            AssertClose(Signed.Select(a => 3 * a * a), Autograd.Grad(x.Grad!.Value.Sum(), y)!.Value, "d(3x^2 y)/dy");
            x.Grad = null;
        }
    }

    // ---- relu: its second derivative is zero ----

    [Fact]
    public void Relu_FirstDerivative_IsTheStep_WithPyTorchsGradFn()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor g = Autograd.Grad(x.Relu().Sum(), x, createGraph: true)!.Value;
            AssertClose(Signed.Select(v => v > 0 ? 1.0 : 0.0), g, "relu'");
            Assert.Equal("ThresholdBackwardBackward0", g.GradFn);
        }
    }

    /// <summary>PyTorch: threshold_backward's derivative in its saved input is zeros_like(grad), so relu'' is a zero tensor and x counts as used.</summary>
    [Fact]
    public void Relu_SecondDerivative_IsAZeroTensor_AsInPyTorch()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor g = Autograd.Grad(x.Relu().Sum(), x, createGraph: true)!.Value;
            Tensor? g2 = Autograd.Grad(g.Sum(), x);
            Assert.True(g2 is not null, "relu'' is null");
            AssertClose(new double[Signed.Length], g2!.Value, "relu''");
        }
    }

    /// <summary>relu(x)·x = x² for x > 0 and 0 otherwise: its second derivative 2·[x > 0] goes through the product.</summary>
    [Fact]
    public void ReluTimesX_HasSecondDerivativeTwiceTheStep()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor g = Autograd.Grad((x.Relu() * x).Sum(), x, createGraph: true)!.Value;
            AssertClose(Signed.Select(v => v > 0 ? 2 * v : 0), g, "(relu(x) x)'");
            AssertClose(Signed.Select(v => v > 0 ? 2.0 : 0), Autograd.Grad(g.Sum(), x)!.Value, "(relu(x) x)''");
        }
    }

    // ---- mixed partials ----

    /// <summary>
    /// f = Σ x·y·eˣ: f_x = y(1 + x)eˣ, f_y = x eˣ; f_xx = y(2 + x)eˣ, f_xy = f_yx = (1 + x)eˣ, f_yy = 0
    /// (f_y does not depend on y: PyTorch's None with allow_unused), f_xxy = (2 + x)eˣ.
    /// </summary>
    [Fact]
    public void MixedPartials_OfXYExpX_MatchTheClosedForms_AndAreSymmetric()
    {
        double[] xs = [0.5, -1.1, 1.7], ys = [1.3, -0.4, 0.9];
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(xs, requiresGrad: true);
            Tensor y = Tensor.From(ys, requiresGrad: true);
            Tensor f = (x * y * x.Exp()).Sum();
            Tensor?[] g = Autograd.Grad([f], [x, y], createGraph: true);
            AssertClose(xs.Zip(ys, (a, b) => b * (1 + a) * Math.Exp(a)), g[0]!.Value, "f_x");
            AssertClose(xs.Select(a => a * Math.Exp(a)), g[1]!.Value, "f_y");

            Tensor?[] fromFx = Autograd.Grad([g[0]!.Value.Sum()], [x, y], createGraph: true);
            Tensor?[] fromFy = Autograd.Grad([g[1]!.Value.Sum()], [x, y], allowUnused: true, retainGraph: true);
            AssertClose(xs.Zip(ys, (a, b) => b * (2 + a) * Math.Exp(a)), fromFx[0]!.Value, "f_xx");
            AssertClose(xs.Select(a => (1 + a) * Math.Exp(a)), fromFx[1]!.Value, "f_xy");
            AssertClose(xs.Select(a => (1 + a) * Math.Exp(a)), fromFy[0]!.Value, "f_yx");
            Assert.Null(fromFy[1]); // f_yy: y does not reach f_y
            AssertClose(fromFx[1]!.Value.ToArray<double>(), fromFy[0]!.Value, "f_xy = f_yx", relative: 1e-14);

            // third order: ∂/∂y of Σ f_xx = (2 + x)eˣ
            AssertClose(xs.Select(a => (2 + a) * Math.Exp(a)), Autograd.Grad(fromFx[0]!.Value.Sum(), y)!.Value, "f_xxy");

            // without allowUnused, f_yy is PyTorch's error
            var ex = Assert.Throws<InvalidOperationException>(() => Autograd.Grad([g[1]!.Value.Sum()], [x, y]));
            Assert.Equal(TorchMessage("unused_input"), ex.Message);
        }
    }

    // ---- Hessian-vector products ----

    /// <summary>
    /// f(A, B) = Σ (AB)²/2: ∂f/∂A = AB Bᵀ, ∂f/∂B = Aᵀ A B. Along V (for A): ∂/∂A ⟨∂f/∂A, V⟩ = V B Bᵀ and
    /// ∂/∂B ⟨∂f/∂A, V⟩ = (Vᵀ A + Aᵀ V) B. Along W (for B): ∂/∂B ⟨∂f/∂B, W⟩ = Aᵀ A W and
    /// ∂/∂A ⟨∂f/∂B, W⟩ = A (B Wᵀ + W Bᵀ).
    /// </summary>
    [Fact]
    public void Mm_HessianVectorProducts_MatchTheClosedForms()
    {
        double[,] a = { { 0.5, -1.2, 0.8 }, { 1.1, 0.3, -0.7 } };
        double[,] b = { { 0.2, -0.9, 1.4, 0.6 }, { -1.3, 0.7, 0.1, -0.4 }, { 0.9, 0.5, -0.8, 1.2 } };
        double[,] v = { { 0.3, 0.9, -0.5 }, { -0.6, 0.2, 1.0 } };
        double[,] w = { { 1.0, -0.2, 0.4, 0.7 }, { 0.5, 0.6, -0.9, 0.1 }, { -0.3, 0.8, 0.2, -1.1 } };
        using (Autograd.Scope())
        {
            Tensor A = Tensor.From(a, requiresGrad: true), B = Tensor.From(b, requiresGrad: true);
            Tensor f = Tensor.Mm(A, B).Pow(2).Sum() / 2;
            Tensor?[] g = Autograd.Grad([f], [A, B], createGraph: true);
            Assert.Equal("MmBackward0", g[0]!.Value.GradFn); // as PyTorch
            Assert.Equal("MmBackward0", g[1]!.Value.GradFn);
            AssertClose(Flat(Mul(Mul(a, b), T(b))), g[0]!.Value, "df/dA = AB B^T");
            AssertClose(Flat(Mul(Mul(T(a), a), b)), g[1]!.Value, "df/dB = A^T A B");

            Tensor?[] alongV = Autograd.Grad([(g[0]!.Value * Tensor.From(v)).Sum()], [A, B], retainGraph: true);
            AssertClose(Flat(Mul(Mul(v, b), T(b))), alongV[0]!.Value, "d<df/dA, V>/dA = V B B^T");
            AssertClose(Flat(Mul(Add(Mul(T(v), a), Mul(T(a), v)), b)), alongV[1]!.Value, "d<df/dA, V>/dB = (V^T A + A^T V) B");

            Tensor?[] alongW = Autograd.Grad([(g[1]!.Value * Tensor.From(w)).Sum()], [A, B]);
            AssertClose(Flat(Mul(Mul(T(a), a), w)), alongW[1]!.Value, "d<df/dB, W>/dB = A^T A W");
            AssertClose(Flat(Mul(a, Add(Mul(b, T(w)), Mul(w, T(b))))), alongW[0]!.Value, "d<df/dB, W>/dA = A (B W^T + W B^T)");
        }
    }

    /// <summary>
    /// f = Σ (x + b)³ with x [2, 3] and b [3] broadcast over rows: ∂f/∂b = Σ_rows 3(x + b)², and along v:
    /// ∂/∂b ⟨∂f/∂b, v⟩ = Σ_rows 6(x + b)·v, ∂/∂x ⟨∂f/∂b, v⟩ = 6(x + b)·v in every row.
    /// </summary>
    [Fact]
    public void Broadcasting_HessianVectorProducts_SumOverTheBroadcastRows()
    {
        double[,] xs = { { 0.4, -1.0, 0.7 }, { 1.2, 0.1, -0.6 } };
        double[] bs = [0.3, -0.5, 0.9], vs = [0.8, -0.3, 0.5];
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(xs, requiresGrad: true), b = Tensor.From(bs, requiresGrad: true);
            Tensor gb = Autograd.Grad((x + b).Pow(3).Sum(), b, createGraph: true)!.Value;
            Assert.Equal([3], gb.Shape.ToArray());
            AssertClose(Enumerable.Range(0, 3).Select(j => 3 * (Sq(xs[0, j] + bs[j]) + Sq(xs[1, j] + bs[j]))), gb, "df/db");
            Tensor?[] h = Autograd.Grad([(gb * Tensor.From(vs)).Sum()], [x, b]);
            AssertClose(Enumerable.Range(0, 3).Select(j => 6 * (xs[0, j] + xs[1, j] + 2 * bs[j]) * vs[j]), h[1]!.Value, "d<df/db, v>/db");
            AssertClose(Enumerable.Range(0, 6).Select(k => 6 * (xs[k / 3, k % 3] + bs[k % 3]) * vs[k % 3]), h[0]!.Value, "d<df/db, v>/dx");
        }
    }

    /// <summary>mean(x³) over n: 3x²/n, then 6x/n; mean(x)²: every ∂² is 2/n², so the Hessian along v is 2Σv/n² everywhere.</summary>
    [Fact]
    public void Mean_SecondDerivatives_MatchTheClosedForms()
    {
        double[,] xs = { { 0.4, -1.0, 0.7 }, { 1.2, 0.1, -0.6 } };
        double[] flat = Flat(xs), vs = [0.5, -0.2, 0.9, 0.3, -0.7, 0.1];
        const double n = 6;
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(xs, requiresGrad: true);
            Tensor g = Autograd.Grad(x.Pow(3).Mean(), x, createGraph: true)!.Value;
            AssertClose(flat.Select(a => 3 * a * a / n), g, "d mean(x^3)/dx");
            AssertClose(flat.Select(a => 6 * a / n), Autograd.Grad(g.Sum(), x)!.Value, "d2 mean(x^3)/dx2");

            Tensor gm = Autograd.Grad(x.Mean().Pow(2), x, createGraph: true)!.Value;
            AssertClose(flat.Select(_ => 2 * flat.Sum() / (n * n)), gm, "d mean(x)^2/dx");
            Tensor v = Tensor.FromSpan<double>(vs, [2, 3]);
            AssertClose(flat.Select(_ => 2 * vs.Sum() / (n * n)), Autograd.Grad((gm * v).Sum(), x)!.Value, "H v of mean(x)^2");
        }
    }

    /// <summary>‖x‖: gradient x/‖x‖; Hessian (I - x xᵀ/‖x‖²)/‖x‖, so along v: (v - x (x·v)/‖x‖²)/‖x‖.</summary>
    [Fact]
    public void Norm_HessianVectorProduct_MatchesTheClosedForm()
    {
        double[] xs = [0.6, -1.3, 0.4, 2.0], vs = [0.2, 0.7, -0.5, 0.1];
        double norm = Math.Sqrt(xs.Sum(a => a * a)), dot = xs.Zip(vs, (a, b) => a * b).Sum();
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(xs, requiresGrad: true);
            Tensor g = Autograd.Grad(x.Norm(), x, createGraph: true)!.Value;
            AssertClose(xs.Select(a => a / norm), g, "d|x|/dx");
            Assert.Equal("MulBackward0", g.GradFn); // as PyTorch (norm's backward: self * grad / result)
            Tensor h = Autograd.Grad((g * Tensor.From(vs)).Sum(), x)!.Value;
            AssertClose(xs.Zip(vs, (a, b) => (b - a * dot / (norm * norm)) / norm), h, "H v of |x|");
        }
    }

    /// <summary>y = zeros(3, 1); y[0] = x³; y[1] = x²: Σy = x³ + x², so 3x² + 2x, 6x + 2, then 6.</summary>
    [Fact]
    public void IndexAssignment_DifferentiatesThreeTimes()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(new[] { 0.7 }, requiresGrad: true);
            Tensor y = Tensor.Zeros(3, 1, DType.Float64);
            y[0] = x.Pow(3);
            y[1] = x.Pow(2);
            Assert.Equal("CopySlices", y.GradFn);
            Tensor g1 = Autograd.Grad(y.Sum(), x, createGraph: true)!.Value;
            Tensor g2 = Autograd.Grad(g1.Sum(), x, createGraph: true)!.Value;
            Tensor g3 = Autograd.Grad(g2.Sum(), x)!.Value;
            AssertClose([3 * 0.49 + 2 * 0.7], g1, "3x^2 + 2x");
            AssertClose([6 * 0.7 + 2], g2, "6x + 2");
            AssertClose([6.0], g3, "6");
        }
    }

    /// <summary>The same graph through Backward(createGraph) and a backward from x.Grad: 3x² + 2x + (6x + 2).</summary>
    [Fact]
    public void IndexAssignment_SecondDerivative_ThroughBackward()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(new[] { 0.7 }, requiresGrad: true);
            Tensor y = Tensor.Zeros(3, 1, DType.Float64);
            y[0] = x.Pow(3);
            y[1] = x.Pow(2);
            y.Sum().Backward(createGraph: true);
            Assert.Equal("CopyBackwards", x.Grad!.Value.GradFn);
            x.Grad!.Value.Sum().Backward();
            AssertClose([3 * 0.49 + 2 * 0.7 + 6 * 0.7 + 2], x.Grad!.Value, "(3x^2 + 2x) + (6x + 2)");
            x.Grad = null;
        }
    }

    /// <summary>
    /// x [2, 3] through views: f = Σ (xᵀ[1])³ (column 1) + Σ exp(x[:, 0:3:2]) (columns 0 and 2) +
    /// Σ (x[0] expanded to 4 rows)² (row 0, four times). The Hessian is diagonal:
    /// H_ij = (j = 1 ? 6x : eˣ) + (i = 0 ? 8 : 0), so the product along v is H ⊙ v.
    /// </summary>
    [Fact]
    public void Views_SelectSliceTransposeExpand_HessianVectorProduct()
    {
        double[,] xs = { { 0.4, -1.0, 0.7 }, { 1.2, 0.1, -0.6 } };
        double[,] vs = { { 0.5, -0.2, 0.9 }, { 0.3, -0.7, 0.1 } };
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(xs, requiresGrad: true);
            Tensor f = x.T()[1].Pow(3).Sum()
                + x.Slice(1, 0, 3, 2).Exp().Sum()
                + x[0].Unsqueeze(0).Expand(4, 3).Pow(2).Sum()
                + x.Transpose(0, 1).Select(1, 1).Sum(); // linear: drops out of the Hessian
            Tensor g = Autograd.Grad(f, x, createGraph: true)!.Value;
            AssertClose(Cells(xs, (i, j, a) => (j == 1 ? 3 * a * a : Math.Exp(a)) + (i == 0 ? 8 * a : 0) + (i == 1 ? 1 : 0)), g, "df/dx");
            Tensor h = Autograd.Grad((g * Tensor.From(vs)).Sum(), x)!.Value;
            AssertClose(Cells(xs, (i, j, a) => ((j == 1 ? 6 * a : Math.Exp(a)) + (i == 0 ? 8 : 0)) * vs[i, j]), h, "H v");
        }
    }

    /// <summary>Σ where(x > 0, x³, eˣ): the second derivative follows the branch, 6x or eˣ.</summary>
    [Fact]
    public void Where_SecondDerivative_FollowsTheBranch()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor g = Autograd.Grad(Tensor.Where(x > 0, x.Pow(3), x.Exp()).Sum(), x, createGraph: true)!.Value;
            AssertClose(Signed.Select(a => a > 0 ? 3 * a * a : Math.Exp(a)), g, "where'");
            AssertClose(Signed.Select(a => a > 0 ? 6 * a : Math.Exp(a)), Autograd.Grad(g.Sum(), x)!.Value, "where''");
        }
    }

    /// <summary>
    /// The double-backward trick for a Jacobian-vector product: g(u) = Jᵀu is linear in a gradOutput u
    /// that requires grad, so ∂⟨g, w⟩/∂u = J w. For y = x·tanh x, J is diagonal: tanh x + x(1 - tanh² x).
    /// </summary>
    [Fact]
    public void GradOutputThatRequiresGrad_IsPartOfTheGraph_GivingJacobianVectorProducts()
    {
        double[] ws = [1.0, 2.0, -3.0, 0.5, -1.5];
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor u = Tensor.Zeros(5, DType.Float64, requiresGrad: true); // the value of u does not matter: g is linear in it
            Tensor g = Autograd.Grad(x * x.Tanh(), x, u, createGraph: true)!.Value;
            Tensor jw = Autograd.Grad((g * Tensor.From(ws)).Sum(), u)!.Value;
            AssertClose(Signed.Zip(ws, (a, w) => (Math.Tanh(a) + a * (1 - Math.Tanh(a) * Math.Tanh(a))) * w), jw, "J w");
        }
    }

    /// <summary>Derivatives with respect to a non-leaf: h = eˣ, f = Σh³: ∂f/∂h = 3h², ∂²f/∂h² = 6h, and ∂(Σ 6h)/∂x = 6eˣ.</summary>
    [Fact]
    public void SecondDerivatives_WithRespectToANonLeaf_ThenBackToTheLeaf()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor h = x.Exp();
            Tensor g = Autograd.Grad(h.Pow(3).Sum(), h, createGraph: true)!.Value;
            Tensor g2 = Autograd.Grad(g.Sum(), h, createGraph: true)!.Value;
            AssertClose(Signed.Select(a => 3 * Math.Exp(2 * a)), g, "df/dh = 3h^2");
            AssertClose(Signed.Select(a => 6 * Math.Exp(a)), g2, "d2f/dh2 = 6h");
            AssertClose(Signed.Select(a => 6 * Math.Exp(a)), Autograd.Grad(g2.Sum(), x)!.Value, "d(sum 6h)/dx = 6e^x");
        }
    }

    /// <summary>PyTorch: a non-leaf's .grad from backward(createGraph, inputs) is a clone (CloneBackward0), a leaf's a copy (CopyBackwards).</summary>
    [Fact]
    public void BackwardIntoANonLeaf_UnderCreateGraph_ClonesTheGradient()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor h = x * 1;
            h.Pow(3).Sum().Backward(createGraph: true, inputs: [h, x]);
            Assert.Equal("CloneBackward0", h.Grad!.Value.GradFn);
            Assert.Equal("CopyBackwards", x.Grad!.Value.GradFn);
            AssertClose(Signed.Select(a => 3 * a * a), h.Grad!.Value, "df/dh = 3h^2");
            AssertClose(Signed.Select(a => 6 * a), Autograd.Grad(h.Grad!.Value.Sum(), x)!.Value, "d(sum 3h^2)/dx = 6h");
        }
    }

    // ---- createGraph changes no bit of the gradients ----

    private sealed record BitGraph(string Name, int[][] Shapes, Func<Tensor[], Tensor> F, bool ExplicitGradient = false);

    private static readonly BitGraph[] BitGraphs =
    [
        new("mlp", [[4, 3], [3, 5], [5], [5, 2], [2]],
            t => (Tensor.Mm((Tensor.Mm(t[0], t[1]) + t[2]).Tanh(), t[3]) + t[4]).Sigmoid().Mean()),
        new("broadcast_mul_add", [[2, 3], [3], [2, 1]], t => (t[0] * t[1] + t[2]).Pow(2).Sum()),
        new("index_assignment", [[3, 2], [2]], t =>
        {
            Tensor y = t[0] * 2;
            y[1] = t[1].Exp();
            y[0, 1] = t[1][0] * 3;
            return (y * y).Sum();
        }),
        new("fan_out", [[2, 3]], t => (t[0].Exp() * t[0].Tanh() + t[0] * t[0] + t[0].Sigmoid() * t[0]).Sum()),
        new("views", [[3, 4], [4]], t =>
            (t[0].T()[1] * t[0][0][..3]).Sum() + t[0].Slice(1, 0, 4, 2).Pow(3).Sum() + (t[1].Unsqueeze(0).Expand(3, 4) * t[0]).Exp().Sum()),
        new("division_and_norm", [[2, 3], [3]], t => (t[0] / (t[1] * t[1] + 0.5) + t[0] / t[0].Norm()).Pow(2).Sum()),
        new("variance", [[2, 3]], t => (t[0] - t[0].Mean()).Pow(2).Mean()),
        new("where", [[2, 3], [2, 3]], t => Tensor.Where(t[0] > 0, t[0].Pow(3), t[1].Exp() * t[0]).Sum()),
        new("fractional_pow_log", [[2, 3]], t => (t[0] * t[0] + 1).Pow(2.5).Log().Sum()),
        new("products", [[3, 3], [3], [3, 2]], t => Tensor.Dot(Tensor.Mv(t[0], t[1]), t[1]) + Tensor.MatMul(t[1], t[2]).Tanh().Sum() + Tensor.Dot(t[1], t[1])),
        new("copy_into_zeros", [[3], [2, 3]], t =>
        {
            Tensor y = Tensor.Zeros(2, 3, t[0].DType);
            y.Copy_(t[0].Exp());
            return (y * t[1]).Sum();
        }),
        new("reciprocal_relu_softplus", [[2, 3]], t => (t[0].Relu() + (t[0] * t[0] + 0.3).Reciprocal() + (t[0].Exp() + 1).Log()).Sum()),
        new("loop", [[2, 3], [3, 3]], t =>
        {
            Tensor h = t[0];
            for (int i = 0; i < 3; i++) h = Tensor.Mm(h, t[1]).Tanh() + h;
            return h.Sum();
        }),
        new("explicit_gradient", [[2, 3], [3]], t => (t[0] * t[1]).Sigmoid() * t[0], ExplicitGradient: true),
    ];

    public static TheoryData<string, DType> BitGraphCases()
    {
        var data = new TheoryData<string, DType>();
        foreach (BitGraph g in BitGraphs)
        {
            data.Add(g.Name, DType.Float32);
            data.Add(g.Name, DType.Float64);
        }
        return data;
    }

    /// <summary>
    /// The rules run the same kernels whether they record or not, so the gradients of Autograd.Grad and of
    /// Backward are the same bits with and without createGraph (PyTorch's are too).
    /// </summary>
    [Theory]
    [MemberData(nameof(BitGraphCases))]
    public void Gradients_UnderCreateGraph_EqualThePlainGradients_BitForBit(string name, DType dtype)
    {
        BitGraph graph = BitGraphs.Single(g => g.Name == name);
        using (Autograd.Scope())
        {
            Autograd.ManualSeed(StableSeed(name));
            Tensor[] inputs = graph.Shapes.Select(s => Tensor.Randn(s, dtype, requiresGrad: true)).ToArray();
            Tensor?[] gradient = [null];
            if (graph.ExplicitGradient) gradient[0] = Tensor.Randn(graph.F(inputs).Shape.AsSpan(), dtype);

            Tensor?[] plain = Autograd.Grad([graph.F(inputs)], inputs, gradient);
            Tensor?[] created = Autograd.Grad([graph.F(inputs)], inputs, gradient, createGraph: true);
            for (int i = 0; i < inputs.Length; i++)
            {
                Assert.True(created[i]!.Value.RequiresGrad, $"{name}: input {i}'s gradient under createGraph has no graph (every graph here is non-linear in each input)");
                Assert.False(plain[i]!.Value.RequiresGrad, $"{name}: input {i}'s plain gradient has a graph");
                AssertSameBits(plain[i]!.Value, created[i]!.Value, $"{name} ({dtype}): Autograd.Grad, input {i}");
            }

            graph.F(inputs).Backward(gradient[0]);
            Tensor[] plainGrads = inputs.Select(x => x.Grad!.Value.Clone()).ToArray();
            foreach (Tensor x in inputs) x.Grad = null;
            graph.F(inputs).Backward(gradient[0], createGraph: true);
            for (int i = 0; i < inputs.Length; i++)
                AssertSameBits(plainGrads[i], inputs[i].Grad!.Value, $"{name} ({dtype}): Backward, input {i}");
            foreach (Tensor x in inputs) x.Grad = null;
        }
    }

    /// <summary>
    /// 200,000 elements: past the fusion threshold and cut into chunks on the worker pool. The first
    /// gradient under createGraph equals the plain one bit for bit, and the second derivative of
    /// f = Σ x·tanh x + x³ + log(x² + 1) matches its closed form at every element, the same bits at 1 and 2 threads.
    /// </summary>
    [Fact]
    public void LargeTensors_SecondDerivative_MatchesTheClosedForm_AtOneAndTwoThreads()
    {
        const int n = 200_000;
        int previous = Autograd.NumThreads;
        var results = new List<double[]>();
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                Autograd.SetNumThreads(threads);
                using (Autograd.Scope())
                {
                    Autograd.ManualSeed(11);
                    Tensor x = Tensor.Randn([n], DType.Float64, requiresGrad: true);
                    Tensor F() => (x * x.Tanh() + x.Pow(3) + (x * x + 1).Log()).Sum();
                    Tensor plain = Autograd.Grad(F(), x)!.Value;
                    Tensor g = Autograd.Grad(F(), x, createGraph: true)!.Value;
                    AssertSameBits(plain, g, $"first gradient at {threads} thread(s)");
                    Tensor h = Autograd.Grad(g.Sum(), x)!.Value;
                    // (x tanh x)'' = 2(1 - t²) - 2x t(1 - t²); (x³)'' = 6x; log(x² + 1)'' = 2(1 - x²)/(x² + 1)²
                    AssertClose(x.ToArray<double>().Select(a =>
                    {
                        double t = Math.Tanh(a), u = a * a + 1;
                        return 2 * (1 - t * t) - 2 * a * t * (1 - t * t) + 6 * a + 2 * (1 - a * a) / (u * u);
                    }), h, $"f'' at {threads} thread(s)");
                    results.Add(h.ToArray<double>());
                }
            }
        }
        finally
        {
            Autograd.SetNumThreads(previous);
        }
        Assert.True(results[0].Select(BitConverter.DoubleToInt64Bits).SequenceEqual(results[1].Select(BitConverter.DoubleToInt64Bits)),
            "the second derivative differs between 1 and 2 threads");
    }

    // ---- errors, and the library working after each ----

    [Fact]
    public void Grad_OfAnInputTheOutputDoesNotUse_FailsWithPyTorchsMessage_OrIsNullWhenAllowed()
    {
        // One of the differentiated Tensors appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior.
        var ex = Fails<InvalidOperationException>(() =>
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true), y = Tensor.From(Positive, requiresGrad: true);
            Autograd.Grad([(x * x).Sum()], [x, y]);
        });
        Assert.Equal(TorchMessage("unused_input"), ex.Message);

        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true), y = Tensor.From(Positive, requiresGrad: true);
            Tensor?[] g = Autograd.Grad([(x * x).Sum()], [x, y], allowUnused: true);
            AssertClose(Signed.Select(a => 2 * a), g[0]!.Value, "d(x.x)/dx");
            Assert.Null(g[1]);
        }
    }

    [Fact]
    public void Grad_OfAnInputThatDoesNotRequireGrad_Fails()
    {
        // One of the differentiated Tensors does not require grad
        var ex = Fails<InvalidOperationException>(() =>
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Autograd.Grad((x * x).Sum(), Tensor.Ones(5, DType.Float64));
        });
        Assert.Equal(TorchMessage("input_without_grad"), ex.Message);
    }

    [Fact]
    public void Grad_OfANonScalarOutput_NeedsAGradOutput()
    {
        // grad can be implicitly created only for scalar outputs
        var ex = Fails<InvalidOperationException>(() =>
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Autograd.Grad(x * 2, x);
        });
        Assert.Equal(TorchMessage("implicit_non_scalar"), ex.Message);
    }

    [Fact]
    public void Grad_WithAGradOutputOfTheWrongShape_Fails()
    {
        // Mismatch in shape: grad_output[0] has a shape of torch.Size([3]) and output[0] has a shape of torch.Size([2]).
        var ex = Fails<ArgumentException>(() =>
        {
            Tensor x = Tensor.From(new[] { 1.0, 2.0 }, requiresGrad: true);
            Autograd.Grad(x * 2, x, Tensor.Ones(3, DType.Float64), createGraph: true);
        });
        Assert.Equal(TorchMessage("grad_output_shape"), ex.Message);
    }

    /// <summary>The gradient of a linear function is a constant: differentiating it again is PyTorch's "does not require grad".</summary>
    [Fact]
    public void SecondDerivative_OfALinearFunction_Fails_AsInPyTorch()
    {
        // element 0 of tensors does not require grad and does not have a grad_fn
        var ex = Fails<InvalidOperationException>(() =>
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor g = Autograd.Grad((x * 2).Sum(), x, createGraph: true)!.Value;
            Assert.False(g.RequiresGrad);
            Autograd.Grad(g.Sum(), x);
        });
        Assert.Equal(TorchMessage("second_derivative_of_linear"), ex.Message);
    }

    [Fact]
    public void Grad_Twice_WithoutRetainGraph_Fails_WhileCreateGraphRetainsIt()
    {
        // Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). ...
        var ex = Fails<InvalidOperationException>(() =>
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor y = x.Tanh().Sum();
            Autograd.Grad(y, x);
            Autograd.Grad(y, x);
        });
        string torch = TorchMessage("twice_without_retain");
        Assert.StartsWith(torch[..(torch.IndexOf(". ", StringComparison.Ordinal) + 1)], ex.Message);

        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor y = x.Tanh().Sum();
            Tensor first = Autograd.Grad(y, x, createGraph: true)!.Value; // retainGraph defaults to createGraph
            Tensor second = Autograd.Grad(y, x)!.Value;
            AssertSameBits(first, second, "tanh' twice");
        }
    }

    /// <summary>A saved value modified in place fails a createGraph pass half-way; nothing it made outlives the scope.</summary>
    [Fact]
    public void CreateGraph_ThroughAModifiedSavedValue_FailsWithoutLeaking()
    {
        // one of the variables needed for gradient computation has been modified by an inplace operation: [torch.DoubleTensor [5]], which is output 0 of ExpBackward0, ...
        var ex = Fails<InvalidOperationException>(() =>
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor y = x.Exp();
            Tensor z = (y * x).Sum() + y.Sum();
            using (Autograd.NoGrad()) y.Mul_(2);
            Autograd.Grad(z, x, createGraph: true);
        });
        Assert.StartsWith("one of the variables needed for gradient computation has been modified by an inplace operation", ex.Message);
    }

    /// <summary>An error at second order (the first-order graph already exists, with its createGraph nodes) leaks nothing either.</summary>
    [Fact]
    public void SecondOrderErrors_InsideAScope_LeaveThePoolAsItWas()
    {
        Fails<InvalidOperationException>(() =>
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true), y = Tensor.From(Positive, requiresGrad: true);
            Tensor?[] g = Autograd.Grad([(x * y * x.Exp()).Sum()], [x, y], createGraph: true);
            Autograd.Grad([g[1]!.Value.Sum()], [x, y], createGraph: true); // y does not reach ∂f/∂y
        });
        Fails<ArgumentException>(() =>
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            Tensor g = Autograd.Grad(x.Pow(3).Sum(), x, createGraph: true)!.Value;
            Autograd.Grad(g, x, Tensor.Ones(4, DType.Float64), createGraph: true);
        });
        Fails<InvalidOperationException>(() =>
        {
            Tensor x = Tensor.From(Signed, requiresGrad: true);
            x.Sigmoid().Sum().Backward(createGraph: true);
            Tensor g = x.Grad!.Value;
            x.Grad = null;
            Autograd.Grad(g, x, createGraph: true); // non-scalar without a gradOutput
        });
    }

    // ---- an MLP's Hessian-vector product against finite differences of its gradient ----

    /// <summary>
    /// loss(w) = mean((tanh(x W1 + b1) W2 + b2)²), x [4, 3] constant. Double backward gives H v =
    /// ∂/∂w ⟨∇loss(w), v⟩; central differences of the gradient give (∇loss(w + hv) - ∇loss(w - hv)) / 2h,
    /// accurate to O(h²) ≈ 1e-10 with h = 1e-5 (round-off ≈ 1e-16 / h = 1e-11).
    /// </summary>
    [Fact]
    public void Mlp_HessianVectorProduct_MatchesFiniteDifferencesOfTheGradient()
    {
        int[][] shapes = [[3, 5], [5], [5, 2], [2]];
        const double h = 1e-5;
        using (Autograd.Scope())
        {
            Autograd.ManualSeed(20261201);
            Tensor x = Tensor.Randn(4, 3, DType.Float64);
            double[][] w = shapes.Select(s => Tensor.Randn(s, DType.Float64).ToArray<double>()).ToArray();
            double[][] v = shapes.Select(s => Tensor.Randn(s, DType.Float64).ToArray<double>()).ToArray();

            Tensor Loss(Tensor[] p) => (Tensor.Mm((Tensor.Mm(x, p[0]) + p[1]).Tanh(), p[2]) + p[3]).Pow(2).Mean();
            Tensor[] Leaves(Func<int, int, double> value) => shapes.Select((s, i) =>
                Tensor.FromSpan<double>(w[i].Select((_, k) => value(i, k)).ToArray(), s, requiresGrad: true)).ToArray();

            Tensor[] p = Leaves((i, k) => w[i][k]);
            Tensor?[] g = Autograd.Grad([Loss(p)], p, createGraph: true);
            Tensor s = g.Select((gi, i) => (gi!.Value * Tensor.FromSpan<double>(v[i], shapes[i])).Sum()).Aggregate((a, b) => a + b);
            Tensor?[] hv = Autograd.Grad([s], p);

            Tensor[] plus = Leaves((i, k) => w[i][k] + h * v[i][k]), minus = Leaves((i, k) => w[i][k] - h * v[i][k]);
            Tensor?[] gPlus = Autograd.Grad([Loss(plus)], plus), gMinus = Autograd.Grad([Loss(minus)], minus);

            double[][] analytic = hv.Select(t => t!.Value.ToArray<double>()).ToArray();
            double[][] numeric = shapes.Select((_, i) => gPlus[i]!.Value.ToArray<double>()
                .Zip(gMinus[i]!.Value.ToArray<double>(), (a, b) => (a - b) / (2 * h)).ToArray()).ToArray();
            double scale = numeric.SelectMany(a => a).Max(Math.Abs);
            Assert.True(scale > 1e-3, $"the Hessian-vector product is nearly zero ({scale}): the check would be vacuous");
            for (int i = 0; i < shapes.Length; i++)
            {
                for (int k = 0; k < analytic[i].Length; k++)
                {
                    double tolerance = 1e-6 * Math.Max(Math.Abs(numeric[i][k]), 0.1 * scale);
                    Assert.True(Math.Abs(analytic[i][k] - numeric[i][k]) <= tolerance,
                        $"parameter {i}[{k}]: double backward {analytic[i][k]:R}, finite differences {numeric[i][k]:R}");
                }
            }
        }
    }

    // ---- a gradient penalty that trains ----

    /// <summary>
    /// WGAN-GP's penalty on a tiny critic D(x) = tanh(x W1) W2 over a batch of 16 points in 2-d:
    /// loss = mean D(x) + λ · mean_i (‖∂D(x_i)/∂x_i‖₂ - 1)², with ∂D/∂x from Autograd.Grad(createGraph: true)
    /// kept in the loss, so loss.Backward() differentiates through it (a second-order graph). Plain SGD
    /// under NoGrad, each step in its own scope. The penalty must fall well below its start, and the
    /// pool, the live tensors and the tape must be the same between steps.
    /// </summary>
    [Fact]
    public void GradientPenalty_Trains_AndThePoolStaysFlat()
    {
        const int batch = 16, dim = 2, hidden = 8, steps = 200;
        const double lambda = 10, lr = 0.01;
        Autograd.ManualSeed(7);
        double[] data = Tensor.Randn(batch, dim, DType.Float64).ToArray<double>();
        Tensor w1 = Tensor.Randn(dim, hidden, DType.Float64, requiresGrad: true);
        Tensor w2 = Tensor.Randn(hidden, 1, DType.Float64, requiresGrad: true);
        Tensor ones = Tensor.Ones(dim, 1, DType.Float64);

        double Step()
        {
            using (Autograd.Scope())
            {
                Tensor x = Tensor.FromSpan<double>(data, [batch, dim], requiresGrad: true);
                Tensor d = Tensor.Mm(Tensor.Mm(x, w1).Tanh(), w2);                      // [16, 1]
                Tensor g = Autograd.Grad(d.Sum(), x, createGraph: true)!.Value;         // row i: ∂D(x_i)/∂x_i (samples are independent)
                Tensor norms = Tensor.Mm(g * g, ones).Pow(0.5);                         // [16, 1]: ‖g_i‖₂
                Tensor penalty = (norms - 1).Pow(2).Mean();
                Tensor loss = d.Mean() + lambda * penalty;
                loss.Backward();
                using (Autograd.NoGrad())
                {
                    foreach (Tensor p in new[] { w1, w2 })
                    {
                        p.Add_(p.Grad!.Value, alpha: -lr);
                        p.Grad!.Value.Zero_();
                    }
                }
                return penalty.Item();
            }
        }

        // The first step makes w1.Grad and w2.Grad out of its gradient buffers, so the second makes
        // two more for its own gradients: the steady state starts after it.
        double first = Step();
        double last = Step();
        var statistics = Autograd.PoolStatistics();
        for (int i = 2; i < steps; i++)
        {
            last = Step();
            Assert.Equal(statistics, Autograd.PoolStatistics());
        }
        Assert.True(first > 0.5, $"the penalty starts at {first}: too small to show training");
        Assert.True(last < 0.1 * first, $"the penalty went from {first} to {last} in {steps} steps");
        Assert.True(double.IsFinite(w1.Sum().Item()) && double.IsFinite(w2.Sum().Item()));
    }

    // ---- helpers ----

    private static double Sq(double a) => a * a;

    private static void AssertClose(IEnumerable<double> expected, Tensor actual, string what, double relative = 1e-12)
    {
        double[] e = expected.ToArray(), got = actual.ToArray<double>();
        Assert.True(e.Length == got.Length, $"{what}: {got.Length} elements, expected {e.Length}");
        double scale = e.Length == 0 ? 0 : e.Max(Math.Abs);
        for (int i = 0; i < e.Length; i++)
        {
            // relative, with a floor at 1% of the largest magnitude for entries near zero
            double tolerance = relative * Math.Max(Math.Abs(e[i]), 0.01 * scale) + 1e-300;
            if (Math.Abs(got[i] - e[i]) <= tolerance) continue;
            Assert.Fail($"{what}[{i}]: got {got[i]:R}, expected {e[i]:R}\n  got      [{Head(got)}]\n  expected [{Head(e)}]");
        }
    }

    private static void AssertSameBits(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.DType, actual.DType);
        Assert.Equal(expected.Shape, actual.Shape);
        double[] a = Values(expected), b = Values(actual);
        for (int i = 0; i < a.Length; i++)
        {
            // float32 widens to double exactly, so comparing the doubles' bits compares the floats' bits
            if (BitConverter.DoubleToInt64Bits(a[i]) == BitConverter.DoubleToInt64Bits(b[i])) continue;
            Assert.Fail($"{what}[{i}]: {a[i]:R} plain, {b[i]:R} under createGraph");
        }
    }

    private static double[] Values(Tensor t) => t.DType == DType.Float32 ? Array.ConvertAll(t.ToArray<float>(), v => (double)v) : t.ToArray<double>();

    /// <summary>The first elements of a long array, for failure messages.</summary>
    private static string Head(double[] values) => string.Join(", ", values.Take(12)) + (values.Length > 12 ? $", ... ({values.Length} in all)" : "");

    /// <summary>
    /// Runs <paramref name="action"/> in a scope, expects exactly <typeparamref name="TException"/>,
    /// checks nothing outlived the scope (tensors and tape nodes), and that first and second derivatives still come out right.
    /// </summary>
    private static TException Fails<TException>(Action action) where TException : Exception
    {
        var before = Autograd.PoolStatistics();
        TException ex;
        using (Autograd.Scope()) ex = Assert.Throws<TException>(action);
        var after = Autograd.PoolStatistics();
        Assert.Equal(before.LiveTensors, after.LiveTensors);
        Assert.Equal(before.RecordedNodes, after.RecordedNodes); // the tape too: nodes recorded under createGraph go with the scope
        AssertLibraryStillWorks();
        return ex;
    }

    private static void AssertLibraryStillWorks()
    {
        int before = Autograd.PoolStatistics().LiveTensors;
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(new[] { 1.0, 2.0, 3.0 }, requiresGrad: true);
            Tensor w = Tensor.From(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } }, requiresGrad: true);
            // y = Σ (x @ w) * x[0:2] = 22·1 + 28·2
            Tensor y = (Tensor.MatMul(x, w) * x[0..2]).Sum();
            Assert.Equal(78.0, y.Item());
            // y = x0 (x·w0) + x1 (x·w1) with the columns w0 = [1, 3, 5], w1 = [2, 4, 6]:
            // dy/dx = w0 x0 + w1 x1 + [x·w0, x·w1, 0] = [27, 39, 17]
            Tensor g = Autograd.Grad(y, x, createGraph: true)!.Value;
            Assert.Equal(new[] { 27.0, 39.0, 17.0 }, g.ToArray<double>());
            // Σ dy/dx = 9 x0 + 12 x1 + x·(w0 + w1), whose gradient is [9, 12, 0] + w0 + w1 = [12, 19, 11]
            Assert.Equal(new[] { 12.0, 19.0, 11.0 }, Autograd.Grad(g.Sum(), x)!.Value.ToArray<double>());
        }
        Assert.Equal(before, Autograd.PoolStatistics().LiveTensors);
    }

    private static string TorchMessage(string scenario)
        => HigherOrderFixtures.Errors.TryGetValue(scenario, out string? m)
            ? m.Replace("allow_unused=True", "allowUnused: true", StringComparison.Ordinal)
            : throw new KeyNotFoundException($"higher_order.json has no error scenario '{scenario}'");

    private static ulong StableSeed(string name)
    {
        ulong h = 14695981039346656037;
        foreach (char ch in name) h = (h ^ ch) * 1099511628211;
        return h;
    }

    // small dense matrices for the closed forms
    private static double[,] Mul(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), k = a.GetLength(1), m = b.GetLength(1);
        var c = new double[n, m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                for (int l = 0; l < k; l++) c[i, j] += a[i, l] * b[l, j];
        return c;
    }

    private static double[,] T(double[,] a)
    {
        var t = new double[a.GetLength(1), a.GetLength(0)];
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++) t[j, i] = a[i, j];
        return t;
    }

    private static double[,] Add(double[,] a, double[,] b)
    {
        var c = new double[a.GetLength(0), a.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++) c[i, j] = a[i, j] + b[i, j];
        return c;
    }

    private static double[] Flat(double[,] a) => a.Cast<double>().ToArray();

    private static double[] Cells(double[,] a, Func<int, int, double, double> f)
    {
        var r = new double[a.Length];
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++) r[i * a.GetLength(1) + j] = f(i, j, a[i, j]);
        return r;
    }
}

/// <summary>The error messages PyTorch gave, recorded by tests/oracle/higher_order_fixtures.py.</summary>
internal static class HigherOrderFixtures
{
    private static readonly Lazy<Dictionary<string, string>> s_errors = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "higher_order.json");
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("errors").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    });

    public static Dictionary<string, string> Errors => s_errors.Value;
}
