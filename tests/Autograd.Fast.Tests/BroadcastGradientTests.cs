namespace AutogradFast.Tests;

/// <summary>
/// sum() and mean() hand their gradient on as a broadcast view (stride 0) instead of writing it
/// out. Every rule must read it correctly: compare each graph's gradients with the same graph fed a
/// dense all-ones gradient before the reduction (which must give identical numbers).
/// </summary>
public class BroadcastGradientTests
{
    public static TheoryData<string> Graphs => new(Builders.Keys);

    private static readonly Dictionary<string, Func<Tensor, Tensor>> Builders = new()
    {
        ["exp"] = x => x.Exp(),
        ["mul-self"] = x => x * x,
        ["mul-other"] = x => x * Tensor.Arange(4.0).Unsqueeze(0),
        ["select"] = x => x[1],
        ["slice"] = x => x.Slice(1, 1, 4, 2),
        ["transpose"] = x => x.T(),
        ["unsqueeze"] = x => x.Unsqueeze(0),
        ["broadcast-add"] = x => x + Tensor.Ones([5, 3, 4]),
        ["mm"] = x => Tensor.Mm(x, Tensor.Ones(4, 2)),
        ["index-assign"] = x => { var y = Tensor.Zeros(3, 4); y[1] = x[0] * 2; return y; },
        ["tanh-sigmoid"] = x => x.Tanh().Sigmoid(),
        ["pow-div"] = x => x.Pow(3) / (x + 5),
    };

    [Theory]
    [MemberData(nameof(Graphs))]
    public void SumAndMeanGradients_MatchADenseUpstreamGradient(string graph)
    {
        foreach (bool mean in new[] { false, true })
        {
            Autograd.ManualSeed(11);
            var x = Tensor.Rand([3, 4], requiresGrad: true);
            var output = Builders[graph](x);
            (mean ? output.Mean() : output.Sum()).Backward();
            float[] viaBroadcast = x.Grad!.Value.ToArray<float>();

            x.Grad = null;
            var again = Builders[graph](x);
            var dense = Tensor.Full(again.Shape.AsSpan(), mean ? 1.0 / again.NumEl() : 1.0);
            again.Backward(dense);
            float[] viaDense = x.Grad!.Value.ToArray<float>();
            for (int i = 0; i < viaDense.Length; i++)
                Assert.True(Math.Abs(viaDense[i] - viaBroadcast[i]) <= 1e-6f * Math.Max(1, Math.Abs(viaDense[i])),
                    $"{graph} (mean: {mean}) element {i}: broadcast {viaBroadcast[i]}, dense {viaDense[i]}");
        }
    }

    [Fact]
    public void ALeafReachedOnlyThroughSum_GetsADenseGradThatAccumulates()
    {
        var x = Tensor.Ones(5, requiresGrad: true);
        x.Sum().Backward();
        x.Sum().Backward();
        Assert.Equal(new[] { 2f, 2f, 2f, 2f, 2f }, x.Grad!.Value.ToArray<float>());
        var grad = x.Grad!.Value;
        grad[0] = Tensor.From(7f); // .Grad owns its memory: writing one element changes one element
        Assert.Equal("tensor([7., 2., 2., 2., 2.])", grad.ToString());
    }

    [Fact]
    public void LargeElementwiseAndReductions_AreBitwiseIdenticalOnOneAndTwoThreads()
    {
        int previous = Autograd.NumThreads;
        try
        {
            float[] Run(int threads)
            {
                Autograd.SetNumThreads(threads);
                Autograd.ManualSeed(5);
                var x = Tensor.Randn([1 << 20], requiresGrad: true);
                using var scope = Autograd.Scope();
                var y = (x * x * 0.25).Exp().Tanh().Sum() + (x.Sigmoid() - 0.5).Norm();
                y.Backward();
                float[] grad = x.Grad!.Value.ToArray<float>();
                return [.. grad, y.Item<float>()];
            }
            float[] one = Run(1), two = Run(2);
            Assert.Equal(one.Length, two.Length);
            for (int i = 0; i < one.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(one[i]) == BitConverter.SingleToInt32Bits(two[i]), $"element {i}: {one[i]} vs {two[i]}");
        }
        finally
        {
            Autograd.SetNumThreads(previous);
        }
    }
}
