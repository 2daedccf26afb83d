using System.Text.RegularExpressions;
using AutogradFast.Tool.Seeds;

namespace AutogradFast.Tests;

/// <summary>
/// The five seed notebooks (../shared/seeds) as tests: the walkthrough run in-process against
/// expected-repr.txt, then one fact per notebook cell that computes something, written directly
/// against the library. Values are checked against the calculus computed here in double precision
/// (never against recorded random numbers), and deterministic outputs against PyTorch's printed text.
/// Cells are named by the notebook's <c>In [n]</c>; notebook 000 (all <c>In [None]</c>) by the
/// walkthrough's cell number.
/// </summary>
public class SeedNotebookTests
{
    // ---- helpers ------------------------------------------------------------------------------

    /// <summary>float32's machine epsilon; a float32 result after k roundings is within about k·eps relative.</summary>
    private const double Eps32 = 1.0 / (1 << 23);

    private static void Close(double expected, double actual, int roundings = 4)
    {
        double tolerance = roundings * Eps32 * Math.Max(Math.Abs(expected), 1e-30);
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"expected {expected:R} ± {tolerance:G3}, got {actual:R}");
    }

    private static void Close(double[] expected, Tensor actual, int roundings = 4)
    {
        float[] values = actual.ToArray<float>();
        Assert.Equal(expected.Length, values.Length);
        for (int i = 0; i < expected.Length; i++) Close(expected[i], values[i], roundings);
    }

    /// <summary>The elements of a float32 tensor as doubles (exact).</summary>
    private static double[] V(Tensor t) => Array.ConvertAll(t.ToArray<float>(), v => (double)v);

    private static Tensor GradOf(Tensor x)
    {
        Tensor? g = x.Grad;
        Assert.True(g.HasValue, "x.Grad is None");
        return g!.Value;
    }

    private static void NoGrad(Tensor x) => Assert.False(x.Grad.HasValue, "x.Grad should be None");

    private static void Shape(string expected, Tensor t) => Assert.Equal(expected, t.Shape.ToString());

    private static void Matches(string pattern, Tensor t) => Assert.Matches(new Regex("^" + pattern + "$"), t.ToString());

    private const string Float4 = @"-?\d+\.\d{4}";

    // ---- the walkthrough ----------------------------------------------------------------------

    [Fact]
    public void Walkthrough_ReturnsZero_AndPrintsEveryExpectedRepr()
    {
        var output = new StringWriter();
        int rc = SeedWalkthrough.Run(output, null);
        Assert.Equal(0, rc);
        string text = output.ToString();
        string[] missing = ExpectedReprLines().Where(line => !text.Contains(line, StringComparison.Ordinal)).ToArray();
        Assert.True(missing.Length == 0, "missing from the walkthrough output:\n" + string.Join("\n", missing));
        Assert.True(ExpectedReprLines().Count >= 40, "expected-repr.txt lost lines");
    }

    [Fact]
    public void Walkthrough_RunsNotebooksInOrder_AndEveryOneHasCells()
    {
        var output = new StringWriter();
        Assert.Equal(0, SeedWalkthrough.Run(output, null));
        string text = output.ToString();
        string[] names = ["000", "001", "002", "003", "004"];
        int[] positions = names.Select(n => text.IndexOf($"# Notebook {n}:", StringComparison.Ordinal)).ToArray();
        Assert.All(positions, p => Assert.True(p >= 0));
        Assert.Equal(positions.Order().ToArray(), positions);
        foreach (string name in names)
        {
            var one = new StringWriter();
            Assert.Equal(0, SeedWalkthrough.Run(one, name));
            Assert.Contains("In [1]:", one.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Walkthrough_UnknownNotebook_ReturnsTwo()
    {
        var output = new StringWriter();
        Assert.Equal(2, SeedWalkthrough.Run(output, "999"));
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void Walkthrough_FailingAndDifferingCells_AreMarked()
    {
        var output = new StringWriter();
        Assert.Equal(0, SeedWalkthrough.Run(output, null));
        string text = output.ToString();
        Assert.Contains("InvalidOperationException: grad can be implicitly created only for scalar outputs", text, StringComparison.Ordinal);
        Assert.Equal(2, Regex.Matches(text, "ArgumentException: Mismatch in shape").Count);
        // MmBackward0, the two Mismatch cells, the zero_() loop, 003's commented print(y), 004's random a.
        Assert.True(Regex.Matches(text, @"\[differs from the recorded notebook output").Count >= 6);
    }

    [Fact]
    public void ExpectedReprFixture_MatchesSharedCopy_WhenPresent()
    {
        string fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "seed-expected-repr.txt");
        Assert.True(File.Exists(fixture), $"{fixture} is not copied to the test output");
        string? shared = SharedExpectedRepr();
        if (shared is null) return; // ../shared is not checked out here: the fixture copy is the reference
        Assert.Equal(File.ReadAllText(shared).ReplaceLineEndings(), File.ReadAllText(fixture).ReplaceLineEndings());
    }

    private static List<string> ExpectedReprLines()
    {
        string fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "seed-expected-repr.txt");
        string path = File.Exists(fixture) ? fixture : SharedExpectedRepr()
            ?? throw new FileNotFoundException("Neither Fixtures/seed-expected-repr.txt nor ../shared/seeds/expected-repr.txt was found.");
        return File.ReadAllLines(path).Where(l => l.Trim().Length > 0 && !l.StartsWith('#')).ToList();
    }

    /// <summary>&lt;repo root&gt;/../shared/seeds/expected-repr.txt, where the project's shared/ folder sits.</summary>
    private static string? SharedExpectedRepr()
    {
        string candidate = Path.GetFullPath(Path.Combine(RepositoryPaths.Root, "..", "shared", "seeds", "expected-repr.txt"));
        return File.Exists(candidate) ? candidate : null;
    }

    // ---- notebook 000: scalar and vector inputs and outputs (torch.rand) -----------------------

    [Fact]
    public void Nb000_Cell01_RandOne_IsSeededLeafInUnitInterval()
    {
        Autograd.ManualSeed(0);
        Tensor x = Tensor.Rand(1, requiresGrad: true);
        Shape("torch.Size([1])", x);
        Assert.True(x.RequiresGrad);
        Assert.True(x.IsLeaf);
        NoGrad(x);
        double v = V(x)[0];
        Assert.InRange(v, 0.0, 1.0 - 1e-9);
        Matches(@"tensor\(\[" + Float4 + @"\], requires_grad=True\)", x);
        Autograd.ManualSeed(0);
        Assert.Equal(v, V(Tensor.Rand(1))[0]);
    }

    [Fact]
    public void Nb000_Cell02_ThreeXSquared_BackwardGivesSixX()
    {
        Autograd.ManualSeed(0);
        Tensor x = Tensor.Rand(1, requiresGrad: true);
        Tensor y = 3 * x.Pow(2);
        Assert.Equal("MulBackward0", y.GradFn);
        Close(3 * V(x)[0] * V(x)[0], V(y)[0]);
        y.Backward();
        Close([6 * V(x)[0]], GradOf(x));
        Shape("torch.Size([1])", GradOf(x));
    }

    [Fact]
    public void Nb000_Cell03_XTimesSix_EqualsTheGrad()
    {
        Autograd.ManualSeed(0);
        Tensor x = Tensor.Rand(1, requiresGrad: true);
        (3 * x.Pow(2)).Backward();
        Tensor manual = x * 6;
        Assert.Equal("MulBackward0", manual.GradFn);
        Close(V(GradOf(x)), manual);
        Matches(@"tensor\(\[" + Float4 + @"\], grad_fn=<MulBackward0>\)", manual);
    }

    [Fact]
    public void Nb000_Cell05_OnesGradient_SameAsDefaultBackward()
    {
        Autograd.ManualSeed(1);
        Tensor x = Tensor.Rand(1, requiresGrad: true);
        (3 * x.Pow(2)).Backward(gradient: Tensor.Ones(1));
        Close([6 * V(x)[0]], GradOf(x));
        Close(V(x * 6), GradOf(x));
    }

    [Fact]
    public void Nb000_Cell08_HundredOnesGradient_GivesSixHundredX()
    {
        Autograd.ManualSeed(2);
        Tensor x = Tensor.Rand(1, requiresGrad: true);
        (3 * x.Pow(2)).Backward(gradient: 100 * Tensor.Ones(1));
        Close([600 * V(x)[0]], GradOf(x));
        Close(V(100 * x * 6), GradOf(x));
    }

    [Fact]
    public void Nb000_Cell11_VectorInScalarOut_GradIsThreeX0SquaredAndFourX1()
    {
        Autograd.ManualSeed(3);
        Tensor x = Tensor.Rand(2, 1, requiresGrad: true);
        Shape("torch.Size([2, 1])", x);
        Matches(@"tensor\(\[\[" + Float4 + @"\],\n        \[" + Float4 + @"\]\], requires_grad=True\)", x);
        Tensor y = x[0].Pow(3) + 2 * x[1].Pow(2);
        Shape("torch.Size([1])", y);
        y.Backward();
        double[] v = V(x);
        Close([3 * v[0] * v[0], 4 * v[1]], GradOf(x));
        Shape("torch.Size([2, 1])", GradOf(x));
    }

    [Fact]
    public void Nb000_Cell13_ManualTuple_MatchesGradRows()
    {
        Autograd.ManualSeed(3);
        Tensor x = Tensor.Rand(2, 1, requiresGrad: true);
        (x[0].Pow(3) + 2 * x[1].Pow(2)).Backward();
        var (d0, d1) = (3 * x[0].Pow(2), 4 * x[1]);
        Assert.Equal("MulBackward0", d0.GradFn);
        Assert.Equal("MulBackward0", d1.GradFn);
        Shape("torch.Size([1])", d0);
        double[] g = V(GradOf(x));
        Close([g[0]], d0);
        Close([g[1]], d1);
    }

    [Fact]
    public void Nb000_Cell15_OnesGradientOnShapeOneOutput_SameAsDefault()
    {
        Autograd.ManualSeed(4);
        Tensor x = Tensor.Rand(2, 1, requiresGrad: true);
        (x[0].Pow(3) + 2 * x[1].Pow(2)).Backward(gradient: Tensor.Ones(1));
        double[] v = V(x);
        Close([3 * v[0] * v[0], 4 * v[1]], GradOf(x));
    }

    [Fact]
    public void Nb000_Cell19_HundredOnesGradient_ScalesBothRows()
    {
        Autograd.ManualSeed(5);
        Tensor x = Tensor.Rand(2, 1, requiresGrad: true);
        (x[0].Pow(3) + 2 * x[1].Pow(2)).Backward(gradient: 100 * Tensor.Ones(1));
        double[] v = V(x);
        Close([300 * v[0] * v[0], 400 * v[1]], GradOf(x));
    }

    [Fact]
    public void Nb000_Cell24_IndexAssignmentIntoZeros_RecordsCopySlices()
    {
        Autograd.ManualSeed(6);
        Tensor x = Tensor.Rand(1, requiresGrad: true);
        Tensor y = Tensor.Zeros(2, 1, requiresGrad: false);
        Assert.False(y.RequiresGrad);
        y[0] = x.Pow(3);
        y[1] = 2 * x.Pow(2);
        Assert.True(y.RequiresGrad);
        Assert.False(y.IsLeaf);
        Assert.Equal("CopySlices", y.GradFn);
        double v = V(x)[0];
        Close([v * v * v, 2 * v * v], y);
        Matches(@"tensor\(\[\[" + Float4 + @"\],\n        \[" + Float4 + @"\]\], grad_fn=<CopySlices>\)", y);
    }

    [Fact]
    public void Nb000_Cell26_ScalarInVectorOut_GradSumsBothRows()
    {
        Autograd.ManualSeed(6);
        Tensor x = Tensor.Rand(1, requiresGrad: true);
        Tensor y = Tensor.Zeros(2, 1, requiresGrad: false);
        y[0] = x.Pow(3);
        y[1] = 2 * x.Pow(2);
        y.Backward(gradient: Tensor.Ones(y.Size().AsSpan()));
        double v = V(x)[0];
        Close([3 * v * v + 4 * v], GradOf(x));
        Shape("torch.Size([1])", GradOf(x));
    }

    [Fact]
    public void Nb000_Cell27_Why_ThreeXSquaredPlusFourX_EqualsTheGrad()
    {
        Autograd.ManualSeed(6);
        Tensor x = Tensor.Rand(1, requiresGrad: true);
        Tensor y = Tensor.Zeros(2, 1);
        y[0] = x.Pow(3);
        y[1] = 2 * x.Pow(2);
        y.Backward(gradient: Tensor.Ones(y.Size().AsSpan()));
        Tensor manual = 3 * x.Pow(2) + 4 * x;
        Assert.Equal("AddBackward0", manual.GradFn);
        Close(V(GradOf(x)), manual);
    }

    [Fact]
    public void Nb000_Cell32_VectorInVectorOut_GradAccumulatesOverRowsOfX1()
    {
        Autograd.ManualSeed(7);
        Tensor x = Tensor.Rand(2, 1, requiresGrad: true);
        Tensor y = Tensor.Zeros(3, 1, requiresGrad: false);
        y[0] = x[0].Pow(2);
        y[1] = x[1].Pow(3);
        y[2] = x[1].Pow(4);
        double[] v = V(x);
        Close([v[0] * v[0], v[1] * v[1] * v[1], Math.Pow(v[1], 4)], y);
        y.Backward(gradient: Tensor.Ones(y.Size().AsSpan()));
        Close([2 * v[0], 3 * v[1] * v[1] + 4 * v[1] * v[1] * v[1]], GradOf(x));
    }

    [Fact]
    public void Nb000_Cell33_SeparateTerms_SumToTheGradOfX1()
    {
        Autograd.ManualSeed(7);
        Tensor x = Tensor.Rand(2, 1, requiresGrad: true);
        Tensor y = Tensor.Zeros(3, 1);
        y[0] = x[0].Pow(2);
        y[1] = x[1].Pow(3);
        y[2] = x[1].Pow(4);
        y.Backward(gradient: Tensor.Ones(y.Size().AsSpan()));
        double[] g = V(GradOf(x));
        var (t0, t1, t2) = (2 * x[0], 3 * x[1].Pow(2), 4 * x[1].Pow(3));
        Close([g[0]], t0);
        Close(g[1], V(t1)[0] + V(t2)[0]);
        Tensor summed = 3 * x[1].Pow(2) + 4 * x[1].Pow(3);
        Assert.Equal("AddBackward0", summed.GradFn);
        Close([g[1]], summed);
    }

    [Fact]
    public void Nb000_Cell38_HundredOnesGradient_ScalesTheAccumulatedGrad()
    {
        Autograd.ManualSeed(8);
        Tensor x = Tensor.Rand(2, 1, requiresGrad: true);
        Tensor y = Tensor.Zeros(3, 1, requiresGrad: false);
        y[0] = x[0].Pow(2);
        y[1] = x[1].Pow(3);
        y[2] = x[1].Pow(4);
        y.Backward(gradient: 100 * Tensor.Ones(y.Size().AsSpan()));
        double[] v = V(x);
        Close([200 * v[0], 100 * (3 * v[1] * v[1] + 4 * v[1] * v[1] * v[1])], GradOf(x));
    }

    // ---- notebook 001: 0-d versus [1], gradient=, sum, mm ----------------------------------------

    [Fact]
    public void Nb001_In150_ZeroDim_ShapeIsEmptyGradIsNoneYIsThree()
    {
        Tensor x = Tensor.From(1f, requiresGrad: true);
        Shape("torch.Size([])", x);
        NoGrad(x);
        Tensor y = 2 * x + x.Pow(2);
        Shape("torch.Size([])", y);
        Assert.Equal(3.0, y.Item());
        Assert.Equal("tensor(3., grad_fn=<AddBackward0>)", y.ToString());
        Assert.Equal("3.0", Notebook001.Format(y)); // f'{y}' formats a 0-d tensor as its item()
        Assert.Equal("None", Notebook001.Format(x.Grad));
    }

    [Fact]
    public void Nb001_In151_ZeroDim_BackwardGivesFour()
    {
        Tensor x = Tensor.From(1f, requiresGrad: true);
        (2 * x + x.Pow(2)).Backward();
        Tensor g = GradOf(x);
        Assert.Equal("tensor(4.)", g.ToString());
        Shape("torch.Size([])", g);
        Assert.Equal(DType.Float32, g.DType);
        Tensor manual = 2 + 2 * x;
        Assert.Equal(2 + 2 * 1.0, manual.Item());
        Assert.Equal("tensor(4., grad_fn=<AddBackward0>)", manual.ToString());
        Assert.Equal("4.0", Notebook001.Format(g));
    }

    [Fact]
    public void Nb001_In152_ZeroDimGradientOne_GivesFour()
    {
        Tensor x = Tensor.From(1f, requiresGrad: true);
        Tensor gradient = Tensor.From(1f);
        (2 * x + x.Pow(2)).Backward(gradient: gradient);
        Assert.Equal("tensor(4.)", GradOf(x).ToString());
        Assert.Equal("tensor(4., grad_fn=<MulBackward0>)", (gradient * (2 + 2 * x)).ToString());
    }

    [Fact]
    public void Nb001_In153_ZeroDimGradientHundred_GivesFourHundred()
    {
        Tensor x = Tensor.From(1f, requiresGrad: true);
        Tensor gradient = Tensor.From(100f);
        (2 * x + x.Pow(2)).Backward(gradient: gradient);
        Assert.Equal(100 * (2 + 2 * 1.0), GradOf(x).Item());
        Assert.Equal("tensor(400.)", GradOf(x).ToString());
        Assert.Equal("400.0", Notebook001.Format(gradient * (2 + 2 * x)));
    }

    [Fact]
    public void Nb001_In154_ShapeOne_YPrintsWithAddBackward()
    {
        Tensor x = Tensor.From(new[] { 1f }, requiresGrad: true);
        Shape("torch.Size([1])", x);
        Tensor y = 2 * x + x.Pow(2);
        Assert.Equal("tensor([3.], grad_fn=<AddBackward0>)", y.ToString());
        Assert.Equal("tensor([3.], grad_fn=<AddBackward0>)", Notebook001.Format(y)); // not 0-d: formats as its repr
        Shape("torch.Size([1])", y);
    }

    [Fact]
    public void Nb001_In155_VectorOfOne_BackwardGivesFour()
    {
        Tensor x = Tensor.From(new[] { 1f }, requiresGrad: true);
        (2 * x + x.Pow(2)).Backward();
        Assert.Equal("tensor([4.])", GradOf(x).ToString());
        Shape("torch.Size([1])", GradOf(x));
        Assert.Equal("tensor([4.], grad_fn=<AddBackward0>)", (2 + 2 * x).ToString());
    }

    [Fact]
    public void Nb001_In156_VectorOfOneGradientOne_GivesFour()
    {
        Tensor x = Tensor.From(new[] { 1f }, requiresGrad: true);
        Tensor gradient = Tensor.From(new[] { 1f });
        (2 * x + x.Pow(2)).Backward(gradient: gradient);
        Assert.Equal("tensor([4.])", GradOf(x).ToString());
        Assert.Equal("tensor([4.], grad_fn=<MulBackward0>)", (gradient * (2 + 2 * x)).ToString());
    }

    [Fact]
    public void Nb001_In157_VectorOfOneGradientHundred_GivesFourHundred()
    {
        Tensor x = Tensor.From(new[] { 1f }, requiresGrad: true);
        Tensor gradient = Tensor.From(new[] { 100f });
        (2 * x + x.Pow(2)).Backward(gradient: gradient);
        Assert.Equal("tensor([400.])", GradOf(x).ToString());
        Assert.Equal("tensor([400.], grad_fn=<MulBackward0>)", (gradient * (2 + 2 * x)).ToString());
    }

    [Fact]
    public void Nb001_In158_TwoVector_PrintsRequiresGrad_IndexedYIsZeroDim()
    {
        Tensor x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Assert.Equal("tensor([1., 2.], requires_grad=True)", x.ToString());
        Shape("torch.Size([2])", x);
        NoGrad(x);
        Tensor y = 2 * x[0] + x[1].Pow(2);
        Shape("torch.Size([])", y);
        Assert.Equal(2 * 1.0 + 2.0 * 2.0, y.Item());
    }

    [Fact]
    public void Nb001_In159_IndexedTerms_BackwardGivesTwoAndFour()
    {
        Tensor x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        (2 * x[0] + x[1].Pow(2)).Backward();
        Assert.Equal("tensor([2., 4.])", GradOf(x).ToString());
        Shape("torch.Size([2])", GradOf(x));
        Assert.Equal("[2, tensor(4., grad_fn=<MulBackward0>)]", Notebook001.Format(new object[] { 2, 2 * x[1] }));
    }

    [Fact]
    public void Nb001_In160_ZeroDimGradientHundred_ScalesBothEntries()
    {
        Tensor x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Tensor gradient = Tensor.From(100f);
        (2 * x[0] + x[1].Pow(2)).Backward(gradient: gradient);
        Assert.Equal("tensor([200., 400.])", GradOf(x).ToString());
        Assert.Equal("tensor(200.)", (2 * gradient).ToString());
        Assert.Equal("tensor(400., grad_fn=<MulBackward0>)", (2 * x[1] * gradient).ToString());
    }

    [Fact]
    public void Nb001_In161_Sum_IsZeroDimWithSumBackward()
    {
        Tensor x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Tensor y = x.Sum();
        Shape("torch.Size([])", y);
        Assert.Equal("tensor(3., grad_fn=<SumBackward0>)", y.ToString());
    }

    [Fact]
    public void Nb001_In162_Sum_BackwardGivesOnes()
    {
        Tensor x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        x.Sum().Backward();
        Assert.Equal("tensor([1., 1.])", GradOf(x).ToString());
        Shape("torch.Size([2])", GradOf(x));
    }

    [Fact]
    public void Nb001_In163_SumGradientHundred_GivesHundreds()
    {
        Tensor x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Tensor gradient = Tensor.From(100f);
        x.Sum().Backward(gradient: gradient);
        Assert.Equal("tensor([100., 100.])", GradOf(x).ToString());
        Assert.Equal("[tensor(100.), tensor(100.)]", Notebook001.Format(new[] { 1 * gradient, 1 * gradient }));
    }

    [Fact]
    public void Nb001_In218_Mm_PrintsMmBackward0()
    {
        Tensor a = Tensor.From(new float[,] { { 1, 2 } }, requiresGrad: true);
        Shape("torch.Size([1, 2])", a);
        Tensor x = Tensor.From(new float[,] { { 3 }, { 5 } });
        Shape("torch.Size([2, 1])", x);
        Tensor y = Tensor.Mm(a, x);
        Assert.Equal("tensor([[13.]], grad_fn=<MmBackward0>)", y.ToString());
        Shape("torch.Size([1, 1])", y);
    }

    [Fact]
    public void Nb001_In219_MmBackward_GradOfXIsATransposed()
    {
        Tensor a = Tensor.From(new float[,] { { 1, 2 } });
        Tensor x = Tensor.From(new float[,] { { 3 }, { 5 } }, requiresGrad: true);
        Tensor.Mm(a, x).Backward();
        Assert.Equal("tensor([[1.],\n        [2.]])", GradOf(x).ToString());
        Shape("torch.Size([2, 1])", GradOf(x));
        Assert.False(a.Grad.HasValue);
    }

    [Fact]
    public void Nb001_In220_MmGradientHundred_ScalesATransposed()
    {
        Tensor a = Tensor.From(new float[,] { { 1, 2 } });
        Tensor x = Tensor.From(new float[,] { { 3 }, { 5 } }, requiresGrad: true);
        Tensor gradient = Tensor.From(new float[,] { { 100 } });
        Shape("torch.Size([1, 1])", gradient);
        Tensor.Mm(a, x).Backward(gradient: gradient);
        Assert.Equal("tensor([[100.],\n        [200.]])", GradOf(x).ToString());
    }

    [Fact]
    public void Nb001_In221_MmGradientOfShapeOneByTwo_ThrowsMismatchInShape()
    {
        Tensor a = Tensor.From(new float[,] { { 1, 2 } });
        Tensor x = Tensor.From(new float[,] { { 3 }, { 5 } }, requiresGrad: true);
        Tensor y = Tensor.Mm(a, x);
        Tensor gradient = Tensor.From(new float[,] { { 100, 300 } });
        Shape("torch.Size([1, 2])", gradient);
        var e = Assert.Throws<ArgumentException>(() => y.Backward(gradient: gradient));
        Assert.Equal("Mismatch in shape: grad_output[0] has a shape of torch.Size([1, 2]) and output[0] has a shape of torch.Size([1, 1]).", e.Message);
        NoGrad(x);
        y.Backward(gradient: Tensor.From(new float[,] { { 100 } })); // the failed call left the graph usable
        Assert.Equal("tensor([[100.],\n        [200.]])", GradOf(x).ToString());
    }

    [Fact]
    public void Nb001_In222_MmGradientOfShapeTwoByOne_ThrowsMismatchInShape()
    {
        Tensor a = Tensor.From(new float[,] { { 1, 2 } });
        Tensor x = Tensor.From(new float[,] { { 3 }, { 5 } }, requiresGrad: true);
        Tensor y = Tensor.Mm(a, x);
        Tensor gradient = Tensor.From(new float[,] { { 100 }, { 300 } });
        Shape("torch.Size([2, 1])", gradient);
        var e = Assert.Throws<ArgumentException>(() => y.Backward(gradient: gradient));
        Assert.Equal("Mismatch in shape: grad_output[0] has a shape of torch.Size([2, 1]) and output[0] has a shape of torch.Size([1, 1]).", e.Message);
        NoGrad(x);
    }

    [Fact]
    public void Nb001_In166_TimesTwo_KeepsShapeTwo()
    {
        Tensor x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Tensor y = 2 * x;
        Shape("torch.Size([2])", y);
        Assert.Equal("tensor([2., 4.], grad_fn=<MulBackward0>)", y.ToString());
    }

    [Fact]
    public void Nb001_In167_NonScalarBackwardWithoutGradient_Throws()
    {
        Tensor x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Tensor y = 2 * x;
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Equal("grad can be implicitly created only for scalar outputs", e.Message);
        NoGrad(x);
    }

    [Fact]
    public void Nb001_In168_ScaledByPi_OnesGradientGivesPi()
    {
        Tensor x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Tensor y = 3.14 * x;
        y.Backward(Tensor.From(new[] { 1f, 1f }));
        Close([3.14, 3.14], GradOf(x));
        Assert.Equal("tensor([3.1400, 3.1400])", GradOf(x).ToString());
        Shape("torch.Size([2])", GradOf(x));
    }

    [Fact]
    public void Nb001_In169_ScaledByPi_GradientTenAndHundred()
    {
        Tensor x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Tensor y = 3.14 * x;
        y.Backward(Tensor.From(new[] { 10f, 100f }));
        Close([10 * 3.14, 100 * 3.14], GradOf(x));
        Assert.Equal("tensor([ 31.4000, 314.0000])", GradOf(x).ToString());
    }

    // ---- notebook 002: add, mul, exp (torch.randn), detach, zero_() -----------------------------

    [Fact]
    public void Nb002_In47_AddTwo_GradIsOne()
    {
        Autograd.ManualSeed(47);
        Tensor x = Tensor.Randn(1, requiresGrad: true);
        Matches(@"tensor\(\[" + Float4 + @"\], requires_grad=True\)", x);
        Tensor y = x + 2;
        Close([V(x)[0] + 2], y, roundings: 1);
        Assert.Equal("AddBackward0", y.GradFn);
        y.Backward();
        Assert.Equal("tensor([1.])", GradOf(x).ToString());
    }

    [Fact]
    public void Nb002_In43_Square_GradIsTwoX()
    {
        Autograd.ManualSeed(43);
        Tensor x = Tensor.Randn(1, requiresGrad: true);
        Tensor y2 = x * x;
        double v = V(x)[0];
        Close([v * v], y2, roundings: 1);
        Matches(@"tensor\(\[" + Float4 + @"\], grad_fn=<MulBackward0>\)", y2);
        y2.Backward();
        Close([2 * v], GradOf(x), roundings: 1);
    }

    [Fact]
    public void Nb002_In40_Exp_GradIsExp()
    {
        Autograd.ManualSeed(40);
        Tensor x = Tensor.Randn(1, requiresGrad: true);
        Tensor y3 = x.Exp();
        Assert.Equal("ExpBackward0", y3.GradFn);
        double v = V(x)[0];
        Close([Math.Exp(v)], y3);
        y3.Backward();
        Close([Math.Exp(v)], GradOf(x));
        Assert.Equal(V(y3), V(GradOf(x)));
    }

    [Fact]
    public void Nb002_In48_ExpOfTwo_BackwardWithoutGradientThrows()
    {
        Autograd.ManualSeed(48);
        Tensor x = Tensor.Randn(2, requiresGrad: true);
        Tensor y3 = x.Exp();
        double[] v = V(x);
        Close([Math.Exp(v[0]), Math.Exp(v[1])], y3);
        var e = Assert.Throws<InvalidOperationException>(() => y3.Backward());
        Assert.Equal("grad can be implicitly created only for scalar outputs", e.Message);
        NoGrad(x);
    }

    [Fact]
    public void Nb002_In55_ExpOfTwo_IntegerGradientIsCastAndWeights()
    {
        Autograd.ManualSeed(55);
        Tensor x = Tensor.Randn(2, requiresGrad: true);
        Tensor y3 = x.Exp();
        Tensor gradient = Tensor.From(new[] { 1, 4 });
        Assert.Equal(DType.Int64, gradient.DType);
        y3.Backward(gradient);
        double[] v = V(x);
        Assert.Equal(DType.Float32, GradOf(x).DType);
        Close([Math.Exp(v[0]), 4 * Math.Exp(v[1])], GradOf(x));
    }

    [Fact]
    public void Nb002_DetachOptions_RequiresGradFalseDetachAndNoGradAllStopRecording()
    {
        Tensor x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
        Tensor detached = x.Detach();
        Assert.False(detached.RequiresGrad);
        Assert.Equal("tensor([1., 2.])", detached.ToString());
        using (Autograd.NoGrad())
        {
            Tensor inside = x * x;
            Assert.False(inside.RequiresGrad);
            Assert.Null(inside.GradFn);
        }
        Assert.Equal("MulBackward0", (x * x).GradFn);
        Assert.Equal(x, x.RequiresGrad_(false));
        Assert.False((x * x).RequiresGrad);
        Assert.Equal("tensor([1., 2.])", x.ToString());
    }

    [Fact]
    public void Nb002_In60_CubeThroughAlias_GradIsThreeXSquared()
    {
        Tensor x = Tensor.Arange(4, requiresGrad: true, dtype: DType.Float32);
        Tensor y = x * x;
        Tensor u = y;
        Tensor z = u * x;
        z.Sum().Backward();
        Assert.Equal("tensor([ 0.,  3., 12., 27.])", GradOf(x).ToString());
        Close([0, 3, 12, 27], GradOf(x), roundings: 0);
    }

    [Fact]
    public void Nb002_In61_DetachedFactor_GradIsXSquared()
    {
        Tensor x = Tensor.Arange(4, requiresGrad: true, dtype: DType.Float32);
        Tensor y = x * x;
        Tensor u = y.Detach();
        Assert.False(u.RequiresGrad);
        Tensor z = u * x;
        z.Sum().Backward();
        Assert.Equal("tensor([0., 1., 4., 9.])", GradOf(x).ToString());
        Assert.Equal(V(u), V(GradOf(x)));
    }

    [Fact]
    public void Nb002_In58_ZeroGradInLoop_PrintsThreeEveryEpoch()
    {
        Tensor weights = Tensor.Ones(4, requiresGrad: true);
        var printed = new List<string>();
        for (int epoch = 0; epoch < 3; epoch++)
        {
            Tensor modelOutput = (weights * 3).Sum();
            modelOutput.Backward();
            printed.Add(GradOf(weights).ToString());
            GradOf(weights).Zero_();
        }
        Assert.Equal(["tensor([3., 3., 3., 3.])", "tensor([3., 3., 3., 3.])", "tensor([3., 3., 3., 3.])"], printed);
        Assert.Equal("tensor([0., 0., 0., 0.])", GradOf(weights).ToString());
    }

    [Fact]
    public void Nb002_In58_WithoutZeroGrad_Accumulates3_6_9AsRecorded()
    {
        Tensor weights = Tensor.Ones(4, requiresGrad: true);
        var printed = new List<string>();
        for (int epoch = 0; epoch < 3; epoch++)
        {
            (weights * 3).Sum().Backward();
            printed.Add(GradOf(weights).ToString());
        }
        Assert.Equal(["tensor([3., 3., 3., 3.])", "tensor([6., 6., 6., 6.])", "tensor([9., 9., 9., 9.])"], printed);
    }

    // ---- notebook 003: polynomial, dot and @, vector outputs, control flow ---------------------

    [Fact]
    public void Nb003_In10_Polynomial_DyDxIs26AndDyDuIs6()
    {
        Tensor x = Tensor.From(3.0f, requiresGrad: true);
        Tensor u = Tensor.From(2.0f, requiresGrad: true);
        Tensor y = 3 * x.Pow(2) + 4 * x + 2 * u * x;
        Assert.Equal(3 * 9 + 4 * 3 + 2 * 2 * 3, y.Item());
        y.Backward();
        Assert.Equal(6 * 3 + 4 + 2 * 2, GradOf(x).Item()); // dy/dx = 6x + 4 + 2u
        Assert.Equal(2 * 3, GradOf(u).Item());             // dy/du = 2x
        Assert.Equal("tensor(26.)", GradOf(x).ToString());
        Assert.Equal("tensor(6.)", GradOf(u).ToString());
    }

    [Fact]
    public void Nb003_In11_ZeroGradThenNewFunction_DzDxIs19()
    {
        Tensor x = Tensor.From(3.0f, requiresGrad: true);
        Tensor u = Tensor.From(2.0f, requiresGrad: true);
        (3 * x.Pow(2) + 4 * x + 2 * u * x).Backward();
        Assert.Equal("tensor(0.)", GradOf(x).Zero_().ToString());
        Tensor z = 3 * x.Pow(2) + x;
        z.Backward();
        Assert.Equal(6 * 3 + 1, GradOf(x).Item()); // dz/dx = 6x + 1
        Assert.Equal("tensor(19.)", GradOf(x).ToString());
        Assert.Equal("tensor(6.)", GradOf(u).ToString()); // z does not depend on u
    }

    [Fact]
    public void Nb003_In12_RedefinedLeaf_DyDxIs50_AndUGradAccumulates()
    {
        Tensor x = Tensor.From(3.0f, requiresGrad: true);
        Tensor u = Tensor.From(2.0f, requiresGrad: true);
        (3 * x.Pow(2) + 4 * x + 2 * u * x).Backward();
        x = Tensor.From(7.0f, requiresGrad: true);
        Tensor y = 3 * x.Pow(2) + 4 * x + 2 * u * x;
        y.Backward();
        Assert.Equal(6 * 7 + 4 + 2 * 2, GradOf(x).Item());
        Assert.Equal("tensor(50.)", GradOf(x).ToString());
        Assert.Equal(2 * 3 + 2 * 7, GradOf(u).Item()); // u was not zeroed: 6 + 14
    }

    [Fact]
    public void Nb003_Int2D_PrintsTransposeShapesAndMatMul()
    {
        Tensor x = Tensor.From(new[,] { { 1, 7, -2 } });
        Assert.Equal(DType.Int64, x.DType);
        Assert.Equal("tensor([[ 1,  7, -2]])", x.ToString());
        Assert.Equal("tensor([[ 1],\n        [ 7],\n        [-2]])", x.T().ToString());
        Shape("torch.Size([1, 3])", x);
        Shape("torch.Size([3, 1])", x.T());
        Tensor product = Tensor.MatMul(x, x.T());
        Assert.Equal(DType.Int64, product.DType);
        Assert.Equal(1 * 1 + 7 * 7 + (-2) * (-2), product.Item<long>());
        Assert.Equal("tensor([[54]])", product.ToString());
    }

    [Fact]
    public void Nb003_Int2D_DotThrowsBecauseDotIsOneDimensional()
    {
        Tensor x = Tensor.From(new[,] { { 1, 7, -2 } });
        var e = Assert.Throws<ArgumentException>(() => Tensor.Dot(x, x));
        Assert.Equal("1D tensors expected, but got 2D and 2D tensors", e.Message);
    }

    [Fact]
    public void Nb003_Int1D_TransposeIsIdentity_MatMulAndDotAre54()
    {
        Tensor x = Tensor.From(new[] { 1, 7, -2 });
        Assert.Equal("tensor([ 1,  7, -2])", x.ToString());
        Assert.Equal("tensor([ 1,  7, -2])", x.T().ToString());
        Shape("torch.Size([3])", x.T());
        Assert.Equal("tensor(54)", Tensor.MatMul(x, x.T()).ToString());
        Tensor dot = Tensor.Dot(x, x);
        Assert.Equal(DType.Int64, dot.DType);
        Assert.Equal(1 * 1 + 7 * 7 + (-2) * (-2), dot.Item<long>());
        Assert.Equal("tensor(54)", dot.ToString());
        Assert.Equal("54", Notebook001.Format(dot));
    }

    [Fact]
    public void Nb003_In85_DotPlusSelfMatMul_GradIsThreeWPlusTwoX()
    {
        float[] xs = [1.0f, 7.0f, -2.0f], w = [1.0f, 7.0f, 5.0f];
        Tensor x = Tensor.From(xs, requiresGrad: true);
        Tensor y = 3 * Tensor.Dot(x, Tensor.From(w)) + Tensor.MatMul(x, x.T());
        double expectedY = 3 * xs.Zip(w, (a, b) => (double)a * b).Sum() + xs.Sum(a => (double)a * a);
        Assert.Equal(expectedY, y.Item());
        Assert.Equal("tensor(174., grad_fn=<AddBackward0>)", y.ToString());
        y.Backward();
        Close(xs.Zip(w, (a, b) => 3.0 * b + 2.0 * a).ToArray(), GradOf(x), roundings: 0);
        Assert.Equal("tensor([ 5., 35., 11.])", GradOf(x).ToString());
    }

    [Fact]
    public void Nb003_In2_VectorOutput_OnesGradientGivesEightX()
    {
        float[] xs = [1.0f, 7.0f, -2.0f];
        Tensor x = Tensor.From(xs, requiresGrad: true);
        Tensor y = 3 * x * x + x.Pow(2);
        Close(xs.Select(a => 4.0 * a * a).ToArray(), y, roundings: 0);
        Assert.Equal("tensor([  4., 196.,  16.], grad_fn=<AddBackward0>)", y.ToString());
        y.Backward(gradient: Tensor.Ones(y.Length));
        Close(xs.Select(a => 8.0 * a).ToArray(), GradOf(x), roundings: 0);
        Assert.Equal("tensor([  8.,  56., -16.])", GradOf(x).ToString());
    }

    [Fact]
    public void Nb003_In2_VectorOutputWithoutGradient_Throws()
    {
        Tensor x = Tensor.From(new[] { 1.0f, 7.0f, -2.0f }, requiresGrad: true);
        Tensor y = 3 * x * x + x.Pow(2);
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Equal("grad can be implicitly created only for scalar outputs", e.Message);
    }

    /// <summary>The notebooks' f: double until the norm reaches 1000, then keep b if its sum is positive, else 100·b.</summary>
    private static Tensor F(Tensor a)
    {
        var b = a * 2;
        while (b.Norm() < 1000)
            b = b * 2;
        Tensor c;
        if (b.Sum() > 0)
            c = b;
        else
            c = 100 * b;
        return c;
    }

    /// <summary>f's gradient computed here: 2^k with the k that lifts |2a| past 1000, times 100 for a negative a.</summary>
    private static double ExpectedControlFlowGrad(double a)
    {
        double scale = 2;
        while (Math.Abs(a * scale) < 1000) scale *= 2;
        return a * scale > 0 ? scale : 100 * scale;
    }

    [Fact]
    public void Nb003_In11_ControlFlow_GradAtFiveIs256()
    {
        Tensor a = Tensor.From(new[] { 5.0f }, requiresGrad: true);
        Tensor d = F(a);
        Assert.Equal("tensor([1280.], grad_fn=<MulBackward0>)", d.ToString());
        d.Backward();
        Assert.Equal(ExpectedControlFlowGrad(5), GradOf(a).Item());
        Assert.Equal("tensor([256.])", GradOf(a).ToString());
    }

    [Fact]
    public void Nb003_In11_ControlFlow_NegativeInputTakesTheHundredBranch()
    {
        Tensor a = Tensor.From(new[] { -5.0f }, requiresGrad: true);
        Tensor d = F(a);
        d.Backward();
        Assert.Equal(ExpectedControlFlowGrad(-5), GradOf(a).Item());
        Assert.Equal("tensor([25600.])", GradOf(a).ToString());
    }

    // ---- notebook 004: 2·dot(x, x), sum, non-scalar backward, detach, control flow ---------------

    [Fact]
    public void Nb004_In75_ArangeOfFloat_IsFloat32ZeroToThree()
    {
        Tensor x = Tensor.Arange(4.0);
        Assert.Equal(DType.Float32, x.DType);
        Assert.Equal("tensor([0., 1., 2., 3.])", x.ToString());
        Assert.False(x.RequiresGrad);
    }

    [Fact]
    public void Nb004_In77_RequiresGrad_ReturnsTheTensorAndPrintsTheFlag_GradIsNone()
    {
        Tensor x = Tensor.Arange(4.0);
        Assert.Equal(x, x.RequiresGrad_(true));
        Assert.Equal("tensor([0., 1., 2., 3.], requires_grad=True)", x.ToString());
        NoGrad(x);
    }

    [Fact]
    public void Nb004_In80_TwoDot_Is28WithMulBackward()
    {
        Tensor x = Tensor.Arange(4.0).RequiresGrad_(true);
        Tensor y = 2 * Tensor.Dot(x, x);
        Assert.Equal(2 * (0 + 1 + 4 + 9), y.Item());
        Assert.Equal("tensor(28., grad_fn=<MulBackward0>)", y.ToString());
    }

    [Fact]
    public void Nb004_In82_TwoDotBackward_GradIsFourX()
    {
        Tensor x = Tensor.Arange(4.0).RequiresGrad_(true);
        (2 * Tensor.Dot(x, x)).Backward();
        Assert.Equal("tensor([ 0.,  4.,  8., 12.])", GradOf(x).ToString());
        Assert.Equal("tensor([True, True, True, True])", (GradOf(x) == 4 * x).ToString());
    }

    [Fact]
    public void Nb004_In84_ZeroGrad_ReturnsTheZeroedGrad()
    {
        Tensor x = Tensor.Arange(4.0).RequiresGrad_(true);
        (2 * Tensor.Dot(x, x)).Backward();
        Tensor zeroed = GradOf(x).Zero_();
        Assert.Equal("tensor([0., 0., 0., 0.])", zeroed.ToString());
        Assert.Equal(GradOf(x), zeroed);
        Assert.Equal("tensor([0., 1., 2., 3.], requires_grad=True)", x.ToString()); // In [88]: x is untouched
    }

    [Fact]
    public void Nb004_In87_SumAfterZero_GradIsOnes()
    {
        Tensor x = Tensor.Arange(4.0).RequiresGrad_(true);
        (2 * Tensor.Dot(x, x)).Backward();
        GradOf(x).Zero_();
        x.Sum().Backward();
        Assert.Equal("tensor([1., 1., 1., 1.])", GradOf(x).ToString());
    }

    [Fact]
    public void Nb004_In92_NonScalarWithOnesGradient_GradIsTwoX()
    {
        Tensor x = Tensor.Arange(4.0).RequiresGrad_(true);
        Tensor y = x * x;
        y.Backward(gradient: Tensor.Ones(y.Length));
        Close(V(x).Select(v => 2 * v).ToArray(), GradOf(x), roundings: 0);
        Assert.Equal("tensor([0., 2., 4., 6.])", GradOf(x).ToString());
    }

    [Fact]
    public void Nb004_In100_DetachedU_GradEqualsU()
    {
        Tensor x = Tensor.Arange(4.0).RequiresGrad_(true);
        Tensor y = x * x;
        Tensor u = y.Detach();
        Tensor z = u * x;
        z.Sum().Backward();
        Assert.Equal("tensor([0., 1., 4., 9.])", GradOf(x).ToString());
        Assert.Equal("tensor([True, True, True, True])", (GradOf(x) == u).ToString());
    }

    [Fact]
    public void Nb004_In105_UndetachedY_StillBackpropagates_GradIsTwoX()
    {
        Tensor x = Tensor.Arange(4.0).RequiresGrad_(true);
        Tensor y = x * x;
        Tensor u = y.Detach();
        (u * x).Sum().Backward();
        GradOf(x).Zero_();
        y.Sum().Backward();
        Assert.Equal("tensor([0., 2., 4., 6.])", GradOf(x).ToString());
        Assert.Equal("tensor([True, True, True, True])", (GradOf(x) == 2 * x).ToString());
    }

    [Fact]
    public void Nb004_In110_RandomControlFlow_GradEqualsDOverA()
    {
        Autograd.ManualSeed(4);
        Tensor a = Tensor.Randn([], requiresGrad: true);
        Shape("torch.Size([])", a);
        Tensor d = F(a);
        d.Backward();
        double av = a.Item();
        Assert.Equal(ExpectedControlFlowGrad(av), GradOf(a).Item());
        Close(d.Item() / av, GradOf(a).Item(), roundings: 1);
        Assert.Equal("tensor(True)", (GradOf(a) == d / a).ToString());
    }
}
