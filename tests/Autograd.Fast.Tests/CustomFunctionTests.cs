using System.Runtime.CompilerServices;
using AutogradFast.Storage;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>x³ as a custom function: backward 3x²·grad and jvp 3x²·t, written with differentiable ops (the registry's custom case).</summary>
internal sealed class CubeFunction : AutogradFunction
{
    public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
    {
        ctx.SaveForBackward(inputs[0]);
        return inputs[0] * inputs[0] * inputs[0];
    }

    public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
    {
        Tensor x = ctx.SavedTensors[0];
        return [gradOutput * x * x * 3];
    }

    public override Tensor Jvp(FunctionContext ctx, Tensor[] tangents)
    {
        Tensor x = ctx.SavedTensors[0];
        return tangents[0] * x * x * 3;
    }
}

/// <summary>
/// Custom functions (<c>torch.autograd.Function</c>): one node per application whose backward is the
/// user's, through plain backward, createGraph, forward mode, hooks and the root-scope collector.
/// Expected values are the same graphs written with the library's own ops, or closed forms.
/// </summary>
public class CustomFunctionTests
{
    private static double[] V(Tensor t) => t.ToArray<double>();

    private static Tensor X(params double[] values) => Tensor.From(values, requiresGrad: true);

    /// <summary>exp with the saved output, as PyTorch's tutorial writes it: backward is grad * result.</summary>
    private sealed class MyExp : AutogradFunction
    {
        public int BackwardCalls;

        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            Tensor result = inputs[0].Exp();
            ctx.SaveForBackward(result);
            return result;
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
        {
            BackwardCalls++;
            return [gradOutput * ctx.SavedTensors[0]];
        }

        public override Tensor Jvp(FunctionContext ctx, Tensor[] tangents) => tangents[0] * ctx.SavedTensors[0];
    }

    /// <summary>Rounds in forward, passes the gradient straight through where |x| &lt;= 1 (a straight-through estimator).</summary>
    private sealed class StraightThroughSign : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs[0]);
            return Tensor.Where(inputs[0] > 0, Tensor.OnesLike(inputs[0]), -Tensor.OnesLike(inputs[0]));
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
        {
            Tensor x = ctx.SavedTensors[0];
            Tensor zeros = Tensor.ZerosLike(gradOutput);
            return [Tensor.Where(x <= 1, Tensor.Where(x >= -1, gradOutput, zeros), zeros)];
        }
    }

    [Fact]
    public void StraightThroughEstimator_PassesTheGradientWhereTheInputIsInRange()
    {
        var x = X(-2, -0.5, 0.25, 3);
        Tensor y = AutogradFunction.Apply<StraightThroughSign>(x);
        Assert.Equal([-1.0, -1, 1, 1], V(y));
        Assert.Equal("StraightThroughSignBackward", y.GradFn);
        Assert.False(y.IsLeaf);
        (y * Tensor.From(new[] { 1.0, 2, 3, 4 })).Sum().Backward();
        Assert.Equal([0.0, 2, 3, 0], V(x.Grad!.Value));
    }

    [Fact]
    public void CustomExpUsedTwiceInOneGraph_MatchesTheBuiltInExp()
    {
        var fn = new MyExp();
        var x = X(0.5, -1, 2);
        Tensor e1 = fn.Apply(x), e2 = fn.Apply(x * 2);
        (e1 * e2 + e1).Sum().Backward();
        double[] custom = V(x.Grad!.Value);

        var r = X(0.5, -1, 2);
        Tensor b1 = r.Exp(), b2 = (r * 2).Exp();
        (b1 * b2 + b1).Sum().Backward();
        Assert.Equal(V(r.Grad!.Value), custom);
        Assert.Equal(2, fn.BackwardCalls); // one node per application, each run once
        Assert.Equal("MyExpBackward", e1.GradFn);
    }

    [Fact]
    public void DifferentiableBackward_GivesSecondAndThirdDerivativesUnderCreateGraph()
    {
        var x = X(0.3, -0.7);
        Tensor y = new MyExp().Apply(x * x); // exp(x^2)
        Tensor g = Autograd.Grad(y.Sum(), x, createGraph: true)!.Value;        // 2x e^{x^2}
        Tensor h = Autograd.Grad(g.Sum(), x, createGraph: true)!.Value;        // (2 + 4x^2) e^{x^2}
        Tensor t = Autograd.Grad(h.Sum(), x)!.Value;                           // (12x + 8x^3) e^{x^2}
        double[] xs = [0.3, -0.7];
        Assert.Equal(xs.Select(v => 2 * v * Math.Exp(v * v)), V(g), Close);
        Assert.Equal(xs.Select(v => (2 + 4 * v * v) * Math.Exp(v * v)), V(h), Close);
        Assert.Equal(xs.Select(v => (12 * v + 8 * v * v * v) * Math.Exp(v * v)), V(t), Close);
    }

    private static readonly IEqualityComparer<double> Close = new ToleranceComparer(1e-12);

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance * Math.Max(1, Math.Abs(b));

        public int GetHashCode(double value) => 0;
    }

    /// <summary>a * b where backward records which inputs needed a gradient and returns only those.</summary>
    private sealed class RecordingMul : AutogradFunction
    {
        public bool[]? Needs;

        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs[0], inputs[1]);
            return inputs[0] * inputs[1];
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
        {
            Needs = ctx.NeedsInputGrad.ToArray();
            Tensor[] saved = ctx.SavedTensors;
            return [ctx.NeedsInputGrad[0] ? gradOutput * saved[1] : null, ctx.NeedsInputGrad[1] ? gradOutput * saved[0] : null];
        }
    }

    [Fact]
    public void NeedsInputGrad_SaysWhichInputsRequireGrad_AndNullGradientsAreFine()
    {
        var a = X(1, 2);
        var b = Tensor.From(new[] { 3.0, 4 });
        var fn = new RecordingMul();
        fn.Apply(a, b).Sum().Backward();
        Assert.Equal([true, false], fn.Needs!);
        Assert.Equal([3.0, 4], V(a.Grad!.Value));
        Assert.Null(b.Grad);

        var fn2 = new RecordingMul();
        Tensor bGrad = X(3, 4);
        fn2.Apply(a.Detach(), bGrad).Sum().Backward();
        Assert.Equal([false, true], fn2.Needs!);
        Assert.Equal([1.0, 2], V(bGrad.Grad!.Value));
    }

    [Fact]
    public void NoInputRequiringGrad_OrNoGradMode_RecordsNothing()
    {
        Tensor y = new MyExp().Apply(Tensor.From(new[] { 1.0 }));
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
        using (Autograd.NoGrad())
        {
            Tensor z = new MyExp().Apply(X(1));
            Assert.False(z.RequiresGrad);
        }
    }

    /// <summary>An argmax-like output: marked non-differentiable, so it never requires grad.</summary>
    private sealed class PositiveMask : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            Tensor mask = (inputs[0] > 0).To(DType.Float64);
            ctx.MarkNonDifferentiable(mask);
            return mask;
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => throw new InvalidOperationException("never called");
    }

    [Fact]
    public void MarkNonDifferentiable_OutputDoesNotRequireGrad()
    {
        var x = X(-1, 2);
        Tensor m = new PositiveMask().Apply(x);
        Assert.False(m.RequiresGrad);
        Assert.Null(m.GradFn);
        Assert.Equal([0.0, 1], V(m));
        // Used in a graph, it is a constant.
        (x * m).Sum().Backward();
        Assert.Equal([0.0, 1], V(x.Grad!.Value));
    }

    /// <summary>x *= 3 in place, marked dirty.</summary>
    private sealed class TripleInPlace : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            inputs[0].Mul_(3);
            ctx.MarkDirty(inputs[0]);
            return inputs[0];
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput * 3];
    }

    /// <summary>Doubles in forward; its backward doubles the incoming gradient in place and hands it back.</summary>
    private sealed class DoubleWritingIntoGrad : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs) => inputs[0] * 2;

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput.Mul_(2)];
    }

    [Fact]
    public void ABackwardThatWritesIntoItsGradient_DoesNotChangeTheSameGradientElsewhere()
    {
        // Add hands one gradient to both its inputs: the custom node gets its own copy to write into.
        var x1 = X(1, 2);
        var x2 = X(3, 4);
        (new DoubleWritingIntoGrad().Apply(x1) + x2).Sum().Backward();
        Assert.Equal([2.0, 2], V(x1.Grad!.Value));
        Assert.Equal([1.0, 1], V(x2.Grad!.Value));
    }

    /// <summary>a + 2b + 3c + 4d + 5e: a node of more inputs than the engine's inline buffer holds.</summary>
    private sealed class WeightedSumOfFive : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
            => inputs[0] + inputs[1] * 2 + inputs[2] * 3 + inputs[3] * 4 + inputs[4] * 5;

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
            => [gradOutput, gradOutput * 2, gradOutput * 3, gradOutput * 4, gradOutput * 5];
    }

    [Fact]
    public void AFunctionOfFiveInputs_GivesEachItsGradient()
    {
        Tensor[] inputs = [X(1), X(2), X(3), X(4), X(5)];
        Tensor y = new WeightedSumOfFive().Apply(inputs);
        Assert.Equal([55.0], V(y));
        (y * 10).Sum().Backward();
        for (int i = 0; i < 5; i++) Assert.Equal([10.0 * (i + 1)], V(inputs[i].Grad!.Value));
    }

    [Fact]
    public void MarkDirty_TheNodeBecomesTheInputsHistory()
    {
        var x = X(1, 2);
        Tensor a = x * 2;
        Tensor b = new TripleInPlace().Apply(a);
        Assert.Equal("TripleInPlaceBackward", a.GradFn); // the input itself was rewritten
        Assert.Equal(b.GradFn, a.GradFn);
        Assert.Equal([6.0, 12], V(a));
        (a * a).Sum().Backward(); // d/dx (6x)^2 = 72 x
        Assert.Equal([72.0, 144], V(x.Grad!.Value));
    }

    [Fact]
    public void MarkDirty_OnALeafThatRequiresGrad_Fails()
    {
        var x = X(1, 2);
        var e = Assert.Throws<InvalidOperationException>(() => new TripleInPlace().Apply(x));
        Assert.Contains("a leaf Variable that requires grad is being used in an in-place operation", e.Message);
    }

    [Fact]
    public void MarkDirty_OfATensorNotReturned_Fails()
    {
        var x = X(1, 2) * 1;
        var e = Assert.Throws<InvalidOperationException>(() => new DirtyButReturnsOther().Apply(x));
        Assert.Contains("marked as dirty", e.Message);
        Assert.Contains("DirtyButReturnsOtherBackward", e.Message);
    }

    private sealed class DirtyButReturnsOther : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            inputs[0].Mul_(2);
            ctx.MarkDirty(inputs[0]);
            return inputs[0] * 1;
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput];
    }

    /// <summary>Returns its input unchanged: the output is a view with the function's node, the input keeps its own.</summary>
    private sealed class Identity : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs) => inputs[0];

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput * 5];
    }

    [Fact]
    public void ReturningAnInput_GivesAViewWithTheFunctionsNode()
    {
        var x = X(1, 2);
        Tensor y = new Identity().Apply(x);
        Assert.True(x.IsLeaf);
        Assert.False(y.IsLeaf);
        Assert.Equal("IdentityBackward", y.GradFn);
        y.Sum().Backward();
        Assert.Equal([5.0, 5], V(x.Grad!.Value));
    }

    private sealed class ThrowingBackward : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs) => inputs[0] * 2;

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => throw new ArithmeticException("user backward failed");
    }

    [Fact]
    public void ABackwardThatThrows_LeavesTheEngineUsable_AndNoGradWritten()
    {
        var x = X(1, 2);
        int live = Autograd.PoolStatistics().LiveTensors;
        Tensor y = new ThrowingBackward().Apply(x) + x * x;
        var e = Assert.Throws<ArithmeticException>(() => y.Sum().Backward(retainGraph: true));
        Assert.Equal("user backward failed", e.Message);
        Assert.Null(x.Grad);
        (x * 3).Sum().Backward();
        Assert.Equal([3.0, 3], V(x.Grad!.Value));
        _ = live;
    }

    private sealed class WrongCount : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs) => inputs[0] + inputs[1];

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput];
    }

    private sealed class WrongShape : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs) => inputs[0] * 1;

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [Tensor.Ones(3, DType.Float64)];
    }

    [Fact]
    public void WrongGradients_FailWithPyTorchsMessages()
    {
        var a = X(1, 2);
        var b = X(3, 4);
        var count = Assert.Throws<InvalidOperationException>(() => new WrongCount().Apply(a, b).Sum().Backward());
        Assert.Equal("function WrongCountBackward returned an incorrect number of gradients (expected 2, got 1)", count.Message);
        var shape = Assert.Throws<InvalidOperationException>(() => new WrongShape().Apply(a).Sum().Backward());
        Assert.Equal("Function WrongShapeBackward returned an invalid gradient at index 0 - got [3] but expected shape compatible with [2]", shape.Message);
        Assert.Null(a.Grad);
    }

    [Fact]
    public void SavedTensors_AreFreedAfterBackward_AndCheckedForInPlaceWrites()
    {
        var x = X(1, 2);
        Tensor y = new MyExp().Apply(x);
        y.Sum().Backward();
        var twice = Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
        Assert.Contains("Trying to backward through the graph a second time", twice.Message);
        Assert.Contains("MyExpBackward", twice.Message);

        var z = X(1, 2);
        Tensor w = new MyExp().Apply(z);
        using (Autograd.NoGrad()) w.Mul_(2);
        var modified = Assert.Throws<InvalidOperationException>(() => w.Sum().Backward());
        Assert.Equal("one of the variables needed for gradient computation has been modified by an inplace operation: " +
            "[torch.DoubleTensor [2]], which is output 0 of MyExpBackward, is at version 1; expected version 0 instead.", modified.Message);
    }

    [Fact]
    public void RetainGraph_LetsTheFunctionRunTwice()
    {
        var fn = new MyExp();
        var x = X(1, 2);
        Tensor y = fn.Apply(x);
        y.Sum().Backward(retainGraph: true);
        y.Sum().Backward();
        Assert.Equal(V(x.Exp()).Select(v => 2 * v), V(x.Grad!.Value));
        Assert.Equal(2, fn.BackwardCalls);
    }

    [Fact]
    public void ContextMethods_OutsideForward_Fail()
    {
        var captured = new CapturingFunction();
        var x = X(1);
        captured.Apply(x);
        var e = Assert.Throws<InvalidOperationException>(() => captured.Ctx!.SaveForBackward(x));
        Assert.Contains("SaveForBackward() can only be called in Forward", e.Message);
    }

    private sealed class CapturingFunction : AutogradFunction
    {
        public FunctionContext? Ctx;

        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            Ctx = ctx;
            return inputs[0] * 1;
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput];
    }

    [Fact]
    public void ForwardMode_UsesTheFunctionsJvp_AndRefusesWithoutOne()
    {
        var x = Tensor.From(new[] { 0.5, 1.5 });
        var v = Tensor.From(new[] { 1.0, -2 });
        (Tensor y, Tensor jvp) = ForwardAD.Jvp(t => new MyExp().Apply(t) * 2, x, v);
        Assert.Equal(V(x.Exp() * 2), V(y));
        Assert.Equal(V(x.Exp() * v * 2), V(jvp), Close);
        var e = Assert.Throws<NotImplementedException>(() => ForwardAD.Jvp(t => new Identity().Apply(t), x, v));
        Assert.Contains("You must implement the jvp function for custom autograd.Function to use it with forward mode AD", e.Message);
    }

    [Fact]
    public void HooksOnTheOutput_RunBeforeTheFunctionsBackward()
    {
        var x = X(1, 2);
        Tensor y = new MyExp().Apply(x);
        y.RegisterHook(g => g * 10);
        y.RetainGrad();
        y.Sum().Backward();
        Assert.Equal([10.0, 10], V(y.Grad!.Value));
        Assert.Equal(V(x.Exp()).Select(v => 10 * v), V(x.Grad!.Value));
    }

    private sealed class NestedBackward : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs) => inputs[0] * 1;

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
        {
            var inner = Tensor.From(new[] { 1.0 }, requiresGrad: true);
            inner.Sum().Backward();
            return [gradOutput];
        }
    }

    [Fact]
    public void BackwardInsideTheFunctionsBackward_IsRefusedClearly()
    {
        var x = X(1);
        var e = Assert.Throws<InvalidOperationException>(() => new NestedBackward().Apply(x).Sum().Backward());
        Assert.Contains("cannot run while another backward pass is computing gradients", e.Message);
        (x * 2).Sum().Backward();
        Assert.Equal([2.0], V(x.Grad!.Value));
    }

    [Fact]
    public void PlainBackward_ReleasesWhatTheUsersBackwardMade()
    {
        var x = X(1, 2, 3);
        var fn = new MyExp();
        Tensor y = fn.Apply(x);
        Tensor loss = y.Sum();
        int before = Autograd.PoolStatistics().LiveTensors;
        loss.Backward();
        // Only x's .Grad is new: the product made in MyExp's backward became the gradient itself or was released.
        Assert.Equal(before + 1, Autograd.PoolStatistics().LiveTensors);
    }

    [Fact]
    public void SavedTensorsOfARootScopeNode_SurviveACollection()
    {
        TensorContext c = TensorContext.Current;
        var x = X(0.25, 0.5);
        Tensor loss = ApplyAndDropTheIntermediates(x);
        c.CollectNow();
        loss.Backward();
        Assert.Equal(V(x.Exp()), V(x.Grad!.Value));
    }

    /// <summary>Only the loss survives this method: the saved exp(x) is reachable through the custom node alone.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Tensor ApplyAndDropTheIntermediates(Tensor x) => new MyExp().Apply(x * 1).Sum();

    [Fact]
    public void InsideAScope_TheNodeAndItsContextGoWithTheScope()
    {
        var x = X(1, 2);
        int nodes = Autograd.PoolStatistics().RecordedNodes;
        for (int i = 0; i < 3; i++)
        {
            using var scope = Autograd.Scope();
            new MyExp().Apply(x).Sum().Backward();
        }
        Assert.Equal(nodes, Autograd.PoolStatistics().RecordedNodes);
        Assert.Equal(V(x.Exp()).Select(v => 3 * v), V(x.Grad!.Value), Close);
    }

    [Fact]
    public void Printing_ShowsTheFunctionsNode()
    {
        Tensor y = new MyExp().Apply(X(0));
        Assert.Contains("grad_fn=<MyExpBackward>", y.ToString());
    }
}

