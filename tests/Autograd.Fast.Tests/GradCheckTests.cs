using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// Autograd.GradCheck and GradGradCheck (torch.autograd.gradcheck / gradgradcheck): they pass on every
/// case of the finite-difference registry, catch planted wrong derivatives with PyTorch's message,
/// leave the caller's tensors as they were and release what they make.
/// </summary>
public class GradCheckTests
{
    private static FiniteDifferenceTests.Case Case(string name) => FiniteDifferenceTests.Cases.Single(c => c.Name == name);

    private static Tensor[] Leaves(FiniteDifferenceTests.Case c)
    {
        double[][] values = FiniteDifferenceTests.InitialValues(c, new Random(FiniteDifferenceTests.StableSeed(c.Name)));
        return c.Inputs.Select((input, i) => Tensor.FromSpan<double>(values[i], input.Shape, requiresGrad: true)).ToArray();
    }

    [Theory]
    [MemberData(nameof(FiniteDifferenceTests.CaseNames), MemberType = typeof(FiniteDifferenceTests))]
    public void GradCheck_PassesOnEveryRegistryCase(string name)
    {
        FiniteDifferenceTests.Case c = Case(name);
        using AutogradScope scope = Autograd.Scope();
        Assert.True(Autograd.GradCheck(c.F, Leaves(c)));
    }

    [Theory]
    [MemberData(nameof(FiniteDifferenceTests.CaseNames), MemberType = typeof(FiniteDifferenceTests))]
    public void GradGradCheck_PassesOnEveryRegistryCase(string name) // each is twice differentiable at its inputs (relu and where's condition stay away from 0)
    {
        FiniteDifferenceTests.Case c = Case(name);
        using AutogradScope scope = Autograd.Scope();
        Autograd.ManualSeed((ulong)FiniteDifferenceTests.StableSeed(name));
        Assert.True(Autograd.GradGradCheck(c.F, Leaves(c)));
    }

    // ---- a planted wrong rule ----

    private static readonly double[] X = [0.5, -1.25, 2.0];

    /// <summary>
    /// The Jacobian of an elementwise function with derivative d, as gradcheck lays it out (row k:
    /// input element k, column e: output element e). Off the diagonal the entries are d·0, as backward
    /// computes them with a one-hot grad output: -0.0 where d is negative, which prints as -0.0000.
    /// </summary>
    private static double[,] Diagonal(double[] d, bool signedZeros = false)
    {
        var m = new double[d.Length, d.Length];
        for (int k = 0; k < d.Length; k++)
            for (int e = 0; e < d.Length; e++) m[k, e] = k == e ? d[k] : signedZeros ? d[k] * 0.0 : 0.0;
        return m;
    }

