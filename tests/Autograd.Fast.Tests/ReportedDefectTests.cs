namespace AutogradFast.Tests;

/// <summary>
/// The defects a new user hit (issue 7), each as they reported it, with PyTorch's answer. The
/// layout-matrix suite (LayoutMatrix/) covers the classes of bug; these pin the reported cases.
/// </summary>
public class ReportedDefectTests
{
    // ---- 1. comparisons read some operands as one broadcast scalar ----

    [Fact]
    public void ComparingTwoColumnsOfLogits_GivesPerRowAnswers()
    {
        Autograd.ManualSeed(11);
        Tensor logits = Tensor.Randn(64, 2);
        bool[] viaViews = (logits.Select(1, 1) > logits.Select(1, 0)).ToArray<bool>();
        float[] l = logits.ToArray<float>();
        bool[] expected = Enumerable.Range(0, 64).Select(i => l[2 * i + 1] > l[2 * i]).ToArray();
        Assert.Equal(expected, viaViews);
        Assert.Contains(true, expected);
        Assert.Contains(false, expected);
    }

    [Fact]
    public void ATransposedMatrixComparedWithZero_IsAboutHalfTrue()
    {
        Autograd.ManualSeed(12);
        Tensor m = Tensor.Randn(400, 700);
        long positives = (m.T() > 0).Sum().Item<long>();
        Assert.Equal((m > 0).Sum().Item<long>(), positives);
        Assert.InRange(positives, 130_000, 150_000);
        Assert.Equal((m.T().Contiguous() > 0).ToArray<bool>(), (m.T() > 0).ToArray<bool>());
    }

    [Fact]
    public void AnInt64TensorComparedWithAFloat_ComparesInFloat()
    {
        Assert.Equal(new[] { false, true, true }, (Tensor.From(new[] { 1, 2, 3 }) > 1.5).ToArray<bool>());
    }

    [Fact]
    public void AColumnComparedWithARow_Broadcasts()
    {
        Tensor r = Tensor.From(new float[,] { { 1 }, { 2 } }) > Tensor.From(new float[,] { { 0, 1.5f, 3 } });
        Assert.Equal(new[] { 2, 3 }, r.Shape.AsSpan().ToArray());
        Assert.Equal(new[] { true, false, false, true, true, false }, r.ToArray<bool>());
    }

    [Fact]
    public void BoolTensors_CompareElementwise()
    {
        Assert.Equal(new[] { true, false }, (Tensor.From(new[] { true, false }) == Tensor.From(new[] { true, true })).ToArray<bool>());
    }

    [Fact]
    public void AFloat64ZeroDimTensor_DoesNotLiftAFloat32Comparison()
    {
        // PyTorch's result type: float32 (3,) vs float64 () compares in float32, where 0.1 rounds.
        Tensor x = Tensor.From(new[] { 0.1f, 0.2f });
        Assert.Equal(new[] { true, false }, (x == Tensor.From(0.1)).ToArray<bool>());
    }

    // ---- 4. index assignment drops the value's leading size-1 dimensions ----

    [Fact]
    public void AssigningAValueWithExtraLeadingOnes_FillsTheRow()
    {
        Tensor t = Tensor.Zeros(2, 3);
        t[1] = Tensor.Full([1, 1], 4);
        Assert.Equal(new[] { 0f, 0f, 0f, 4f, 4f, 4f }, t.ToArray<float>());

        Tensor one = Tensor.Zeros(1);
        Tensor x = Tensor.Ones(1, requiresGrad: true);
        one[0] = x;
        one.Sum().Backward();
        Assert.Equal(new[] { 1 }, x.Grad!.Value.Shape.AsSpan().ToArray()); // the value's own shape
        Assert.Equal(new[] { 1f }, x.Grad!.Value.ToArray<float>());
    }

    // ---- 5. copy_ records CopyBackwards ----