/// <summary>GradCheck and GradGradCheck on custom functions: a right one passes, a planted wrong backward or a wrong double backward is caught.</summary>
public class CustomFunctionGradCheckTests
{
    private static Tensor[] Inputs() => [Tensor.FromSpan<double>([0.3, -1.2, 0.8, 1.5, -0.4, 0.9], [2, 3], requiresGrad: true)];

    [Fact]
    public void ACorrectCustomFunction_PassesGradCheckAndGradGradCheck()
    {
        Assert.True(Autograd.GradCheck(t => AutogradFunction.Apply<CubeFunction>(t[0]), Inputs()));
        Assert.True(Autograd.GradGradCheck(t => AutogradFunction.Apply<CubeFunction>(t[0]), Inputs()));
    }

    /// <summary>x³ whose backward says 3x (a planted wrong rule).</summary>
    private sealed class WrongCube : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs[0]);
            return inputs[0] * inputs[0] * inputs[0];
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput * ctx.SavedTensors[0] * 3];
    }

    /// <summary>x³ whose backward is right in value but not differentiable through x (the saved x detached): GradCheck passes, GradGradCheck fails.</summary>
    private sealed class DetachedCube : AutogradFunction
    {
        public override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs[0]);
            return inputs[0] * inputs[0] * inputs[0];
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
        {
            Tensor x = ctx.SavedTensors[0].Detach();
            return [gradOutput * x * x * 3];
        }
    }

    [Fact]
    public void APlantedWrongBackward_IsCaught()
    {
        var e = Assert.Throws<GradCheckException>(() => Autograd.GradCheck(t => AutogradFunction.Apply<WrongCube>(t[0]), Inputs()));
        Assert.StartsWith("Jacobian mismatch for output 0 with respect to input 0,", e.Message);
        Assert.False(Autograd.GradCheck(t => AutogradFunction.Apply<WrongCube>(t[0]), Inputs(), raiseException: false));
    }

    [Fact]
    public void ABackwardThatIsNotDifferentiable_PassesGradCheck_AndFailsGradGradCheck()
    {
        Assert.True(Autograd.GradCheck(t => AutogradFunction.Apply<DetachedCube>(t[0]), Inputs()));
        Assert.False(Autograd.GradGradCheck(t => AutogradFunction.Apply<DetachedCube>(t[0]), Inputs(), raiseException: false));
    }
}

