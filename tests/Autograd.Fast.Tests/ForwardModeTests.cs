using Xunit;

namespace AutogradFast.Tests;

/// <summary>Forward-mode AD (dual tensors) against reverse mode on every op of the finite-difference registry, closed forms, and its errors and lifetimes.</summary>
public class ForwardModeTests
{
    public static TheoryData<string> CaseNames() => FiniteDifferenceTests.CaseNames();

    /// <summary>u·(J v) by one forward pass equals (uᵀJ)·v by one backward pass, for random u and v.</summary>
    [Theory]
    [MemberData(nameof(CaseNames))]
    public void JacobianVectorProduct_MatchesVectorJacobianProduct(string name)
    {
        FiniteDifferenceTests.Case c = FiniteDifferenceTests.Cases.Single(k => k.Name == name);
        var rng = new Random(FiniteDifferenceTests.StableSeed(name) + 1);
        double[][] values = FiniteDifferenceTests.InitialValues(c, rng);
        double[][] v = values.Select(a => a.Select(_ => 2 * rng.NextDouble() - 1).ToArray()).ToArray();
        using AutogradScope scope = Autograd.Scope();
        Tensor[] leaves = c.Inputs.Select((input, i) => Tensor.FromSpan<double>(values[i], input.Shape, requiresGrad: true)).ToArray();

        double forward;
        double[] u;
        using (ForwardAD.DualLevel())
        {
            Tensor[] duals = leaves.Select((x, i) => ForwardAD.MakeDual(x, Tensor.FromSpan<double>(v[i], c.Inputs[i].Shape))).ToArray();
            Tensor y = c.F(duals);
            var (_, tangent) = ForwardAD.UnpackDual(y);
            Assert.True(tangent is not null, $"{name}: the output has no tangent");
            Assert.True(tangent!.Value.Shape == y.Shape, $"{name}: tangent {tangent.Value.Shape}, output {y.Shape}");
            Assert.Equal(y.DType, tangent.Value.DType);
            u = Enumerable.Range(0, y.NumEl()).Select(_ => 2 * rng.NextDouble() - 1).ToArray();
            double[] jv = tangent.Value.Contiguous().ToArray<double>();
            forward = jv.Select((x, i) => x * u[i]).Sum();
        }

        Tensor y2 = c.F(leaves);
        Tensor?[] g = Autograd.Grad([y2], leaves, [Tensor.FromSpan<double>(u, y2.Shape.AsSpan())], allowUnused: true);
        double reverse = 0;
        for (int i = 0; i < leaves.Length; i++)
            if (g[i] is Tensor gi) reverse += gi.ToArray<double>().Select((x, k) => x * v[i][k]).Sum();
        Assert.True(Math.Abs(forward - reverse) <= 1e-9 * Math.Max(1, Math.Abs(reverse)), $"{name}: u·Jv {forward:R}, uᵀJ·v {reverse:R}");
    }

    [Fact]
    public void ClosedForms()
    {
        double[] x = [0.3, -1.2, 2.0];
        double[] v = [1.0, 0.5, -2.0];
        Tensor X = Tensor.From(x), V = Tensor.From(v);
        Check(t => t.Pow(5), X, V, i => 5 * Math.Pow(x[i], 4) * v[i]);
        Check(t => t.Tanh(), X, V, i => (1 - Math.Tanh(x[i]) * Math.Tanh(x[i])) * v[i]);
        Check(t => t.Sigmoid(), X, V, i => { double s = 1 / (1 + Math.Exp(-x[i])); return s * (1 - s) * v[i]; });
        Check(t => (t * t).Log(), X, V, i => 2 * v[i] / x[i]);
        Check(t => t[1..3] * 3, X, V, i => 3 * v[i + 1]);
    }

    private static void Check(Func<Tensor, Tensor> f, Tensor x, Tensor v, Func<int, double> expected)
    {
        var (_, jvp) = ForwardAD.Jvp(f, x, v);
        double[] got = jvp.ToArray<double>();
        for (int i = 0; i < got.Length; i++) Assert.Equal(expected(i), got[i], 12);
    }

