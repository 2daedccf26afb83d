using AutogradFast;

// Deliberately outside the library's namespace: this is how users write code. If a namespace named
// Autograd ever shadowed the Autograd class again, `Autograd.NoGrad()` here would stop compiling.
namespace UserCode;

public class UserNamespaceTests
{
    [Fact]
    public void TheArchitectureBriefsUserViewCompilesAndRunsFromUserCode()
    {
        var x = Tensor.Arange(4.0, requiresGrad: true);
        var y = 2 * Tensor.Dot(x, x);
        Assert.Equal("tensor(28., grad_fn=<MulBackward0>)", y.ToString());
        y.Backward();
        Assert.Equal("tensor([ 0.,  4.,  8., 12.])", x.Grad.ToString());

        var z = Tensor.Zeros(2, 1);
        z[0] = x[0].Pow(3);
        Assert.Equal("CopySlices", z.GradFn);
        using (Autograd.NoGrad())
        {
            Assert.False((x * 2).RequiresGrad);
        }
        using (var step = Autograd.Scope())
        {
            var loss = (x * x).Sum();
            loss.Backward();
        }
        Assert.Equal("tensor([ 0.,  6., 12., 18.])", x.Grad.ToString()); // 4x, then 2x more
    }
}