/// <summary>(x², x³ · y) as one custom function with two outputs (the registry's multi-output case).</summary>
internal sealed class PowersFunction : MultiOutputFunction
{
    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
    {
        ctx.SaveForBackward(inputs[0], inputs[1]);
        Tensor x = inputs[0];
        return [x * x, x * x * x * inputs[1]];
    }

    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs)
    {
        Tensor[] s = ctx.SavedTensors;
        Tensor x = s[0], y = s[1];
        Tensor gx = gradOutputs[0] * x * 2 + gradOutputs[1] * x * x * y * 3;
        Tensor gy = gradOutputs[1] * x * x * x; // broadcast over y: the engine sums it back to y's shape
        return [ctx.NeedsInputGrad[0] ? gx : null, ctx.NeedsInputGrad[1] ? gy : null];
    }

    public override Tensor[] Jvp(FunctionContext ctx, Tensor[] tangents)
    {
        Tensor[] s = ctx.SavedTensors;
        Tensor x = s[0], y = s[1];
        return [tangents[0] * x * 2, tangents[0] * x * x * y * 3 + tangents[1] * x * x * x];
    }
}

/// <summary>Custom functions with several outputs: one node for the function, one per differentiable output.</summary>
public class MultiOutputFunctionTests
{
    private static double[] V(Tensor t) => t.ToArray<double>();

