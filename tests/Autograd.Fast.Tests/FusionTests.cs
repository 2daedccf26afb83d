using AutogradFast.Ops;
using AutogradFast.Storage;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// Deferred, fused elementwise evaluation (Ops/Fusion.cs) on tensors large enough to be fused by
/// default: the same bits as eager evaluation, operands captured when the op ran, in-place writes
/// that evaluate their readers first, views, scopes, long chains, threads, and no leaks.
/// </summary>
public sealed class FusionTests
{
    private const int N = 300_001; // above the default threshold, not a multiple of a block, a chunk or a vector

    private static bool IsPending(Tensor t) => TensorContext.Current.Records[t.Slot].IsPending;

    private static Tensor Input(ulong seed, DType dtype = DType.Float32, int n = N)
    {
        Autograd.ManualSeed(seed);
        using (Autograd.NoGrad()) return Tensor.Randn([n], dtype) * 0.5;
    }

    /// <summary>Runs <paramref name="body"/> eagerly (threshold above any size), then fused (the default threshold).</summary>
    private static (T Fused, T Eager) BothWays<T>(Func<T> body)
    {
        int previous = Autograd.FusionMinElements;
        try
        {
            Autograd.FusionMinElements = int.MaxValue;
            T eager = body();
            Autograd.FusionMinElements = previous;
            T fused = body();
            return (fused, eager);
        }
        finally
        {
            Autograd.FusionMinElements = previous;
        }
    }

    private static double[] Values(Tensor t)
        => t.DType == DType.Float32 ? Array.ConvertAll(t.ToArray<float>(), v => (double)v) : t.ToArray<double>();