    [Fact]
    public void Mm_ProductRule()
    {
        Tensor a = Tensor.Randn([2, 3]).To(DType.Float64), b = Tensor.Randn([3, 4]).To(DType.Float64);
        Tensor ta = Tensor.Randn([2, 3]).To(DType.Float64), tb = Tensor.Randn([3, 4]).To(DType.Float64);
        using (ForwardAD.DualLevel())
        {
            Tensor y = Tensor.Mm(ForwardAD.MakeDual(a, ta), ForwardAD.MakeDual(b, tb));
            double[] got = ForwardAD.UnpackDual(y).Tangent!.Value.ToArray<double>();
            double[] want = (Tensor.Mm(ta, b) + Tensor.Mm(a, tb)).ToArray<double>();
            for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 12);
        }
    }

    [Fact]
    public void ForwardOverReverse_HessianVectorProduct()
    {
        Tensor x = Tensor.From(new[] { 0.5, -1.5, 2.0 }, requiresGrad: true);
        Tensor v = Tensor.From(new[] { 1.0, 2.0, -1.0 });
        using (ForwardAD.DualLevel())
        {
            Tensor d = ForwardAD.MakeDual(x, v);
            Tensor g = Autograd.Grad((d.Pow(3) * d.Exp()).Sum(), d, createGraph: true)!.Value; // (3x² + x³)eˣ
            double[] hv = ForwardAD.UnpackDual(g).Tangent!.Value.ToArray<double>();
            double[] xs = x.ToArray<double>(), vs = v.ToArray<double>();
            for (int i = 0; i < 3; i++)
                Assert.Equal((6 * xs[i] + 6 * xs[i] * xs[i] + xs[i] * xs[i] * xs[i]) * Math.Exp(xs[i]) * vs[i], hv[i], 10);
        }
    }

    [Fact]
    public void ReverseOverForward_GradOfTangent()
    {
        Tensor x = Tensor.From(new[] { 0.5, -1.5 }, requiresGrad: true);
        Tensor v = Tensor.From(new[] { 1.0, 2.0 });
        using (ForwardAD.DualLevel())
        {
            Tensor y = ForwardAD.MakeDual(x, v).Pow(3).Sum();
            Tensor t = ForwardAD.UnpackDual(y).Tangent!.Value; // Σ 3x²v
            double[] g = Autograd.Grad(t, x)!.Value.ToArray<double>();
            Assert.Equal(6 * 0.5 * 1.0, g[0], 12);
            Assert.Equal(6 * -1.5 * 2.0, g[1], 12);
        }
    }

    [Fact]
    public void Errors_HavePyTorchsWording()
    {
        Tensor p = Tensor.Zeros(3);
        var outside = Assert.Throws<InvalidOperationException>(() => ForwardAD.MakeDual(p, Tensor.Zeros(3)));
        Assert.Equal("Trying to create a dual Tensor for forward AD but no level exists, make sure to enter_dual_level() first.", outside.Message);
        using (ForwardAD.DualLevel())
        {
            var size = Assert.Throws<ArgumentException>(() => ForwardAD.MakeDual(p, Tensor.Zeros(2)));
            Assert.Equal("Trying to set a forward gradient that has a different size than that of the original Tensor, this is not supported. " +
                "Tensor is of size [3] while the given forward gradient is of size [2].", size.Message);
            Assert.Equal("Expected primal to be floating point or complex, but got: torch.int64",
                Assert.Throws<ArgumentException>(() => ForwardAD.MakeDual(Tensor.Arange(3), Tensor.Zeros(3))).Message);
            Assert.Equal("Expected tangent to be floating point or complex, but got: torch.int64",
                Assert.Throws<ArgumentException>(() => ForwardAD.MakeDual(p, Tensor.Arange(3))).Message);
            Assert.Contains("torch.float64", Assert.Throws<ArgumentException>(() => ForwardAD.MakeDual(p, Tensor.Zeros(3, DType.Float64))).Message);
            Assert.Equal("Nested forward mode AD is not supported at the moment", Assert.Throws<InvalidOperationException>(() => ForwardAD.DualLevel()).Message);
            Assert.NotNull(ForwardAD.UnpackDual(ForwardAD.MakeDual(p, Tensor.Ones(3)) * 2).Tangent); // still usable
        }
    }

    [Fact]
    public void Tangents_AreReleasedAtLevelExit_AndThePoolStaysFlat()
    {
        Tensor x = Tensor.Randn([64]), v = Tensor.Randn([64]);
        (int, long, int) before = default;
        for (int step = 0; step < 200; step++)
        {
            using AutogradScope scope = Autograd.Scope();
            using (ForwardAD.DualLevel())
            {
                Tensor y = (ForwardAD.MakeDual(x, v).Tanh() * 3).Exp().Sum();
                Assert.NotNull(ForwardAD.UnpackDual(y).Tangent);
            }
            if (step == 10) before = Autograd.PoolStatistics();
        }
        var after = Autograd.PoolStatistics();
        // the root scope may reclaim leftovers of earlier tests meanwhile: nothing may grow
        Assert.True(after.LiveTensors <= before.Item1 && after.PooledBytes <= before.Item2 && after.RecordedNodes <= before.Item3, $"{before} -> {after}");
        Tensor z = x * 2; // outside a level: no tangent
        Assert.Null(ForwardAD.UnpackDual(z).Tangent);
    }

    /// <summary>
    /// A tangent in every layout (strided, transposed, expanded, at an offset) gives the same JVP bits
    /// as its dense twin, through elementwise ops, a reduction, a product, a view and an in-place write.
    /// </summary>
    [Fact]
    public void TangentsInEveryLayout_GiveTheDenseTangentsResult()
    {
        var rng = new Random(7);
        Func<Tensor, Tensor>[] programs =
        [
            t => (t * t).Exp() + t.Tanh(),
            t => Tensor.Mm(t, t.T()).Sum(),
            t => t.T()[1] * 3,
            t =>
            {
                Tensor y = t * 1;
                y.Mul_(t).Add_(2);
                return y.Sigmoid();
            },
        ];
        foreach (LayoutMatrix.Layout layout in Enum.GetValues<LayoutMatrix.Layout>())
        {
            var spec = new LayoutMatrix.OperandSpec([3, 4], DType.Float64, layout);
            if (!spec.IsApplicable) continue;
            double[] values = spec.Values(rng, LayoutMatrix.Domain.Any);
            var x = Tensor.FromSpan<double>(Enumerable.Range(0, 12).Select(i => 0.1 * i - 0.5).ToArray(), [3, 4]);
            foreach (Func<Tensor, Tensor> f in programs)
            {
                using AutogradScope scope = Autograd.Scope();
                var (tangent, dense) = spec.Build(values);
                double[] expected = ForwardAD.Jvp(f, x, dense).Jvp.ToArray<double>();
                double[] got = ForwardAD.Jvp(f, x, tangent).Jvp.ToArray<double>();
                Assert.True(expected.SequenceEqual(got), $"{layout}: JVP with a {layout} tangent differs from the dense one");
            }
        }
    }
}