    [Fact]
    public void BothOutputs_GetTheFunctionsNode_AndTheirGradientsMeetInOneBackward()
    {
        var x = Tensor.From(new[] { 0.5, -1.5 }, requiresGrad: true);
        var y = Tensor.From(new[] { 2.0, 3 }, requiresGrad: true);
        Tensor[] o = MultiOutputFunction.Apply<PowersFunction>(x, y);
        Assert.Equal(2, o.Length);
        Assert.Equal("PowersFunctionBackward", o[0].GradFn);
        Assert.Equal("PowersFunctionBackward", o[1].GradFn);
        (o[0] * 3 + o[1]).Sum().Backward();
        var rx = Tensor.From(new[] { 0.5, -1.5 }, requiresGrad: true);
        var ry = Tensor.From(new[] { 2.0, 3 }, requiresGrad: true);
        (rx * rx * 3 + rx * rx * rx * ry).Sum().Backward();
        Assert.Equal(V(rx.Grad!.Value), V(x.Grad!.Value));
        Assert.Equal(V(ry.Grad!.Value), V(y.Grad!.Value));
    }

    [Fact]
    public void AnOutputThatGetsNoGradient_IsGivenZeros()
    {
        var x = Tensor.From(new[] { 0.5, -1.5 }, requiresGrad: true);
        var y = Tensor.From(new[] { 2.0, 3 });
        Tensor[] o = MultiOutputFunction.Apply<PowersFunction>(x, y);
        o[1].Sum().Backward(); // only the second output is used
        Assert.Equal([3 * 0.25 * 2, 3 * 2.25 * 3], V(x.Grad!.Value));
        Assert.Null(y.Grad);
    }

