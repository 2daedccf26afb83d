using System.Text.Json;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// In-place ops recorded by autograd, against PyTorch 1.13 (tests/oracle/inplace_fixtures.py writes
/// Fixtures/inplace.json): on non-leaves, on tensors that take their history from the source, on views
/// of non-leaves (CopySlices), chained, under createGraph, and the version-counter errors. Each case
/// checks the values after every write, the grad_fn names, and every leaf's gradient.
/// </summary>
public class InPlaceRecordingTests
{
    private sealed record InPlaceCase(string Name, string Program, string Python, InputSpec[] Inputs, TensorData? Output,
        Dictionary<string, string?> GradFns, Dictionary<string, TensorData?> Grads, string? Error, bool Second);

    private static readonly Lazy<(InPlaceCase[] Cases, Dictionary<string, string> Errors)> Fixture = new(Load);

    private static (InPlaceCase[], Dictionary<string, string>) Load()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "inplace.json")));
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new InPlaceCase(
            c.GetProperty("name").GetString()!,
            c.GetProperty("program").GetString()!,
            c.GetProperty("python").GetString()!,
            InputSpec.ReadAll(c.GetProperty("inputs")),
            c.TryGetProperty("output", out JsonElement o) ? TensorData.Read(o) : null,
            c.TryGetProperty("grad_fns", out JsonElement f) ? f.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()) : [],
            c.TryGetProperty("grads", out JsonElement g) ? g.EnumerateObject().ToDictionary(p => p.Name, p => TensorData.ReadOrNull(p.Value)) : [],
            c.TryGetProperty("error", out JsonElement e) ? e.GetString() : null,
            c.GetProperty("second").GetBoolean()))
            .ToArray();
        var errors = doc.RootElement.GetProperty("errors").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        return (cases, errors);
    }

    /// <summary>The C# twin of each Python program: the output and the tensors whose grad_fn is checked.</summary>
    private static readonly Dictionary<string, Func<Inputs, DType, (Tensor Out, Dictionary<string, Tensor> Named)>> Programs = new()
    {
        ["add_tensor"] = (t, _) => Y(t["a"], y => y.Add_(t["b"]), y => y * y),
        ["add_alpha"] = (t, _) => Y(t["a"], y => y.Add_(t["b"], alpha: 2.5), y => y * y),
        ["add_broadcast"] = (t, _) => Y(t["a"], y => y.Add_(t["c"]), y => y * y),
        ["add_0d"] = (t, _) => Y(t["a"], y => y.Add_(t["s"]), y => y * y),
        ["add_scalar"] = (t, _) => Y(t["a"], y => y.Add_(1.5), y => y * y),
        ["sub_tensor"] = (t, _) => Y(t["a"], y => y.Sub_(t["b"]), y => y * y),
        ["sub_scalar"] = (t, _) => Y(t["a"], y => y.Sub_(0.5), y => y * y),
        ["mul_tensor"] = (t, _) => Y(t["a"], y => y.Mul_(t["b"]), y => y * y),
        ["mul_broadcast"] = (t, _) => Y(t["a"], y => y.Mul_(t["c"]), y => y * y),
        ["mul_transposed_source"] = (t, _) => Y(t["a"], y => y.Mul_(t["b"].T().T()), y => y * y),
        ["mul_scalar"] = (t, _) => Y(t["a"], y => y.Mul_(2.5), y => y * y),
        ["div_tensor"] = (t, _) => Y(t["a"], y => y.Div_(t["p"]), y => y * y),
        ["div_scalar"] = (t, _) => Y(t["a"], y => y.Div_(4.0), y => y * y),
        ["pow_scalar"] = (t, _) => Y(t["p"], y => y.Pow_(3), y => y * 2),
        ["pow_fractional"] = (t, _) => Y(t["p"], y => y.Pow_(0.5), y => y * y * y),
        ["zero"] = (t, _) => Y(t["a"], y => y.Zero_(), y => y + t["b"]),
        ["fill"] = (t, _) => Y(t["a"], y => y.Fill_(2.0), y => y * t["b"]),
        ["copy"] = (t, _) => Y(t["a"], y => y.Copy_(t["b"]), y => y * y),
        ["chain"] = (t, _) => Y(t["a"], y => y.Mul_(2).Add_(t["b"]).Pow_(2), y => y * 1),
        ["strided_target"] = (t, _) =>
        {
            Tensor y = (t["a"] * 1).T();
            y.Mul_(t["b"].T());
            return (y * y, new() { ["y"] = y });
        },
        ["target_without_grad"] = (t, dtype) =>
        {
            Tensor y = Tensor.Zeros(2, 3, dtype);
            y.Add_(t["a"]);
            y.Mul_(t["b"]);
            return (y * y, new() { ["y"] = y });
        },
        ["source_without_grad"] = (t, _) => Y(t["a"], y => y.Mul_(t["b"]), y => y * y),
        ["saved_input_modified"] = (t, _) =>
        {
            Tensor y = t["a"] * 1;
            Tensor z = y * t["b"];
            y.Mul_(2);
            return (z, new() { ["y"] = y });
        },
        ["saved_result_modified"] = (t, _) =>
        {
            Tensor y = t["a"].Exp();
            y.Mul_(2);
            return (y, new() { ["y"] = y });
        },
        ["mul_self"] = (t, _) => Y(t["a"], y => y.Mul_(y), y => y),
        ["mul_self_copy_is_fine"] = (t, _) => Y(t["a"], y => y.Mul_(y.Clone()), y => y),
        ["modified_after_tanh_input"] = (t, _) =>
        {
            Tensor y = t["a"] * 1;
            Tensor z = y.Tanh();
            y.Add_(1);
            return (z + y, new() { ["y"] = y, ["z"] = z });
        },
        ["view_select"] = (t, _) => View(t["a"], y => y[0], v => v.Mul_(2), (y, v) => y * y),
        ["view_select_source"] = (t, _) => View(t["a"], y => y[1], v => v.Mul_(t["c"]), (y, v) => y * y),
        ["view_slice"] = (t, _) => View(t["a"], y => y.Slice(1, 1, 3), v => v.Add_(t["b"].Slice(1, 1, 3)), (y, v) => y * y),
        ["view_transposed"] = (t, _) => View(t["a"], y => y.T(), v => v.Mul_(t["b"].T()), (y, v) => y * y),
        ["view_used_after"] = (t, _) => View(t["a"], y => y[0], v => v.Mul_(2), (y, v) => v * v),
        ["view_of_view"] = (t, _) => View(t["a"], y => y.T()[1], v => v.Mul_(t["c"].Slice(0, 0, 2)), (y, v) => y * y),
        ["view_base_without_grad"] = (t, dtype) =>
        {
            Tensor y = Tensor.Zeros(2, 3, dtype);
            Tensor v = y[0];
            v.Add_(t["c"]);
            return (y * y, new() { ["y"] = y, ["v"] = v });
        },
        ["view_div_scalar"] = (t, _) => View(t["a"], y => y.Select(1, 0), v => v.Div_(4.0), (y, v) => y * y),
        ["other_view_after_write"] = (t, _) =>
        {
            Tensor y = t["a"] * 1;
            Tensor u = y[0], v = y[0];
            v.Mul_(2);
            return (u * 3, new() { ["y"] = y, ["u"] = u, ["v"] = v });
        },
        ["view_after_base_write"] = (t, _) =>
        {
            Tensor y = t["a"] * 1;
            Tensor v = y[1];
            y.Mul_(2);
            return (v * v, new() { ["y"] = y, ["v"] = v });
        },
        ["view_after_base_write_through_other_view"] = (t, _) =>
        {
            Tensor y = t["a"] * 1;
            Tensor v = y.T();
            y[0].Add_(t["c"]);
            return (v * v, new() { ["y"] = y, ["v"] = v });
        },
        ["second_mul"] = (t, _) => Y(t["a"], y => y.Mul_(t["a"]), y => y * y),
        ["second_view"] = (t, _) =>
        {
            Tensor y = t["a"] * 1;
            y[0].Mul_(t["a"][1]);
            return (y * y * y, new() { ["y"] = y });
        },
    };

    /// <summary>y = x * 1; write(y); out = then(y).</summary>
    private static (Tensor, Dictionary<string, Tensor>) Y(Tensor x, Func<Tensor, Tensor> write, Func<Tensor, Tensor> then)
    {
        Tensor y = x * 1;
        Tensor returned = write(y);
        Assert.Equal(y.Slot, returned.Slot); // an in-place op returns its target
        return (then(y), new() { ["y"] = y });
    }

    /// <summary>y = x * 1; v = view(y); write(v); out = then(y, v).</summary>
    private static (Tensor, Dictionary<string, Tensor>) View(Tensor x, Func<Tensor, Tensor> view, Func<Tensor, Tensor> write, Func<Tensor, Tensor, Tensor> then)
    {
        Tensor y = x * 1;
        Tensor v = view(y);
        write(v);
        return (then(y, v), new() { ["y"] = y, ["v"] = v });
    }

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (InPlaceCase c in Fixture.Value.Cases) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesPyTorch(string name)
    {
        InPlaceCase c = Fixture.Value.Cases.Single(k => k.Name == name);
        Assert.True(Programs.TryGetValue(c.Program, out var program), $"no C# twin for '{c.Program}' ({c.Python})");
        using AutogradScope scope = Autograd.Scope();
        var inputs = new Inputs();
        foreach (InputSpec spec in c.Inputs) inputs.Add(spec.Name, spec.Data.ToTensor(spec.RequiresGrad));
        DType dtype = c.Inputs[0].Data.DType;
        double rtol = dtype == DType.Float32 ? 1e-5 : 1e-10;
        string[] leaves = c.Inputs.Where(i => i.RequiresGrad).Select(i => i.Name).ToArray();
        try
        {
            (Tensor output, Dictionary<string, Tensor> named) = program!(inputs, dtype);
            if (c.Error is null)
            {
                HigherOrderOracleTests.AssertValues(c.Output!, TensorData.Of(output), rtol, $"{name}: output");
                foreach ((string tensor, string? gradFn) in c.GradFns) Assert.True(gradFn == named[tensor].GradFn, $"{name}: {tensor}.GradFn is {named[tensor].GradFn}, PyTorch {gradFn}");
            }
            if (c.Second)
            {
                Tensor g = Autograd.Grad(output.Sum(), inputs[leaves[0]], createGraph: true)!.Value;
                g.Sum().Backward();
            }
            else output.Sum().Backward();
        }
        catch (InvalidOperationException e) when (c.Error is not null)
        {
            // PyTorch adds a hint about anomaly mode; the message itself is the same.
            string expected = c.Error.Split(" Hint:")[0];
            Assert.Equal(expected, e.Message);
            return;
        }
        Assert.True(c.Error is null, $"{name}: PyTorch raised '{c.Error}', the library nothing");
        foreach (string leaf in leaves)
        {
            TensorData? expected = c.Grads[leaf];
            Tensor? got = inputs[leaf].Grad;
            if (expected is null) Assert.Null(got);
            else HigherOrderOracleTests.AssertValues(expected, TensorData.Of(got ?? throw new Xunit.Sdk.XunitException($"{name}: {leaf}.Grad is null, PyTorch has one")), rtol, $"{name}: {leaf}.Grad");
        }
    }

    [Fact]
    public void EveryFixtureProgram_HasACSharpTwin_AndNoTwinIsStale()
    {
        var recorded = Fixture.Value.Cases.Select(c => c.Program).ToHashSet();
        string[] missing = recorded.Where(p => !Programs.ContainsKey(p)).ToArray(), stale = Programs.Keys.Where(p => !recorded.Contains(p)).ToArray();
        Assert.True(missing.Length == 0, "fixture programs without a C# twin: " + string.Join(", ", missing));
        Assert.True(stale.Length == 0, "C# twins the fixture no longer has (re-run the oracle?): " + string.Join(", ", stale));
    }

    [Fact]
    public void InPlaceOnALeafOrItsView_FailsWithPyTorchsMessages()
    {
        var leaf = Tensor.Ones(3, requiresGrad: true);
        Assert.Equal(Fixture.Value.Errors["leaf_mul"], Assert.Throws<InvalidOperationException>(() => leaf.Mul_(2)).Message);
        Assert.Equal(Fixture.Value.Errors["leaf_view_mul"], Assert.Throws<InvalidOperationException>(() => leaf[0].Mul_(2)).Message);
        using (Autograd.NoGrad()) leaf.Mul_(2); // allowed under no-grad, as in PyTorch
        Assert.Equal([2f, 2, 2], leaf.ToArray<float>());
    }

    [Fact]
    public void UnderAnomalyMode_OverwritingASavedValue_FailsAtTheWrite_NamingBothCallSites()
    {
        var a = Tensor.From(new[] { 1.0, 2 }, requiresGrad: true);
        var b = Tensor.From(new[] { 3.0, 4 }, requiresGrad: true);
        using (Autograd.DetectAnomaly())
        {
            Tensor y = a * 1;
            Tensor z = SaveY(y, b);
            var e = Assert.Throws<InvalidOperationException>(() => OverwriteY(y));
            Assert.StartsWith("one of the variables needed for gradient computation is being modified by an inplace operation: " +
                "[torch.DoubleTensor [2]] is saved by MulBackward0", e.Message);
            Assert.Contains(nameof(SaveY), e.Message.Split("Overwritten by")[0]);    // where the value was saved
            Assert.Contains(nameof(OverwriteY), e.Message.Split("Overwritten by")[1]); // where it was overwritten
            Assert.Equal([1.0, 2], y.ToArray<double>()); // nothing was written
            z.Sum().Backward();                           // and the graph is intact
            Assert.Equal([3.0, 4], a.Grad!.Value.ToArray<double>());
        }
        // Without anomaly mode the write goes through, and backward fails as in PyTorch.
        Tensor y2 = a * 1;
        Tensor z2 = SaveY(y2, b);
        OverwriteY(y2);
        Assert.Throws<InvalidOperationException>(() => z2.Sum().Backward());
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static Tensor SaveY(Tensor y, Tensor b) => y * b;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void OverwriteY(Tensor y) => y.Mul_(2);

    [Fact]
    public void UnderAnomalyMode_WritesThatOverwriteNothingSaved_GoThrough()
    {
        var a = Tensor.From(new[] { 1.0, 2 }, requiresGrad: true);
        using (Autograd.DetectAnomaly())
        {
            Tensor y = a * 1;
            Tensor z = y.Exp(); // saves its result, not y
            y.Mul_(3).Add_(1);
            (z + y).Sum().Backward();
        }
        Assert.Equal((a.Detach().Exp() + 3).ToArray<double>(), a.Grad!.Value.ToArray<double>()); // d/da (exp(a) + 3a + 1)
    }

    [Fact]
    public void ForwardMode_InPlaceWritesUpdateTheTangent()
    {
        var x = Tensor.From(new[] { 0.5, 2 });
        var v = Tensor.From(new[] { 1.0, -1 });
        (Tensor y, Tensor jvp) = ForwardAD.Jvp(t =>
        {
            Tensor y = t * 1;
            y.Mul_(t).Add_(3);     // x^2 + 3
            y[0].Mul_(2);          // through a view: [2 x0^2 + 6, x1^2 + 3]
            return y;
        }, x, v);
        Assert.Equal([2 * 0.25 + 6, 4 + 3.0], y.ToArray<double>());
        Assert.Equal([4 * 0.5 * 1, 2 * 2 * -1.0], jvp.ToArray<double>());
    }

    [Fact]
    public void NoGrad_InPlaceWrites_StillUpdateATangent()
    {
        var x = Tensor.From(new[] { 0.5, 2 });
        var v = Tensor.From(new[] { 1.0, -1 });
        using (ForwardAD.DualLevel())
        {
            Tensor d = ForwardAD.MakeDual(x * 1, v);
            using (Autograd.NoGrad()) d.Mul_(3);
            Assert.Equal([3.0, -3], ForwardAD.UnpackDual(d).Tangent!.Value.ToArray<double>());
        }
    }

    [Fact]
    public void AViewWhoseBaseWasWrittenInPlace_BackwardsThroughTheBasesNewHistory()
    {
        var a = Tensor.From(new[] { 1.0, 2, 3, 4 }, requiresGrad: true);
        Tensor y = a * 1;
        Tensor v = y.Slice(0, 0, 2);
        y.Mul_(3);                        // v's values are 3a[:2] now
        v.Backward(Tensor.Ones(2, DType.Float64)); // v as the root, never used by an op since the write
        Assert.Equal([3.0, 3, 0, 0], a.Grad!.Value.ToArray<double>());
        Assert.Equal("AsStridedBackward0", v.GradFn);
    }

    // The engine compares saved versions only for nodes recorded before the latest in-place write
    // (TensorContext.TapeLengthAtLastWrite); these pin that a modified saved value is still caught
    // after the tape was cut back, and that a graph recorded after every write runs unchecked and right.
    [Fact]
    public void ASavedValueWrittenAfterTheTapeWasCutBack_FailsAtBackward()
    {
        var w = Tensor.From(new[] { 0.5, 1, 2 }, requiresGrad: true);
        using (Autograd.Scope())
        {
            Tensor t = w * 2;
            t.Add_(1);                     // a write with two nodes on the tape
            t.Exp().Mul_(2);
        }                                  // ... all cut back
        using (Autograd.Scope())
        {
            Tensor e = (w * 1).Exp();      // recorded after every write so far, at the tape's start
            e.Add_(1);                     // modifies ExpBackward0's saved result
            var error = Assert.Throws<InvalidOperationException>(() => e.Sum().Backward());
            Assert.Equal("one of the variables needed for gradient computation has been modified by an inplace operation: " +
                "[torch.DoubleTensor [3]], which is output 0 of ExpBackward0, is at version 1; expected version 0 instead.", error.Message);
        }
        using (Autograd.Scope())
        {
            Tensor e = (w * 1).Exp();
            e.Sum().Backward();
            Assert.Equal(e.ToArray<double>(), w.Grad!.Value.ToArray<double>()); // d/dw sum(exp(w)) = exp(w)
        }
    }
}
