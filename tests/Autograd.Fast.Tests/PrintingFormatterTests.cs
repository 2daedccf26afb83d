using System.Globalization;
using System.Text.Json;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// Checks <see cref="TensorFormatter"/> against PyTorch's own <c>repr</c>, recorded by
/// tests/oracle/repr_fixtures.py into Fixtures/repr.json.
/// </summary>
public sealed class PrintingFormatterTests
{
    private static readonly Lazy<IReadOnlyList<ReprCase>> Cases = new(LoadCases);

    /// <summary>One theory row per fixture, labelled by its name so failures are easy to find.</summary>
    public static TheoryData<int, string> FixtureCases()
    {
        var data = new TheoryData<int, string>();
        for (int i = 0; i < Cases.Value.Count; i++) data.Add(i, Cases.Value[i].Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(FixtureCases))]
    public void Format_MatchesPyTorchRepr(int index, string name)
    {
        ReprCase c = Cases.Value[index];
        Assert.Equal(name, c.Name);

        string actual = TensorFormatter.Format(c.DType, c.Shape, c.Floats, c.Ints, c.GradFn, c.RequiresGrad);

        Assert.Equal(c.Repr, actual);
    }

    [Fact]
    public void Fixtures_AreLoaded()
    {
        Assert.True(Cases.Value.Count >= 80, $"only {Cases.Value.Count} fixture cases");
    }

    [Fact]
    public void ZeroDimNaN_HasNoIntModeDot()
    {
        Assert.Equal("tensor(nan)", TensorFormatter.Format(DType.Float32, [], [double.NaN], [], null, false));
    }

    [Fact]
    public void ExactTies_RoundHalfToEven()
    {
        // 1.03125 is exactly halfway between 1.0312 and 1.0313; Python picks the even digit.
        Assert.Equal("tensor([1.0312, 2.5000])", TensorFormatter.Format(DType.Float32, [2], [1.03125, 2.5], [], null, false));
    }

    [Fact]
    public void Scientific_UsesAtLeastTwoExponentDigits()
    {
        Assert.Equal(
            "tensor([1.0000e-300,  1.0000e+00], dtype=torch.float64)",
            TensorFormatter.Format(DType.Float64, [2], [1e-300, 1.0], [], null, false));
    }

    [Fact]
    public void NegativeZero_KeepsSignAndIsNotPadded()
    {
        Assert.Equal("tensor([-0., 1.])", TensorFormatter.Format(DType.Float32, [2], [-0.0, 1.0], [], null, false));
    }

    [Fact]
    public void Empty_ShowsSizeThenDtypeThenRequiresGrad()
    {
        Assert.Equal(
            "tensor([], size=(0, 3), dtype=torch.float64, requires_grad=True)",
            TensorFormatter.Format(DType.Float64, [0, 3], [], [], null, true));
    }

    [Fact]
    public void GradFn_TakesPrecedenceOverRequiresGrad()
    {
        Assert.Equal(
            "tensor([3.], grad_fn=<AddBackward0>)",
            TensorFormatter.Format(DType.Float32, [1], [3.0], [], "AddBackward0", true));
    }

    [Fact]
    public void Bool_RightAlignsToFalse()
    {
        Assert.Equal(
            "tensor([[ True, False],\n        [False,  True]])",
            TensorFormatter.Format(DType.Bool, [2, 2], [], [1, 0, 0, 1], null, false));
    }

    [Fact]
    public void Suffixes_WrapPastLineWidth()
    {
        double[] values = Enumerable.Repeat(0.1234, 9).ToArray();
        Assert.Equal(
            "tensor([0.1234, 0.1234, 0.1234, 0.1234, 0.1234, 0.1234, 0.1234, 0.1234, 0.1234],\n"
            + "       dtype=torch.float64, requires_grad=True)",
            TensorFormatter.Format(DType.Float64, [9], values, [], null, true));
    }

    [Fact]
    public void WrongValueCount_Throws()
    {
        Assert.Throws<ArgumentException>(() => TensorFormatter.Format(DType.Int64, [2, 2], [], [1, 2, 3], null, false));
    }

    private static List<ReprCase> LoadCases()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "repr.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));

        var cases = new List<ReprCase>();
        foreach (JsonElement e in doc.RootElement.EnumerateArray())
        {
            DType dtype = e.GetProperty("dtype").GetString() switch
            {
                "float32" => DType.Float32,
                "float64" => DType.Float64,
                "int64" => DType.Int64,
                "bool" => DType.Bool,
                var other => throw new InvalidDataException($"unknown dtype {other}"),
            };

            int[] shape = e.GetProperty("shape").EnumerateArray().Select(s => s.GetInt32()).ToArray();
            JsonElement values = e.GetProperty("values");
            bool floating = dtype is DType.Float32 or DType.Float64;
            double[] floats = floating ? values.EnumerateArray().Select(ReadDouble).ToArray() : [];
            long[] ints = floating ? [] : values.EnumerateArray().Select(v => v.GetInt64()).ToArray();
            JsonElement gradFn = e.GetProperty("grad_fn");

            cases.Add(new ReprCase(
                e.GetProperty("name").GetString() ?? "",
                dtype,
                shape,
                floats,
                ints,
                gradFn.ValueKind == JsonValueKind.Null ? null : gradFn.GetString(),
                e.GetProperty("requires_grad").GetBoolean(),
                e.GetProperty("repr").GetString() ?? ""));
        }

        return cases;
    }

    // JSON has no nan, infinities or negative zero, so the oracle writes those as strings.
    private static double ReadDouble(JsonElement v) => v.ValueKind == JsonValueKind.String
        ? v.GetString() switch
        {
            "nan" => double.NaN,
            "inf" => double.PositiveInfinity,
            "-inf" => double.NegativeInfinity,
            "-0.0" => -0.0,
            var other => double.Parse(other ?? "", CultureInfo.InvariantCulture),
        }
        : v.GetDouble();

    private sealed record ReprCase(
        string Name,
        DType DType,
        int[] Shape,
        double[] Floats,
        long[] Ints,
        string? GradFn,
        bool RequiresGrad,
        string Repr);
}