    [Fact]
    public void CopyingATensorThatRequiresGrad_RecordsCopyBackwards()
    {
        Tensor y = Tensor.Zeros(3);
        Tensor x = Tensor.Ones(3, requiresGrad: true);
        y.Copy_(x);
        Assert.True(y.RequiresGrad);
        Assert.Equal("CopyBackwards", y.GradFn);
        (y * 2).Sum().Backward();
        Assert.Equal(new[] { 2f, 2f, 2f }, x.Grad!.Value.ToArray<float>());
    }

    // ---- 6. a scope belongs to its thread ----

    [Fact]
    public void DisposingAScopeFromAnotherThread_IsRefused_AndTheScopeStillWorks()
    {
        AutogradScope scope = Autograd.Scope();
        Tensor inside = Tensor.Ones(2) * 3;
        Exception? error = null;
        var thread = new Thread(() => error = Record(() => scope.Dispose()));
        thread.Start();
        thread.Join();
        Assert.IsType<InvalidOperationException>(error);
        Assert.Contains($"Autograd.Scope #{scope.Id} belongs to a graph that thread", error!.Message);
        Assert.Equal(new[] { 3f, 3f }, inside.ToArray<float>()); // still open, still usable here
        scope.Dispose();
        Assert.Throws<ObjectDisposedException>(() => inside.Sum());

        GradModeScope noGrad = Autograd.NoGrad();
        var other = new Thread(() => error = Record(() => noGrad.Dispose()));
        other.Start();
        other.Join();
        Assert.IsType<InvalidOperationException>(error);
        Assert.False(Autograd.IsGradEnabled);
        noGrad.Dispose();
        Assert.True(Autograd.IsGradEnabled);
    }

    // ---- 8. messages name the call that failed and suggest what exists ----

    [Fact]
    public void ReadingAnElementAsTheWrongType_NamesTheCallAndAConversionThatExists()
    {
        var e = Assert.Throws<InvalidCastException>(() => Tensor.From(1f).Item<int>());
        Assert.StartsWith("Item<Int32>(): the tensor holds torch.float32", e.Message);
        Assert.Contains("Item<float>()", e.Message);
        Assert.Contains(".To(DType.Int64)", e.Message);
        Assert.Equal(1L, Tensor.From(1f).To(DType.Int64).Item<long>()); // the suggested conversion exists and works
        Assert.StartsWith("ToArray<Double>()", Assert.Throws<InvalidCastException>(() => Tensor.Ones(2).ToArray<double>()).Message);
        Assert.StartsWith("CopyTo<Int64>(span)", Assert.Throws<InvalidCastException>(() => Tensor.Ones(2).CopyTo<long>(new long[2])).Message);
        var arithmetic = Assert.Throws<NotSupportedException>(() => Tensor.From(new[] { true }) - Tensor.From(new[] { true }));
        Assert.StartsWith("a - b: arithmetic on bool tensors", arithmetic.Message);
        Assert.Equal(new[] { 0L }, (Tensor.From(new[] { true }).To(DType.Int64) - Tensor.From(new[] { true }).To(DType.Int64)).ToArray<long>());
    }

    // ---- 9. ranges clamp as Python slices do ----

    [Fact]
    public void RangesBeyondTheEnds_ClampAsPythonSlices()
    {
        Tensor x = Tensor.Arange(3);
        Assert.Equal(new[] { 1L, 2L }, x[1..10].ToArray<long>());      // x[1:10]
        Assert.Empty(x[5..].ToArray<long>());                          // x[5:]
        Assert.Equal(new[] { 0L, 1L, 2L }, x[^10..].ToArray<long>());  // x[-10:]
        Assert.Empty(x[2..1].ToArray<long>());                         // x[2:1]
        Tensor y = Tensor.Zeros(3);
        y[1..10] = Tensor.Ones(2);                                     // y[1:10] = ones(2)
        Assert.Equal(new[] { 0f, 1f, 1f }, y.ToArray<float>());
    }

    private static Exception? Record(Action a)
    {
        try
        {
            a();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}
