using AutogradFast.Storage;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// A rule's last read of its incoming gradient (Backward.LastGrad) may write its result into it when
/// nothing else can see it. Each case counts the writes (TensorContext.GradientsOverwritten) and checks
/// the gradients against the same graph under createGraph, where nothing is overwritten: a write where
/// another holder could see it, or into a gradient of the wrong shape, would change a number here.
/// </summary>
public class GradientReuseTests
{
    private static long Overwritten => TensorContext.Current.GradientsOverwritten;

    private static float[] V(Tensor t) => t.ToArray<float>();

    /// <summary>x's gradient from <paramref name="f"/> with a dense upstream gradient, in a plain backward and under createGraph; returns how many gradients the plain one overwrote.</summary>
    private static long PlainEqualsCreateGraph(Func<Tensor, Tensor> f, float[] xs, out float[] grad)
    {
        var x = Tensor.From(xs, requiresGrad: true);
        Tensor y = f(x);
        Tensor upstream = Tensor.OnesLike(y) * 0.5; // dense, unlike sum's expanded gradient
        long before = Overwritten;
        y.Backward(upstream);
        long overwritten = Overwritten - before;
        grad = V(x.Grad!.Value);

        var x2 = Tensor.From(xs, requiresGrad: true);
        before = Overwritten;
        f(x2).Backward(upstream, createGraph: true);
        Assert.Equal(0, Overwritten - before); // a gradient with a graph is never written in place
        Assert.Equal(V(x2.Grad!.Value), grad); // bit for bit
        return overwritten;
    }

    [Fact]
    public void AChainOfScalarOps_WritesEachGradientIntoTheIncomingOne()
    {
        long n = PlainEqualsCreateGraph(x => x * 2 * 3 / 4, [1f, -2f, 3f], out float[] g);
        Assert.Equal(3, n);
        Assert.Equal([0.75f, 0.75f, 0.75f], g); // 0.5 * 2 * 3 / 4
    }

    [Fact]
    public void FusedBackwardKernels_WriteIntoTheirGradient()
    {
        float[] xs = [0.3f, -1.2f, 2.5f, 0f];
        long n = PlainEqualsCreateGraph(x => (x.Tanh() / 2).Sigmoid().Relu().Pow(2) * 3, xs, out float[] g);
        Assert.Equal(6, n); // mul, pow, relu, sigmoid, div, tanh
        for (int i = 0; i < xs.Length; i++)
        {
            double t = Math.Tanh(xs[i]), s = 1 / (1 + Math.Exp(-t / 2));
            double expected = 0.5 * 3 * 2 * s * s * (1 - s) * 0.5 * (1 - t * t);
            Assert.Equal(expected, g[i], 1e-5);
        }
    }

    [Fact]
    public void AGeneralPower_AndAProductWithAConstant_WriteIntoTheirGradient()
    {
        var w = Tensor.From(new[] { 2f, -1f, 0.5f });
        long n = PlainEqualsCreateGraph(x => (x * w).Pow(3), [1f, 2f, 3f], out float[] g);
        Assert.Equal(2, n); // pow 3's grad * 3 * x^2, then mul's grad * w (w needs no gradient)
        float[] ws = [2f, -1f, 0.5f], xs = [1f, 2f, 3f];
        for (int i = 0; i < 3; i++) Assert.Equal(0.5 * 3 * Math.Pow(xs[i] * ws[i], 2) * ws[i], g[i], 1e-4);
    }

    [Fact]
    public void AGradientSharedByTwoInputs_IsWrittenOnlyByItsLastHolder()
    {
        // Add hands one gradient to both products. The first rule to run must not write into it (the
        // second would then read 0.5 * 5 and x.grad be 10); having let go of it, the second is its last
        // holder and may.
        long n = PlainEqualsCreateGraph(x => x * 3 + x * 5, [1f, 2f], out float[] g);
        Assert.Equal(1, n);
        Assert.Equal([4f, 4f], g);
    }

    [Fact]
    public void MulWithBothInputsNeedingGradients_WritesOnlyTheSecond()
    {
        var a = Tensor.From(new[] { 2f, 3f }, requiresGrad: true);
        var b = Tensor.From(new[] { 5f, 7f }, requiresGrad: true);
        long before = Overwritten;
        (a * b).Backward(Tensor.From(new[] { 1f, 10f }));
        Assert.Equal(1, Overwritten - before);
        Assert.Equal([5f, 70f], V(a.Grad!.Value)); // grad * b, read before grad * a overwrote grad
        Assert.Equal([2f, 30f], V(b.Grad!.Value));
    }

    [Fact]
    public void AGradientAHookKept_KeepsItsValues()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Tensor y = x * 3;
        Tensor z = y * 2;
        Tensor? seen = null;
        y.RegisterHook(g => { seen = g; return null; });
        long before = Overwritten;
        z.Backward(Tensor.OnesLike(z));
        Assert.Equal(1, Overwritten - before); // z's rule wrote into the seed; y's gradient went to the hook, so y's rule made a new one
        Assert.Equal([2f, 2f], V(seen!.Value));
        Assert.Equal([6f, 6f], V(x.Grad!.Value));
    }

    [Fact]
    public void AnExpandedGradient_IsNotWrittenInto()
    {
        // mean's rule writes into the 0-d seed, then expands it: the product's rule gets a stride-0 view.
        long n = PlainEqualsCreateGraph(x => (x * 4).Mean(), [1f, 2f, 3f, 4f], out float[] g);
        Assert.Equal(1, n);
        Assert.Equal([0.5f, 0.5f, 0.5f, 0.5f], g);
    }

    [Fact]
    public void AGradientAtTheFusionThreshold_IsNotWrittenInto()
    {
        int elements = Autograd.FusionMinElements;
        var xs = new float[elements];
        for (int i = 0; i < xs.Length; i++) xs[i] = i % 7 - 3;
        long n = PlainEqualsCreateGraph(x => x * 2 * 3, xs, out float[] g);
        Assert.Equal(0, n); // the op would be deferred for fusion: it is left to do so
        Assert.All(g, v => Assert.Equal(3f, v));
        // One element fewer: written in place.
        Assert.Equal(2, PlainEqualsCreateGraph(x => x * 2 * 3, xs[..^1], out _));
    }

    [Fact]
    public void ARetainedGraph_GivesTheSameGradientsEachTime()
    {
        var x = Tensor.From(new[] { 0.5f, -1f }, requiresGrad: true);
        Tensor y = x.Tanh() * 3;
        Tensor upstream = Tensor.From(new[] { 1f, 2f });
        y.Backward(upstream, retainGraph: true);
        float[] once = V(x.Grad!.Value);
        y.Backward(upstream);
        Assert.Equal(once.Select(v => 2 * v), V(x.Grad!.Value));
        Assert.Equal([1f, 2f], V(upstream)); // the given gradient is copied before anything is written
    }

    [Fact]
    public void Float64AndInt64Mixes_WriteOnlyWhereTheDTypeMatches()
    {
        // float64 x times an int64 constant: the product's gradient has x's dtype, so it goes into the incoming one.
        var x = Tensor.From(new[] { 1.0, 2.0 }, requiresGrad: true);
        var k = Tensor.From(new[] { 3L, 4L });
        long before = Overwritten;
        (x * k).Backward(Tensor.From(new[] { 1.0, 1.0 }));
        Assert.Equal(1, Overwritten - before);
        Assert.Equal([3.0, 4.0], x.Grad!.Value.ToArray<double>());
    }
}