    private sealed class ValueAndMask : MultiOutputFunction
    {
        public double[][]? Seen; // read inside Backward: what a plain backward makes is released when the node is done

        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
        {
            Tensor mask = (inputs[0] > 0).To(DType.Float64);
            ctx.MarkNonDifferentiable(mask);
            return [inputs[0] * 2, mask];
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs)
        {
            Seen = [gradOutputs[0].ToArray<double>(), gradOutputs[1].ToArray<double>()];
            return [gradOutputs[0] * 2];
        }
    }

    [Fact]
    public void ANonDifferentiableOutput_DoesNotRequireGrad_AndBackwardSeesZerosForIt()
    {
        var x = Tensor.From(new[] { -1.0, 2 }, requiresGrad: true);
        var fn = new ValueAndMask();
        Tensor[] o = fn.Apply(x);
        Assert.True(o[0].RequiresGrad);
        Assert.False(o[1].RequiresGrad);
        Assert.Null(o[1].GradFn);
        (o[0] * o[1]).Sum().Backward();
        Assert.Equal([0.0, 1], fn.Seen![0]); // d(o0 * mask)/d o0 = mask
        Assert.Equal([0.0, 0], fn.Seen![1]);
        Assert.Equal([0.0, 2], V(x.Grad!.Value)); // d/dx sum(2x * mask)
    }

