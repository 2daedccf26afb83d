using System.Text.Json;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// Grad modes, inference mode, Detach_ and anomaly mode against PyTorch, recorded by
/// tests/oracle/mode_fixtures.py into Fixtures/modes.json: the state inside every nesting of up to
/// three modes (grad mode, inference mode, whether an op records, whether a new tensor is an inference
/// tensor), PyTorch's error texts, and the node anomaly mode names.
/// </summary>
public class GradModeTests
{
    private static readonly Lazy<JsonElement> Fixture = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "modes.json"))).RootElement);

    public static TheoryData<string> Nestings()
    {
        var data = new TheoryData<string>();
        foreach (JsonProperty p in Fixture.Value.GetProperty("nesting").EnumerateObject()) data.Add(p.Name);
        return data;
    }

    private static IDisposable Enter(string mode) => mode switch
    {
        "no_grad" => Autograd.NoGrad(),
        "enable_grad" => Autograd.EnableGrad(),
        "set_grad_enabled_false" => Autograd.SetGradEnabled(false),
        "set_grad_enabled_true" => Autograd.SetGradEnabled(true),
        "inference_mode" => Autograd.InferenceMode(true),
        "inference_mode_false" => Autograd.InferenceMode(false),
        _ => throw new ArgumentException($"unknown mode {mode}"),
    };

    private static (bool Grad, bool Inference, bool Records, bool MadeInference) State(Tensor x)
        => (Autograd.IsGradEnabled, Autograd.IsInferenceModeEnabled, (x * 2).RequiresGrad, Tensor.Ones(1).IsInference);

    [Theory]
    [MemberData(nameof(Nestings))]
    public void EveryNesting_MatchesPyTorch(string name)
    {
        JsonElement expected = Fixture.Value.GetProperty("nesting").GetProperty(name);
        var x = Tensor.Ones(2, requiresGrad: true);
        (bool, bool, bool, bool) actual;
        if (name.Contains('+'))
        {
            // "outer+setter_true(+after)": the plain setter inside a scope, then the state after the scope
            string[] parts = name.Split('+');
            bool value = parts[1] == "setter_true";
            using (Enter(parts[0]))
            {
                Autograd.SetGradEnabled(value);
                actual = State(x);
            }
            if (parts.Length == 3) actual = State(x);
        }
        else
        {
            var scopes = new Stack<IDisposable>();
            foreach (string mode in name.Split('>')) scopes.Push(Enter(mode));
            actual = State(x);
            while (scopes.Count > 0) scopes.Pop().Dispose();
        }
        Assert.Equal((expected.GetProperty("grad").GetBoolean(), expected.GetProperty("inference").GetBoolean(),
            expected.GetProperty("records").GetBoolean(), expected.GetProperty("made_inference").GetBoolean()), actual);
        // Every scope restored the thread's defaults.
        Assert.True(Autograd.IsGradEnabled);
        Assert.False(Autograd.IsInferenceModeEnabled);
    }

    private static string Message(string scenario) => Fixture.Value.GetProperty("messages").GetProperty(scenario).GetString()!;

    private static Tensor InferenceTensor()
    {
        using (Autograd.InferenceMode()) return Tensor.Ones(3);
    }

    public static TheoryData<string> ErrorScenarios() =>
    [
        "inference_saved_mul", "inference_inplace", "inference_inplace_no_grad",
        "inference_inplace_copy", "inference_index_assign", "inference_requires_grad", "requires_grad_false_nonleaf", "detach_view",
    ];

    [Theory]
    [MemberData(nameof(ErrorScenarios))]
    public void Errors_UsePyTorchsWords(string scenario)
    {
        Tensor inf = InferenceTensor();
        var leaf = Tensor.Ones(3, requiresGrad: true);
        Action act = scenario switch
        {
            "inference_saved_mul" => () => _ = inf * leaf,
            "inference_inplace" => () => inf.Add_(Tensor.Ones(3)),
            "inference_inplace_no_grad" => () => { using (Autograd.NoGrad()) inf.Add_(Tensor.Ones(3)); },
            "inference_inplace_copy" => () => inf.Copy_(leaf),
            "inference_index_assign" => () => inf[0] = Tensor.From(5f),
            "inference_requires_grad" => () => inf.RequiresGrad_(),
            "requires_grad_false_nonleaf" => () => (leaf * 2).RequiresGrad_(false),
            "detach_view" => () => leaf[0..2].Detach_(),
            _ => throw new ArgumentException(scenario),
        };
        Exception e = Assert.ThrowsAny<Exception>(act);
        Assert.Equal(Message(scenario), e.Message);
        // The failed op left nothing behind: the same graph still trains.
        var y = (leaf * leaf).Sum();
        y.Backward();
        Assert.Equal(new float[] { 2, 2, 2 }, leaf.Grad!.Value.ToArray<float>());
    }

    [Fact]
    public void InferenceTensors_ComputeButRecordNothing_AndNormalTensorsDoNotBecomeInference()
    {
        var x = Tensor.Ones(3, requiresGrad: true);
        Tensor y;
        using (Autograd.InferenceMode())
        {
            y = x * 3;
            Assert.False(y.RequiresGrad);
            Assert.True(y.IsInference);
        }
        Assert.Equal(new float[] { 3, 3, 3 }, y.ToArray<float>());
        Assert.False(x.IsInference);
        // An inference tensor that is not saved (an addend) may meet a graph, as in PyTorch.
        var z = (x * 2 + y).Sum();
        z.Backward();
        Assert.Equal(new float[] { 2, 2, 2 }, x.Grad!.Value.ToArray<float>());
        // A clone made outside inference mode is a normal tensor.
        Assert.False(y.Clone().IsInference);
    }

    [Fact]
    public void Detach_MakesAnUnrecordedLeaf_AndLaterOpsDoNotReachTheOldGraph()
    {
        var x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        var y = x * 3;
        Assert.Equal("MulBackward0", y.GradFn);
        y.Detach_();
        Assert.True(y.IsLeaf);
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
        var z = (x * y).Sum();
        z.Backward();
        Assert.Equal(new float[] { 3, 6 }, x.Grad!.Value.ToArray<float>()); // y is a constant now
    }

    public static TheoryData<string> AnomalyCases() => ["mul_by_inf", "div_self", "log_of_zero"];

    private static Tensor AnomalyGraph(string name)
    {
        switch (name)
        {
            case "mul_by_inf":
            {
                var a = Tensor.From(new[] { 0f, 1f }, requiresGrad: true);
                return (a * Tensor.From(new[] { float.PositiveInfinity, 1f }) * 0.0).Sum();
            }
            case "div_self":
            {
                var a = Tensor.From(new[] { 0f, 1f }, requiresGrad: true);
                return (a / a).Sum();
            }
            default:
            {
                var a = Tensor.From(new[] { 0.0, 2.0 }, requiresGrad: true);
                return (a.Log() * Tensor.From(new[] { 0.0, 1.0 })).Sum();
            }
        }
    }

    [Theory]
    [MemberData(nameof(AnomalyCases))]
    public void AnomalyMode_NamesTheBackwardNodeAndTheForwardCallSite(string name)
    {
        string expected = Fixture.Value.GetProperty("anomaly").GetProperty(name).GetProperty("message").GetString()!;
        Exception e;
        using (Autograd.DetectAnomaly())
        {
            Tensor loss = AnomalyGraph(name);
            e = Assert.ThrowsAny<Exception>(() => loss.Backward());
        }
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
        // The forward call site is the user's method, not the library's internals.
        Assert.Contains(nameof(AnomalyGraph), e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("AutogradFast.Ops.", e.Message, StringComparison.Ordinal);
        // Without the mode the same graph computes NaN silently, as in PyTorch.
        AnomalyGraph(name).Backward();
        // The engine is usable after the error.
        var w = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        (w * w).Sum().Backward();
        Assert.Equal(new float[] { 2, 4 }, w.Grad!.Value.ToArray<float>());
        Assert.False(Autograd.IsAnomalyEnabled);
    }
}
