using AutogradFast.Storage;

namespace AutogradFast.Tests;

/// <summary>
/// A record's <c>IsContiguous</c> bit, which every op's fast path reads instead of walking the strides, agrees
/// with its shape and strides however the record was made: factories, op results, every view, views of
/// views, deferred (fused) results, reshaped gradients, and a slot reused for another layout.
/// </summary>
public class RecordLayoutTests
{
    private static void AssertBitMatchesLayout(Tensor t, bool expected, string what)
    {
        ref TensorRecord r = ref TensorContext.Current.Records[t.Slot];
        Assert.True(r.LayoutIsContiguous() == expected, $"{what}: the layout test says {r.LayoutIsContiguous()}, expected {expected}");
        Assert.True(r.IsContiguous == expected, $"{what}: the contiguous bit says {r.IsContiguous}, expected {expected}");
    }

    [Fact]
    public void TheContiguousBit_MatchesTheLayout_OfEveryKindOfRecord()
    {
        using var scope = Autograd.Scope();
        Tensor x = Tensor.Zeros([2, 3, 4]);
        Tensor m = Tensor.Ones(3, 5, requiresGrad: true);
        var cases = new (Tensor T, bool Contiguous, string What)[]
        {
            (x, true, "zeros(2,3,4)"),
            (Tensor.From(3f), true, "0-d"),
            (Tensor.Zeros([0, 3]), true, "empty"),
            (x + 1, true, "an op's result"),
            (m.T(), false, "m.t()"),
            (m.T().T(), true, "m.t().t()"),
            (x.Transpose(0, 2), false, "transpose(0, 2)"),
            (x.Select(0, 1), true, "select(0, 1)"),
            (x.Select(2, 1), false, "select(2, 1)"),
            (x.Slice(0, 0, 1), true, "x[0:1] (a size-1 dim takes any stride)"),
            (x.Slice(1, 0, 2), false, "x[:, 0:2]"),
            (x.Slice(2, 0, 4, 2), false, "x[..., ::2]"),
            (x.Slice(0, 1, 2).Slice(1, 0, 3), true, "x[1:2][:, 0:3]"),
            (x.Unsqueeze(1), true, "unsqueeze(1)"),
            (Tensor.Zeros(3).Unsqueeze(1).Expand(3, 4), false, "expand"),
            (Tensor.Zeros(1).Expand(1), true, "expand to the same size"),
            (m.T().Unsqueeze(0), false, "a view of a transposed view"),
            (x.Detach(), true, "detach()"),
            (m.T().Contiguous(), true, "t().contiguous()"),
            (m.T().Clone(), true, "t().clone()"),
            (Tensor.Ones(1000) * 2 + 1, true, "a deferred (fused) result"),
        };
        foreach (var (t, contiguous, what) in cases) AssertBitMatchesLayout(t, contiguous, what);
        // A gradient summed back to a broadcast input's shape, and slots reused after a scope ends.
        (m.T() * Tensor.Ones(5, 3)).Sum().Backward();
        AssertBitMatchesLayout(m.Grad!.Value, true, "a .grad summed back from a transposed use");
        for (int i = 0; i < 3; i++)
        {
            using (Autograd.Scope())
            {
                AssertBitMatchesLayout(x.Transpose(1, 2), false, "a transposed view in a reused slot");
                AssertBitMatchesLayout(x * 2, true, "a result in a reused slot");
            }
        }
    }
}