    [Fact]
    public void SecondDerivatives_ThroughBothOutputs()
    {
        var x = Tensor.From(new[] { 0.7, -0.4 }, requiresGrad: true);
        var y = Tensor.From(new[] { 1.5, 2.5 });
        Tensor[] o = MultiOutputFunction.Apply<PowersFunction>(x, y);
        Tensor g = Autograd.Grad((o[0] + o[1]).Sum(), x, createGraph: true)!.Value; // 2x + 3x²y
        Tensor h = Autograd.Grad(g.Sum(), x)!.Value;                               // 2 + 6xy
        Assert.Equal([2 + 6 * 0.7 * 1.5, 2 + 6 * -0.4 * 2.5], V(h), (a, b) => Math.Abs(a - b) < 1e-12);
    }

    [Fact]
    public void ForwardMode_GivesEveryOutputItsTangent()
    {
        var x = Tensor.From(new[] { 0.7, -0.4 });
        var y = Tensor.From(new[] { 1.5, 2.5 });
        var tx = Tensor.From(new[] { 1.0, 2 });
        using (ForwardAD.DualLevel())
        {
            Tensor[] o = MultiOutputFunction.Apply<PowersFunction>(ForwardAD.MakeDual(x, tx), y);
            Assert.Equal(V(tx * x * 2), V(ForwardAD.UnpackDual(o[0]).Tangent!.Value));
            Assert.Equal(V(tx * x * x * y * 3), V(ForwardAD.UnpackDual(o[1]).Tangent!.Value));
        }
    }

