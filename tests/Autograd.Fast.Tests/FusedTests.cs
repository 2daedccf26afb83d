using AutogradFast.Storage;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// The gradient, higher-order, error, lifetime and seed suites again with fusion forced on for every tensor size
/// (<see cref="Autograd.FusionMinElements"/> = 1): deferring and fusing elementwise work must not
/// change a value, a grad_fn, an error message or a printed string.
/// </summary>
public sealed class FusedOracleGradientTests : OracleGradientTests, IDisposable
{
    private readonly ForcedFusion _fusion = new();

    public void Dispose() => _fusion.Dispose();

    /// <summary>Guards the suite: if the setting did not reach the test's thread, nothing here would be fused.</summary>
    [Fact]
    public void Fusion_IsOnForTheseTests() => ForcedFusion.AssertDeferred();
}

public sealed class FusedFiniteDifferenceTests : FiniteDifferenceTests, IDisposable
{
    private readonly ForcedFusion _fusion = new();

    public void Dispose() => _fusion.Dispose();

    [Fact]
    public void Fusion_IsOnForTheseTests() => ForcedFusion.AssertDeferred();
}

public sealed class FusedErrorTests : ErrorTests, IDisposable
{
    private readonly ForcedFusion _fusion = new();

    public void Dispose() => _fusion.Dispose();

    [Fact]
    public void Fusion_IsOnForTheseTests() => ForcedFusion.AssertDeferred();
}

public sealed class FusedBroadcastGradientTests : BroadcastGradientTests, IDisposable
{
    private readonly ForcedFusion _fusion = new();

    public void Dispose() => _fusion.Dispose();

    [Fact]
    public void Fusion_IsOnForTheseTests() => ForcedFusion.AssertDeferred();
}

public sealed class FusedLifetimeTests : LifetimeTests, IDisposable
{
    private readonly ForcedFusion _fusion = new();

    public void Dispose() => _fusion.Dispose();

    [Fact]
    public void Fusion_IsOnForTheseTests() => ForcedFusion.AssertDeferred();
}

public sealed class FusedSeedNotebookTests : SeedNotebookTests, IDisposable
{
    private readonly ForcedFusion _fusion = new();

    public void Dispose() => _fusion.Dispose();

    [Fact]
    public void Fusion_IsOnForTheseTests() => ForcedFusion.AssertDeferred();
}

/// <summary>Second and third derivatives, createGraph's bit-for-bit gradients, the gradient penalty and the errors, fused.</summary>
public sealed class FusedHigherOrderTests : HigherOrderTests, IDisposable
{
    private readonly ForcedFusion _fusion = new();

    public void Dispose() => _fusion.Dispose();

    [Fact]
    public void Fusion_IsOnForTheseTests() => ForcedFusion.AssertDeferred();
}

public sealed class FusedHigherOrderOracleTests : HigherOrderOracleTests, IDisposable
{
    private readonly ForcedFusion _fusion = new();

    public void Dispose() => _fusion.Dispose();

    [Fact]
    public void Fusion_IsOnForTheseTests() => ForcedFusion.AssertDeferred();
}

/// <summary>Sets the fusion threshold to 1 on the constructing thread until disposed.</summary>
internal sealed class ForcedFusion : IDisposable
{
    private readonly int _previous = Autograd.FusionMinElements;

    public ForcedFusion() => Autograd.FusionMinElements = 1;

    public void Dispose() => Autograd.FusionMinElements = _previous;

    public static void AssertDeferred()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.Arange(8, DType.Float32); // more than 16 bytes: not stored inline, so it can be streamed
            Tensor y = x * 2;
            Assert.True(TensorContext.Current.Records[y.Slot].IsPending, "x * 2 was computed eagerly: fusion is not forced on this thread");
            Assert.Equal([0f, 2f, 4f, 6f, 8f, 10f, 12f, 14f], y.ToArray<float>());
            Assert.False(TensorContext.Current.Records[y.Slot].IsPending);
        }
    }
}