    [Fact]
    public void LargeElementwiseResults_AreDeferred_SmallOnesAreNot()
    {
        using (Autograd.Scope())
        {
            Tensor big = Input(1);
            Tensor small = Tensor.Ones(1000);
            Assert.True(IsPending(big * 2));
            Assert.True(IsPending((big * 2).Exp()));
            Assert.False(IsPending(small * 2));
            Assert.False(IsPending(big.Sum()));
        }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void SquareExpSum_AndItsGradient_AreTheEagerBits(DType dtype)
    {
        var (fused, eager) = BothWays(() =>
        {
            using (Autograd.Scope())
            {
                Tensor x = Input(1, dtype).RequiresGrad_(true);
                Tensor y = (x * x).Exp().Sum();
                y.Backward();
                return (Values(y)[0], Values(x.Grad!.Value));
            }
        });
        Assert.Equal(eager.Item1, fused.Item1);
        Assert.Equal(eager.Item2, fused.Item2);
    }

    public static TheoryData<string> Graphs() => new(FusedGraphs.Keys);

    private static readonly Dictionary<string, Func<Tensor, Tensor, Tensor>> FusedGraphs = new()
    {
        ["arithmetic"] = (a, b) => (a + b) * (a - b) / (b.Exp() + 1),
        ["activations"] = (a, b) => (a.Sigmoid() * b.Tanh() - a.Relu()).Pow(3) + a.Pow(2),
        ["log-reciprocal"] = (a, b) => (a * 3 - 1).Neg().Reciprocal() + (b * b + 1).Log() + (b * b).Pow(0.5),
        ["pow-scalars"] = (a, b) => (2 - b.Pow(-1) * 0.25 + a.Pow(1.7)) / 3,
        ["shared-subexpressions"] = (a, b) => { Tensor s = a * b; Tensor t = s + s * s; return t * s - t; },
        ["long-chain"] = (a, b) => { Tensor h = a; for (int i = 0; i < 40; i++) h = h * 0.99 + b * 0.01; return h; },
        ["branches"] = (a, b) => { Tensor h = a.Tanh(); for (int i = 0; i < 6; i++) h = i % 2 == 0 ? h * b + a : (h - b).Sigmoid(); return h; },
    };

    [Theory]
    [MemberData(nameof(Graphs))]
    public void FusedGraph_GivesTheEagerBits_ForwardAndBackward(string name)
    {
        var graph = FusedGraphs[name];
        var (fused, eager) = BothWays(() =>
        {
            using (Autograd.Scope())
            {
                Tensor a = Input(2).RequiresGrad_(true);
                Tensor b = (Input(3) + 2).RequiresGrad_(true);
                Tensor y = graph(a, b);
                Tensor loss = (y * y).Mean();
                loss.Backward();
                return (y.ToArray<float>(), loss.Item<float>(), a.Grad!.Value.ToArray<float>(), b.Grad!.Value.ToArray<float>());
            }
        });
        Assert.Equal(eager.Item1, fused.Item1);
        Assert.Equal(eager.Item2, fused.Item2);
        Assert.Equal(eager.Item3, fused.Item3);
        Assert.Equal(eager.Item4, fused.Item4);
    }

    [Fact]
    public void FusedResults_AreBitwiseIdentical_AtOneAndTwoThreads()
    {
        int threads = Autograd.NumThreads;
        try
        {
            (double, float[]) Run(int n)
            {
                Autograd.SetNumThreads(n);
                using (Autograd.Scope())
                {
                    Tensor x = Input(4, DType.Float32, 1 << 21).RequiresGrad_(true);
                    Tensor y = ((x * x).Exp() * x.Sigmoid()).Sum();
                    y.Backward();
                    return (Values(y)[0], x.Grad!.Value.ToArray<float>());
                }
            }
            var one = Run(1);
            var two = Run(2);
            Assert.Equal(one.Item1, two.Item1);
            Assert.Equal(one.Item2, two.Item2);
        }
        finally
        {
            Autograd.SetNumThreads(threads);
        }
    }

    [Fact]
    public void AnInPlaceWrite_EvaluatesTheDeferredResultsThatReadIt_First()
    {
        using (Autograd.Scope())
        {
            Tensor x = Input(5);
            float[] before = x.ToArray<float>();
            Tensor doubled = x * 2;
            Assert.True(IsPending(doubled));
            x.Add_(Tensor.Ones(N));    // x changes after doubled was "computed"
            x.Mul_(3);
            Assert.False(IsPending(doubled));
            Assert.Equal(before.Select(v => v * 2).ToArray(), doubled.ToArray<float>());
        }
    }

    [Fact]
    public void AWriteIntoAComputedOperand_DoesNotReachItsDeferredReaders()
    {
        using (Autograd.Scope())
        {
            Tensor x = Input(6);
            Tensor a = x + 1;                 // pending
            Tensor b = a * 10;                // pending, reads a's expression
            float[] expected = a.ToArray<float>().Select(v => v * 10).ToArray(); // computes a into memory
            Assert.False(IsPending(a));
            Assert.True(IsPending(b));        // now streams a's memory
            a.Zero_();
            a.Fill_(7);
            Assert.Equal(expected, b.ToArray<float>());
            Assert.All(a.ToArray<float>(), v => Assert.Equal(7f, v));
        }
    }

    [Fact]
    public void IndexAssignment_AndViews_OfDeferredTensors()
    {
        using (Autograd.Scope())
        {
            Tensor x = Input(7);
            float[] xs = x.ToArray<float>();
            Tensor y = x * 2;
            Tensor z = y + 1;                 // reads y's expression
            Tensor slice = y[10..20];         // a view needs memory: y is computed
            Assert.False(IsPending(y));
            Assert.Equal(xs[10] * 2, slice[0].Item<float>());
            y[3] = Tensor.Full([], 100);      // writes y: z must keep y's old values
            Assert.Equal(100f, y[3].Item<float>());
            Assert.Equal(xs[3] * 2 + 1, z[3].Item<float>());
            Assert.Equal(xs[4] * 2 + 1, z[4].Item<float>());
        }
    }

    [Fact]
    public void AKeptDeferredTensor_OutlivesTheScopeOfItsOperands()
    {
        Tensor kept;
        float[] expected;
        using (var outer = Autograd.Scope())
        {
            using (var inner = Autograd.Scope())
            {
                Tensor x = Input(8);
                expected = (x.Exp() * 3).ToArray<float>();
                Tensor deferred = x.Exp() * 3;
                Assert.True(IsPending(deferred));
                kept = inner.Keep(deferred);
            }
            Assert.Equal(expected, kept.ToArray<float>());
        }
    }

    [Fact]
    public void DeferredGradients_AccumulateIntoGrad_AcrossBackwards()
    {
        var (fused, eager) = BothWays(() =>
        {
            using (Autograd.Scope())
            {
                Tensor x = Input(9).RequiresGrad_(true);
                for (int i = 0; i < 3; i++)
                {
                    using (Autograd.Scope()) (x * x * (i + 1)).Sigmoid().Sum().Backward();
                }
                float[] accumulated = x.Grad!.Value.ToArray<float>();
                x.Grad!.Value.Zero_();
                using (Autograd.Scope()) x.Exp().Sum().Backward();
                return (accumulated, x.Grad!.Value.ToArray<float>());
            }
        });
        Assert.Equal(eager.Item1, fused.Item1);
        Assert.Equal(eager.Item2, fused.Item2);
    }

    [Fact]
    public void ASavedDeferredValue_ModifiedInPlace_IsStillDetected()
    {
        using (Autograd.Scope())
        {
            Tensor x = Input(10).RequiresGrad_(true);
            Tensor y = x.Exp();               // saves its (deferred) result
            Tensor loss = y.Sum();
            using (Autograd.NoGrad()) y.Mul_(2);
            var e = Assert.Throws<InvalidOperationException>(() => loss.Backward());
            Assert.Contains("modified by an inplace operation", e.Message);
        }
    }

    [Fact]
    public void RepeatedFusedSteps_LeakNoExpressionsBuffersOrSlots()
    {
        Tensor x = Input(11).RequiresGrad_(true);
        void Step()
        {
            using (Autograd.Scope())
            {
                Tensor kept = (x * 3).Tanh();
                Tensor y = ((x * x).Exp() + kept * kept).Sum();
                y.Backward();
                x.Grad!.Value.Zero_();
            }
        }
        for (int i = 0; i < 3; i++) Step();
        var before = Autograd.PoolStatistics();
        int expressions = TensorContext.Current.LiveExpressionCount;
        for (int i = 0; i < 50; i++) Step();
        Assert.Equal(before, Autograd.PoolStatistics());
        Assert.Equal(expressions, TensorContext.Current.LiveExpressionCount);
    }

    [Fact]
    public void ZeroingALargeGrad_IsDeferred_AndReadsAsZeros()
    {
        using (Autograd.Scope())
        {
            Tensor x = Input(12).RequiresGrad_(true);
            x.Exp().Sum().Backward();
            Tensor grad = x.Grad!.Value;
            grad.Zero_();
            Assert.True(IsPending(grad));
            grad.Fill_(5);
            grad.Zero_();
            Assert.Equal(0.0, grad.Sum().Item<float>());         // reduced without being written
            Assert.True(IsPending(grad));
            Assert.All(grad.ToArray<float>(), v => Assert.Equal(0f, v));
            Assert.False(IsPending(grad));
        }
    }

    [Fact]
    public void AResultReadingADeferredZero_KeepsItsZeros_WhenTheGradAccumulatesAgain()
    {
        using (Autograd.Scope())
        {
            Tensor x = Input(17).RequiresGrad_(true);
            x.Exp().Sum().Backward();
            x.Grad!.Value.Zero_();
            Tensor doubled = x.Grad!.Value * 2;   // reads the deferred zeros
            Assert.True(IsPending(doubled));
            x.Exp().Sum().Backward();             // writes into the .grad: doubled must not see it
            Assert.All(doubled.ToArray<float>(), v => Assert.Equal(0f, v));
            Assert.All(x.Grad!.Value.ToArray<float>(), v => Assert.True(v > 0));
        }
    }

    [Fact]
    public void ZeroingAGradThatAViewShares_WritesAtOnce()
    {
        using (Autograd.Scope())
        {
            Tensor x = Input(13).RequiresGrad_(true);
            x.Exp().Sum().Backward();
            Tensor view = x.Grad!.Value[5..10];
            x.Grad!.Value.Zero_();
            Assert.False(IsPending(x.Grad!.Value));
            Assert.All(view.ToArray<float>(), v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void AGradientAddedOntoADeferredZero_KeepsPositiveZero_AsTheEagerSum()
    {
        // 0 + (-0) is +0: writing the gradient straight into the zeroed .grad must not produce -0.
        var (fused, eager) = BothWays(() =>
        {
            using (Autograd.Scope())
            {
                Tensor x = Input(14).RequiresGrad_(true);
                (x * 2).Sum().Backward();
                x.Grad!.Value.Zero_();
                (x * -0.0).Sum().Backward();
                return x.Grad!.Value.ToArray<float>();
            }
        });
        Assert.All(eager, v => Assert.True(float.IsPositive(v) && v == 0));
        Assert.Equal(eager, fused);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void AGradientStreamedOntoADeferredZero_IsTheEagerSum(DType dtype)
    {
        // At StreamingMinBytes and above, the gradient is written with streaming stores (a ragged tail too).
        int n = (int)(Fusion.StreamingMinBytes / dtype.ElementSize()) + 1001;
        long streamedBefore = Fusion.StreamedWrites;
        var (fused, eager) = BothWays(() =>
        {
            using (Autograd.Scope())
            {
                Tensor x = Input(15, dtype, n).RequiresGrad_(true);
                (x * x).Exp().Sum().Backward();
                double[] first = Values(x.Grad!.Value);
                x.Grad!.Value.Zero_();
                (x * x).Exp().Sum().Backward();     // x.grad = 0 + 2 x exp(x^2), written onto the deferred zero
                double[] onto = Values(x.Grad!.Value);
                x.Grad!.Value.Zero_();
                (x * -0.0).Sum().Backward();        // 0 + (-0) is +0
                return (first, onto, Values(x.Grad!.Value));
            }
        });
        Assert.Equal(2, Fusion.StreamedWrites - streamedBefore); // the fused run streamed both writes onto the zero
        Assert.Equal(eager.first, fused.first);
        Assert.Equal(eager.onto, fused.onto);
        Assert.Equal(eager.first, fused.onto);
        Assert.All(fused.Item3, v => Assert.True(double.IsPositive(v) && v == 0));
        Assert.Equal(eager.Item3, fused.Item3);
    }

    [Fact]
    public void ZeroingASavedValue_IsStillAnInPlaceModification()
    {
        using (Autograd.Scope())
        {
            Tensor a = Input(16).RequiresGrad_(true);
            Tensor saved = a * 1;
            Assert.NotEmpty(saved.ToArray<float>()); // computed into a buffer of its own
            Tensor loss = saved.Dot(saved);          // dot saves its inputs and reads them at once
            using (Autograd.NoGrad()) saved.Zero_();
            Assert.True(IsPending(saved));           // the zeroing was deferred, the version still moved
            var e = Assert.Throws<InvalidOperationException>(() => loss.Backward());
            Assert.Contains("modified by an inplace operation", e.Message);
            Assert.All(saved.ToArray<float>(), v => Assert.Equal(0f, v));
        }
    }
}