    [Fact]
    public void GradCheckAndGradGradCheck_PassOnAMultiOutputFunction()
    {
        Tensor[] inputs = [Tensor.FromSpan<double>([0.3, -1.2, 0.8], [3], requiresGrad: true), Tensor.FromSpan<double>([1.1, 0.6, -0.9], [3], requiresGrad: true)];
        Assert.True(Autograd.GradCheck(t => MultiOutputFunction.Apply<PowersFunction>(t[0], t[1]), inputs));
        Assert.True(Autograd.GradGradCheck(t => MultiOutputFunction.Apply<PowersFunction>(t[0], t[1]), inputs));
    }

    private sealed class MixedDTypes : MultiOutputFunction
    {
        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [inputs[0] * 2, (inputs[0] * 3).To(DType.Float32)];

        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs)
        {
            Assert.Equal(DType.Float64, gradOutputs[0].DType);
            Assert.Equal(DType.Float32, gradOutputs[1].DType); // each gradient in its output's dtype
            return [gradOutputs[0] * 2 + gradOutputs[1].To(DType.Float64) * 3];
        }
    }

    [Fact]
    public void OutputsOfDifferentDTypes_GetGradientsInTheirOwnDType()
    {
        var x = Tensor.From(new[] { 1.0, 2 }, requiresGrad: true);
        Tensor[] o = new MixedDTypes().Apply(x);
        (o[0].Sum() + o[1].Sum().To(DType.Float64)).Backward();
        Assert.Equal([5.0, 5], V(x.Grad!.Value));
    }

    private sealed class InputTwice : MultiOutputFunction
    {
        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [inputs[0], inputs[0]];

        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs) => [gradOutputs[0] + gradOutputs[1] * 10];
    }

    [Fact]
    public void AnInputReturnedTwice_GivesTwoViews()
    {
        var x = Tensor.From(new[] { 1.0, 2 }, requiresGrad: true);
        Tensor[] o = new InputTwice().Apply(x);
        Assert.NotEqual(o[0].Slot, o[1].Slot);
        (o[0] + o[1] * 2).Sum().Backward();
        Assert.Equal([21.0, 21], V(x.Grad!.Value));
    }

    private sealed class IntegerGradient : MultiOutputFunction
    {
        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [inputs[0] * 2];

        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs) => [Tensor.Zeros([2], DType.Int64)];
    }

    private sealed class NoOutputs : MultiOutputFunction
    {
        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [];

        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs) => [];
    }

    private sealed class OneTangentForTwoOutputs : MultiOutputFunction
    {
        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [inputs[0] * 2, inputs[0] * 3];

        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs) => [gradOutputs[0] * 2 + gradOutputs[1] * 3];

        public override Tensor[] Jvp(FunctionContext ctx, Tensor[] tangents) => [tangents[0] * 2];
    }

    [Fact]
    public void WrongResultsFromTheUsersCode_FailWithMessagesNamingTheFunction()
    {
        var x = Tensor.From(new[] { 1.0, 2 }, requiresGrad: true);
        var dtype = Assert.Throws<InvalidOperationException>(() => new IntegerGradient().Apply(x)[0].Sum().Backward());
        Assert.Equal("Function IntegerGradientBackward returned an invalid gradient at index 0 - expected a floating-point gradient, got torch.int64", dtype.Message);
        var none = Assert.Throws<InvalidOperationException>(() => new NoOutputs().Apply(x));
        Assert.Contains("NoOutputs.Forward returned", none.Message);
        var tangents = Assert.Throws<InvalidOperationException>(() =>
        {
            using (ForwardAD.DualLevel()) new OneTangentForTwoOutputs().Apply(ForwardAD.MakeDual(Tensor.From(new[] { 1.0 }), Tensor.From(new[] { 1.0 })));
        });
        Assert.Equal("OneTangentForTwoOutputsBackward: Jvp returned 1 tangents for 2 outputs; return one per output.", tangents.Message);
        // and the engine still works
        (x * 2).Sum().Backward();
        Assert.Equal([2.0, 2], V(x.Grad!.Value));
    }
}