    [Fact]
    public void GradCheck_CatchesAWrongDerivative_WithPyTorchsMessage()
    {
        // x.Detach() * x: backward says x, finite differences 2x
        Tensor x = Tensor.From(X, requiresGrad: true);
        var e = Assert.Throws<GradCheckException>(() => Autograd.GradCheck(t => t.Detach() * t, x));
        string numerical = Tensor.From(Diagonal(X.Select(v => 2 * v).ToArray())).ToString();
        string analytical = Tensor.From(Diagonal(X, signedZeros: true)).ToString();
        Assert.Equal($"Jacobian mismatch for output 0 with respect to input 0,\nnumerical:{numerical}\nanalytical:{analytical}\n", e.Message);
        Assert.Contains("dtype=torch.float64", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GradCheck_NamesTheOutputAndTheDifferentiatedInput()
    {
        // input 0 does not require grad, so b is differentiated input 1 (PyTorch counts those only)
        Tensor c = Tensor.From(new[] { 3.0, 4.0 });
        Tensor a = Tensor.From(new[] { 0.7, -0.3 }, requiresGrad: true);
        Tensor b = Tensor.From(new[] { 1.1, 0.4 }, requiresGrad: true);
        var e = Assert.Throws<GradCheckException>(() => Autograd.GradCheck(
            t => [t[1].Exp() * t[0], t[1] * t[2].Detach() * t[2]], [c, a, b]));
        Assert.StartsWith("Jacobian mismatch for output 1 with respect to input 1,\nnumerical:tensor([[", e.Message, StringComparison.Ordinal);
        // d out1 / d b = 2ab numerically, ab by backward: rows are b's elements, columns out1's
        double[] ab = [a.ToArray<double>()[0] * b.ToArray<double>()[0], a.ToArray<double>()[1] * b.ToArray<double>()[1]];
        Assert.EndsWith($"analytical:{Tensor.From(Diagonal(ab, signedZeros: true))}\n", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GradCheck_WithoutRaising_ReturnsFalse()
    {
        Tensor x = Tensor.From(X, requiresGrad: true);
        Assert.False(Autograd.GradCheck(t => t.Detach() * t, x, raiseException: false));
        Assert.True(Autograd.GradCheck(t => t * t, x, raiseException: false));
    }

    [Fact]
    public void GradCheck_TolerancesDecide()
    {
        // the value is 1.01·x², the backward sees x² only: off by 1% relative, outside rtol 1e-3, inside 2e-2
        Tensor x = Tensor.From(X, requiresGrad: true);
        Func<Tensor, Tensor> f = t => t * t + 0.01 * t.Detach() * t.Detach();
        Assert.False(Autograd.GradCheck(f, x, raiseException: false));
        Assert.True(Autograd.GradCheck(f, x, rtol: 2e-2));
    }

    [Fact]
    public void GradGradCheck_CatchesAWrongSecondDerivative_ThatGradCheckMisses()
    {
        // value x², first derivative 2·x̄ (right, so GradCheck passes), second derivative 0 (wrong: 2)
        static Tensor F(Tensor t) => t.Detach() * t + (t - t.Detach()) * t.Detach();
        Tensor x = Tensor.From(X, requiresGrad: true);
        Assert.True(Autograd.GradCheck(F, x));
        Autograd.ManualSeed(7);
        var e = Assert.Throws<GradCheckException>(() => Autograd.GradGradCheck(F, x));
        Assert.StartsWith("Jacobian mismatch for output 0 with respect to input 0,\nnumerical:", e.Message, StringComparison.Ordinal);
        Assert.False(Autograd.GradGradCheck(F, x, raiseException: false));
    }

    [Fact]
    public void GradGradCheck_UsesTheGivenGradOutputs()
    {
        Tensor x = Tensor.From(X, requiresGrad: true);
        Tensor u = Tensor.From(new[] { 0.3, -0.8, 1.5 });
        Assert.True(Autograd.GradGradCheck(t => t.Pow(3).Tanh(), x, u));
        Tensor y = Tensor.From(new[] { 0.9, 0.2, -0.4 }, requiresGrad: true);
        Assert.True(Autograd.GradGradCheck(t => [t[0] * t[1].Exp(), (t[0] * t[1]).Sum()], [x, y],
            [u, Tensor.From(0.7, requiresGrad: true)]));
    }

    // ---- the caller's tensors, memory ----

    [Fact]
    public void GradCheck_LeavesTheInputsBitIdentical_AndTheirGradUntouched()
    {
        double[] values = [0.1 + 0.2, -1.0 / 3, 1e-300, -0.0];
        Tensor x = Tensor.From(values, requiresGrad: true);
        Tensor w = Tensor.From(new[] { 0.25, 2.0, -1.5, 3.0 });
        Assert.True(Autograd.GradCheck(t => t[0] * t[1] + t[0].Pow(2), [x, w]));
        Assert.False(Autograd.GradCheck(t => t[0].Detach() * t[0] * t[1], [x, w], raiseException: false));
        Assert.Throws<GradCheckException>(() => Autograd.GradGradCheck(t => t.Detach() * t + (t - t.Detach()) * t.Detach(), x));
        Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits), x.ToArray<double>().Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(new[] { 0.25, 2.0, -1.5, 3.0 }, w.ToArray<double>());
        Assert.Null(x.Grad);
        Assert.True(x.IsLeaf && x.RequiresGrad);
    }

    [Fact]
    public void GradCheck_ReleasesWhatItMakes()
    {
        using AutogradScope scope = Autograd.Scope();
        Tensor x = Tensor.Randn([3, 2], DType.Float64, requiresGrad: true);
        Tensor w = Tensor.Randn([2, 4], DType.Float64, requiresGrad: true);
        Assert.True(Autograd.GradCheck(t => Tensor.Mm(t[0], t[1]).Tanh(), [x, w]));
        int live = Autograd.PoolStatistics().LiveTensors;
        for (int i = 0; i < 3; i++)
        {
            Assert.True(Autograd.GradCheck(t => Tensor.Mm(t[0], t[1]).Tanh(), [x, w]));
            Assert.True(Autograd.GradGradCheck(t => Tensor.Mm(t[0], t[1]).Tanh(), [x, w]));
        }
        Assert.Equal(live, Autograd.PoolStatistics().LiveTensors);
    }

    // ---- error paths ----

    [Fact]
    public void GradCheck_RefusesAFloat32InputThatRequiresGrad_NamingItsIndexAndDtype()
    {
        Tensor a = Tensor.From(new[] { 1.0, 2.0 }, requiresGrad: true);
        Tensor b = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var e = Assert.Throws<ArgumentException>(() => Autograd.GradCheck(t => t[0] * t[1], [a, b]));
        Assert.StartsWith("GradCheck: input 1 requires grad and is torch.float32, not torch.float64.", e.Message, StringComparison.Ordinal);
        // a float32 input that does not require grad is data, as in PyTorch
        Assert.True(Autograd.GradCheck(t => t[0] * t[1].To(DType.Float64), [a, Tensor.From(new[] { 1f, 2f })]));
    }

    [Fact]
    public void GradCheck_WithoutAnInputThatRequiresGrad_IsPyTorchsError()
    {
        var e = Assert.Throws<ArgumentException>(() => Autograd.GradCheck(t => t * 2, Tensor.From(new[] { 1.0 })));
        Assert.StartsWith("gradcheck expects at least one input tensor to require gradient, but none of the them have requires_grad=True.", e.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void GradCheck_OfAnOutputThatDoesNotRequireGrad_ExpectsAZeroNumericalGradient()
    {
        Tensor x = Tensor.From(X, requiresGrad: true);
        var e = Assert.Throws<GradCheckException>(() => Autograd.GradCheck(t => t.Detach() * 2, x));
        Assert.Equal("Numerical gradient for function expected to be zero", e.Message);
        Assert.False(Autograd.GradCheck(t => t.Detach() * 2, x, raiseException: false));
        Assert.True(Autograd.GradCheck(_ => Tensor.Ones(3, DType.Float64), x)); // constant: nothing to differentiate, and right
    }

    [Fact]
    public void GradCheck_OfAnOutputWhoseShapeDependsOnTheValues_Fails()
    {
        Tensor x = Tensor.From(new[] { 1.0 }, requiresGrad: true);
        var e = Assert.Throws<GradCheckException>(() => Autograd.GradCheck(t => t.Item() > 1.0 ? t.Expand(2) : t * 1.0, x));
        Assert.StartsWith("Expected `func` to return outputs with the same shape when inputs are perturbed on index 0 by 1e-06, but got: shapes torch.Size([1]) and torch.Size([2]).",
            e.Message, StringComparison.Ordinal);
    }
}
