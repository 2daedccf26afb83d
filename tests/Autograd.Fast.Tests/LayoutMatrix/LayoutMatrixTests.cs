namespace AutogradFast.Tests.LayoutMatrix;

/// <summary>
/// Every op over the layout matrix: operands contiguous, strided (and misaligned), transposed,
/// expanded (stride 0), at an offset, 0-d, broadcast by shape (a row, a column, one element), tiny
/// (inline in their record) and pooled, in every dtype (bool, int64, float32, float64) and both
/// operand positions. Each case runs the op on the laid-out operands and on dense twins holding the
/// same values and requires the same bits, dtype, shape, grad_fn and gradients, or the same error.
/// Adding an op is one line in one of the registries below.
/// </summary>
public class LayoutMatrixTests
{
    // ---- the registries ----

    /// <summary>Elementwise ops of two tensors (broadcasting).</summary>
    public static readonly Dictionary<string, Func<Tensor, Tensor, Tensor>> Binary = new()
    {
        ["add"] = (a, b) => a + b,
        ["sub"] = (a, b) => a - b,
        ["mul"] = (a, b) => a * b,
        ["div"] = (a, b) => a / b,
        ["add_alpha"] = (a, b) => a.Add(b, alpha: -0.5),
        ["eq"] = (a, b) => a == b,
        ["ne"] = (a, b) => a != b,
        ["lt"] = (a, b) => a < b,
        ["le"] = (a, b) => a <= b,
        ["gt"] = (a, b) => a > b,
        ["ge"] = (a, b) => a >= b,
    };

    /// <summary>Ops of one tensor, with the input domain they need.</summary>
    public static readonly Dictionary<string, (Func<Tensor, Tensor> F, Domain Domain)> Unary = new()
    {
        ["neg"] = (a => -a, Domain.Any),
        ["reciprocal"] = (a => a.Reciprocal(), Domain.Positive),
        ["exp"] = (a => a.Exp(), Domain.Any),
        ["log"] = (a => a.Log(), Domain.Positive),
        ["tanh"] = (a => a.Tanh(), Domain.Any),
        ["sigmoid"] = (a => a.Sigmoid(), Domain.Any),
        ["relu"] = (a => a.Relu(), Domain.Any),
        ["pow_0"] = (a => a.Pow(0), Domain.Any),
        ["pow_1"] = (a => a.Pow(1), Domain.Any),
        ["pow_2"] = (a => a.Pow(2), Domain.Any),
        ["pow_3"] = (a => a.Pow(3), Domain.Any),
        ["pow_neg1"] = (a => a.Pow(-1), Domain.Positive),
        ["pow_half"] = (a => a.Pow(0.5), Domain.Positive),
        ["pow_2_5"] = (a => a.Pow(2.5), Domain.Positive),
        ["sum"] = (a => a.Sum(), Domain.Any),
        ["mean"] = (a => a.Mean(), Domain.Any),
        ["norm"] = (a => a.Norm(), Domain.Any),
        ["clone"] = (a => a.Clone(), Domain.Any),
        ["contiguous"] = (a => a.Contiguous(), Domain.Any),
        ["to_float32"] = (a => a.To(DType.Float32), Domain.Any),
        ["to_float64"] = (a => a.To(DType.Float64), Domain.Any),
        ["to_int64"] = (a => a.To(DType.Int64), Domain.Any),
        ["to_bool"] = (a => a.To(DType.Bool), Domain.Any),
        ["t"] = (a => a.T(), Domain.Any),
        ["transpose"] = (a => a.Transpose(0, -1), Domain.Any),
        ["unsqueeze_0"] = (a => a.Unsqueeze(0), Domain.Any),
        ["unsqueeze_last"] = (a => a.Unsqueeze(-1), Domain.Any),
        ["expand_new_dim"] = (a => a.Expand([2, .. a.Shape.AsSpan()]), Domain.Any),
        ["select_first"] = (a => a[1], Domain.Any),
        ["select_last_from_end"] = (a => a[^1], Domain.Any),
        ["select_dim_last"] = (a => a.Select(-1, 1), Domain.Any),
        ["slice_range"] = (a => a[1..], Domain.Any),
        ["slice_clamped"] = (a => a[1..100], Domain.Any),
        ["slice_step"] = (a => a.Slice(-1, 0, 100, 2), Domain.Any),
        ["detach"] = (a => a.Detach(), Domain.Any),
        ["scalar_add"] = (a => a + 2, Domain.Any),
        ["scalar_radd_double"] = (a => 2.5 + a, Domain.Any),
        ["scalar_sub"] = (a => a - 1.5, Domain.Any),
        ["scalar_rsub_long"] = (a => 2 - a, Domain.Any),
        ["scalar_mul"] = (a => a * 2.5, Domain.Any),
        ["scalar_rmul_long"] = (a => 3 * a, Domain.Any),
        ["scalar_div_long"] = (a => a / 2, Domain.Any),
        ["scalar_rdiv"] = (a => 2 / a, Domain.Positive),
        ["scalar_eq_long"] = (a => a == 1, Domain.Any),
        ["scalar_ne"] = (a => a != 0.5, Domain.Any),
        ["scalar_lt"] = (a => a < 0.5, Domain.Any),
        ["scalar_le_long"] = (a => a <= 1, Domain.Any),
        ["scalar_gt"] = (a => a > 1.5, Domain.Any),
        ["scalar_ge"] = (a => a >= -0.5, Domain.Any),
    };

    /// <summary>Ops with operands of fixed shapes (products).</summary>
    public static readonly Dictionary<string, (Func<Tensor, Tensor, Tensor> F, int[] A, int[] B)> Products = new()
    {
        ["dot"] = ((a, b) => Tensor.Dot(a, b), [5], [5]),
        ["mm"] = ((a, b) => Tensor.Mm(a, b), [3, 4], [4, 5]),
        ["mv"] = ((a, b) => Tensor.Mv(a, b), [3, 4], [4]),
        ["matmul_1d_2d"] = ((a, b) => Tensor.MatMul(a, b), [4], [4, 3]),
        ["matmul_2d_2d"] = ((a, b) => Tensor.MatMul(a, b), [5, 4], [4, 2]),
        // The upstream gradient in other layouts: column-major (t()'s rule) and stride 0 (sum's), read by mm's and mv's rules.
        ["mm_then_t"] = ((a, b) => Tensor.Mm(a, b).T(), [3, 4], [4, 5]),
        ["mm_then_sum"] = ((a, b) => Tensor.Mm(a, b).Sum(), [3, 4], [4, 5]),
        ["mv_then_sum"] = ((a, b) => Tensor.Mv(a, b).Sum(), [3, 4], [4]),
    };

    /// <summary>
    /// In-place writes into a target from a source, with the part of the target each writes (the
    /// target's new values, and the source's gradient, are compared). A write whose part repeats a
    /// memory location (into an expanded target) must be refused, except fill_ and zero_, as in PyTorch.
    /// </summary>
    public static readonly Dictionary<string, (Action<Tensor, Tensor> Write, Func<Tensor, Tensor> Written, bool MayOverlap)> InPlaceWrites = new()
    {
        ["copy_"] = ((t, s) => t.Copy_(s), t => t, false),
        ["add_"] = ((t, s) => t.Add_(s), t => t, false),
        ["add_alpha"] = ((t, s) => t.Add_(s, alpha: -0.5), t => t, false),
        ["sub_"] = ((t, s) => t.Sub_(s), t => t, false),
        ["mul_"] = ((t, s) => t.Mul_(2.5), t => t, false),
        ["mul_int"] = ((t, s) => t.Mul_(3L), t => t, false),
        ["mul_tensor"] = ((t, s) => t.Mul_(s), t => t, false),
        ["div_"] = ((t, s) => t.Div_(4.0), t => t, false),
        ["div_tensor"] = ((t, s) => t.Div_(s), t => t, false),
        ["add_scalar"] = ((t, s) => t.Add_(1.5), t => t, false),
        ["add_int"] = ((t, s) => t.Add_(2L), t => t, false),
        ["sub_scalar"] = ((t, s) => t.Sub_(0.5), t => t, false),
        ["pow_"] = ((t, s) => t.Pow_(2), t => t, false),
        ["fill_"] = ((t, s) => t.Fill_(-1.5), t => t, true),
        ["zero_"] = ((t, s) => t.Zero_(), t => t, true),
        ["setitem_row"] = ((t, s) => t[1] = s[0], t => t[1], false),
        ["setitem_range"] = ((t, s) => t[1..] = s[1..], t => t[1..], false),
        ["setitem_pair"] = ((t, s) => t[0, 1] = s[0, 0], t => t[0, 1], false),
        ["setitem_leading_ones"] = ((t, s) => t[1] = s[0].Unsqueeze(0).Unsqueeze(0), t => t[1], false),
    };

    // ---- operand sets ----

    /// <summary>Result shapes of the broadcasting cases: pooled for every dtype ([5, 4]) and tiny ([2, 2]: inline for float32 and bool).</summary>
    private static readonly int[][] ResultShapes = [[5, 4], [2, 2]];

    /// <summary>Operands broadcasting to <paramref name="result"/>: its full shape in every layout, a row, a column, one element and 0-d.</summary>
    private static IEnumerable<OperandSpec> BroadcastOperands(int[] result, DType dtype)
    {
        int[][] shapes = [result, [result[^1]], [result[0], 1], [1], []];
        return shapes.SelectMany(s => OperandSpec.AllLayouts(s, dtype));
    }

    private static IEnumerable<OperandSpec> UnaryOperands(DType dtype)
    {
        int[][] shapes = [[5, 4], [2, 2], [3], [2, 3, 4], []];
        return shapes.SelectMany(s => OperandSpec.AllLayouts(s, dtype));
    }

    // ---- theories: one per op ----

    public static TheoryData<string> BinaryNames() => Names(Binary.Keys);

    public static TheoryData<string> UnaryNames() => Names(Unary.Keys);

    public static TheoryData<string> ProductNames() => Names(Products.Keys);

    public static TheoryData<string> InPlaceNames() => Names(InPlaceWrites.Keys);

    private static TheoryData<string> Names(IEnumerable<string> names)
    {
        var data = new TheoryData<string>();
        foreach (string n in names) data.Add(n);
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryNames))]
    public void BinaryOp_GivesTheDenseResultForEveryLayoutAndDTypePairing(string op)
    {
        Func<Tensor, Tensor, Tensor> f = Binary[op];
        var failures = new List<string>();
        int cases = 0;
        foreach (int[] result in ResultShapes)
            foreach (DType da in OperandSpec.DTypes)
                foreach (DType db in OperandSpec.DTypes)
                    foreach (OperandSpec a in BroadcastOperands(result, da))
                        foreach (OperandSpec b in BroadcastOperands(result, db))
                        {
                            cases++;
                            Check($"{op}({a}, {b})", [a, b], Domain.Any, t => f(t[0], t[1]), failures);
                        }
        AssertNoFailures(op, cases, failures);
    }

    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void UnaryOp_GivesTheDenseResultForEveryLayoutAndDType(string op)
    {
        var (f, domain) = Unary[op];
        var failures = new List<string>();
        int cases = 0;
        foreach (DType dtype in OperandSpec.DTypes)
            foreach (OperandSpec a in UnaryOperands(dtype))
            {
                cases++;
                Check($"{op}({a})", [a], domain, t => f(t[0]), failures);
            }
        AssertNoFailures(op, cases, failures);
    }

    [Theory]
    [MemberData(nameof(ProductNames))]
    public void Product_GivesTheDenseResultForEveryLayoutAndDTypePairing(string op)
    {
        var (f, shapeA, shapeB) = Products[op];
        var failures = new List<string>();
        int cases = 0;
        foreach (DType da in OperandSpec.DTypes)
            foreach (DType db in OperandSpec.DTypes)
                foreach (OperandSpec a in OperandSpec.AllLayouts(shapeA, da))
                    foreach (OperandSpec b in OperandSpec.AllLayouts(shapeB, db))
                    {
                        cases++;
                        Check($"{op}({a}, {b})", [a, b], Domain.Any, t => f(t[0], t[1]), failures);
                    }
        AssertNoFailures(op, cases, failures);
    }

    /// <summary>
    /// In-place writes: the target in every layout and dtype (expanded targets must fail where PyTorch
    /// fails), the source in every layout and dtype; the target's values afterwards, the elements of
    /// its base it does not show (untouched), and, when the source requires grad, the source's gradient.
    /// </summary>
    [Theory]
    [MemberData(nameof(InPlaceNames))]
    public void InPlaceWrite_GivesTheDenseResultForEveryLayoutAndDTypePairing(string op)
    {
        var (write, written, mayOverlap) = InPlaceWrites[op];
        var failures = new List<string>();
        int cases = 0;
        foreach (int[] shape in ResultShapes)
            foreach (DType dt in OperandSpec.DTypes)
                foreach (DType ds in OperandSpec.DTypes)
                    foreach (OperandSpec target in OperandSpec.AllLayouts(shape, dt))
                        foreach (OperandSpec source in BroadcastOperands(shape, ds).Where(s => s.Shape.Length == 2 || !op.StartsWith("setitem", StringComparison.Ordinal)))
                        {
                            cases++;
                            CheckInPlace($"{op}({target} <- {source})", target, source, write, written, mayOverlap, failures);
                        }
        AssertNoFailures(op, cases, failures);
    }

    /// <summary>
    /// In-place writes autograd records through a view: the target is a view (in every layout but
    /// expanded) of a non-leaf whose leaf requires grad, the source in every layout and dtype. Against a
    /// dense non-leaf twin: the target's values and grad_fn kind, and after a backward from the target,
    /// the leaf's gradient (the view's part of it equals the dense twin's, the rest is zero) and the
    /// source's gradient.
    /// </summary>
    [Theory]
    [MemberData(nameof(InPlaceNames))]
    public void InPlaceWrite_ThroughAViewOfANonLeaf_RecordsAsTheDenseTwin(string op)
    {
        if (op.StartsWith("setitem", StringComparison.Ordinal)) return; // index assignment into a view: covered by the write itself
        var (write, _, _) = InPlaceWrites[op];
        var failures = new List<string>();
        int cases = 0;
        foreach (int[] shape in ResultShapes)
            foreach (DType dt in new[] { DType.Float32, DType.Float64 })
                foreach (DType ds in OperandSpec.DTypes)
                    foreach (OperandSpec target in OperandSpec.AllLayouts(shape, dt).Where(t => t.Layout != Layout.Expanded))
                        foreach (OperandSpec source in BroadcastOperands(shape, ds))
                        {
                            cases++;
                            CheckRecordedThroughView($"{op}(view {target} <- {source})", target, source, write, failures);
                        }
        AssertNoFailures(op, cases, failures);
    }

    private static void CheckRecordedThroughView(string name, OperandSpec targetSpec, OperandSpec sourceSpec, Action<Tensor, Tensor> write, List<string> failures)
    {
        var rng = new Random(StableSeed(name));
        double[] targetValues = targetSpec.Values(rng, Domain.Any), sourceValues = sourceSpec.Values(rng, Domain.Any);
        using AutogradScope scope = Autograd.Scope();
        var (_, denseValues, leafBase) = targetSpec.BuildWithBase(targetValues);
        leafBase.RequiresGrad_();
        Tensor target = targetSpec.ViewOf(leafBase * 1); // a view of a non-leaf
        Tensor denseLeaf = denseValues.RequiresGrad_(), denseTarget = denseLeaf * 1;
        var (source, denseSource) = sourceSpec.Build(sourceValues);
        if (sourceSpec.DType is DType.Float32 or DType.Float64)
        {
            source = source.Detach().RequiresGrad_();
            denseSource.RequiresGrad_();
        }
        Exception? expectedError = Try(() => write(denseTarget, denseSource));
        Exception? actualError = Try(() => write(target, source));
        if (expectedError is not null || actualError is not null)
        {
            if (expectedError?.GetType() != actualError?.GetType() || expectedError?.Message != actualError?.Message)
                failures.Add($"{name}: error {Describe(actualError)}, dense {Describe(expectedError)}");
            return;
        }
        Observed got = Observed.Of(target), want = Observed.Of(denseTarget);
        if ((got with { GradFn = null }).Difference(want with { GradFn = null }) is { } difference)
        {
            failures.Add($"{name}: target {difference}");
            return;
        }
        // A view written in place is re-derived from its rewritten base (PyTorch: AsStridedBackward0); a contiguous "view" is the non-leaf itself.
        string? expectedGradFn = targetSpec.Layout == Layout.Contiguous ? want.GradFn : "AsStridedBackward0";
        if (got.GradFn != expectedGradFn)
        {
            failures.Add($"{name}: grad_fn {got.GradFn}, expected {expectedGradFn}");
            return;
        }
        Tensor weights = Weights(denseTarget, rng);
        denseTarget.Backward(weights);
        target.Backward(weights);
        Tensor leafGrad = leafBase.Grad!.Value;
        // The view's part of the base's gradient is summed with the zeros CopySlices leaves there, so a
        // -0 gradient reads +0 (PyTorch copies it into place); values are otherwise the dense twin's bits.
        static Observed Unsigned(Observed o) => o with { Values = o.Values.Select(v => v + 0.0).ToArray() };
        if (Unsigned(Observed.Of(targetSpec.ViewOf(leafGrad))).Difference(Unsigned(Observed.Of(denseLeaf.Grad!.Value))) is { } gd)
        {
            failures.Add($"{name}: the leaf's gradient under the view: {gd}");
            return;
        }
        double outside = Observed.Of(leafGrad).Values.Sum(Math.Abs) - Observed.Of(denseLeaf.Grad!.Value).Values.Sum(Math.Abs);
        if (Math.Abs(outside) > 1e-9 * Math.Max(1, Observed.Of(leafGrad).Values.Sum(Math.Abs)))
            failures.Add($"{name}: the leaf's gradient outside the view is not zero");
        Tensor? wantSource = denseSource.Grad, gotSource = source.Grad;
        if (wantSource is null != gotSource is null) failures.Add($"{name}: source .Grad is {(gotSource is null ? "null" : "set")}, dense {(wantSource is null ? "null" : "set")}");
        else if (wantSource is { } w && gotSource is { } g && Observed.Of(g).Difference(Observed.Of(w)) is { } sd) failures.Add($"{name}: source .Grad: {sd}");
    }

    [Fact]
    public void TheRegistries_CoverEveryPublicOperatorAndTheMatrixReallyVariesTheLayout()
    {
        // A harness that silently built contiguous tensors everywhere would pass everything: check the layouts are what they claim.
        using (Autograd.Scope())
        {
            var rng = new Random(1);
            var strided = new OperandSpec([5, 4], DType.Float32, Layout.Strided);
            var transposed = new OperandSpec([5, 4], DType.Float32, Layout.Transposed);
            var expanded = new OperandSpec([5, 4], DType.Float32, Layout.Expanded);
            var offset = new OperandSpec([5, 4], DType.Float32, Layout.Offset);
            foreach (OperandSpec spec in new[] { strided, transposed, expanded, offset })
            {
                double[] values = spec.Values(rng, Domain.Any);
                var (tested, dense) = spec.Build(values);
                Assert.Null(Observed.Of(tested).Difference(Observed.Of(dense)));
                ref Storage.TensorRecord r = ref Storage.TensorContext.Current.Records[tested.Slot];
                Assert.True(spec.Layout == Layout.Offset ? r.IsContiguous && r.Offset > 0 : !r.IsContiguous, $"{spec} is laid out as claimed");
            }
            Assert.Equal(0, Storage.TensorContext.Current.Records[new OperandSpec([5, 4], DType.Float32, Layout.Expanded).Build(expanded.Values(rng, Domain.Any)).Tested.Slot].Strides[0]);
        }
        Assert.Equal(11, Binary.Count);
        Assert.True(Unary.Count >= 40);
    }

    // ---- the checks ----

    private static readonly HashSet<string> LayoutDecidesGradFn = ["contiguous"];

    private static void Check(string name, OperandSpec[] specs, Domain domain, Func<Tensor[], Tensor> f, List<string> failures)
    {
        string op = Op(name);
        var rng = new Random(StableSeed(name));
        double[][] values = specs.Select(s => s.Values(rng, domain)).ToArray();
        using AutogradScope scope = Autograd.Scope();
        Tensor[] tested = new Tensor[specs.Length], dense = new Tensor[specs.Length];
        for (int i = 0; i < specs.Length; i++)
        {
            (tested[i], dense[i]) = specs[i].Build(values[i]);
            if (specs[i].DType is DType.Float32 or DType.Float64)
            {
                // A detached view is a leaf with the view's layout: its gradient is then directly comparable.
                tested[i] = tested[i].Detach().RequiresGrad_();
                dense[i].RequiresGrad_();
            }
        }
        var (expected, expectedError) = Run(f, dense);
        var (actual, actualError) = Run(f, tested);
        if (expectedError is not null || actualError is not null)
        {
            if (expectedError?.GetType() != actualError?.GetType() || expectedError?.Message != actualError?.Message)
                failures.Add($"{name}: error {Describe(actualError)}, dense {Describe(expectedError)}");
            return;
        }
        Observed observed = Observed.Of(actual), reference = Observed.Of(expected);
        // contiguous() of a dense tensor is that tensor (no grad_fn); of a view it is a copy (CloneBackward0), as in PyTorch.
        if (LayoutDecidesGradFn.Contains(op)) observed = observed with { GradFn = reference.GradFn };
        string? difference = observed.Difference(reference);
        if (difference is not null)
        {
            failures.Add($"{name}: {difference}");
            return;
        }
        if (!expected.RequiresGrad) return;
        Tensor weights = Weights(expected, rng);
        expected.Backward(weights);
        actual.Backward(weights);
        for (int i = 0; i < specs.Length; i++)
        {
            Tensor? want = dense[i].Grad, got = tested[i].Grad;
            if (want is null != got is null) failures.Add($"{name}: .Grad of input {i} is {(got is null ? "null" : "set")}, dense {(want is null ? "null" : "set")}");
            else if (want is { } w && got is { } g && Observed.Of(g).Difference(Observed.Of(w)) is { } gd) failures.Add($"{name}: .Grad of input {i}: {gd}");
        }
    }

    private static void CheckInPlace(string name, OperandSpec targetSpec, OperandSpec sourceSpec, Action<Tensor, Tensor> write,
        Func<Tensor, Tensor> written, bool mayOverlap, List<string> failures)
    {
        var rng = new Random(StableSeed(name));
        double[] targetValues = targetSpec.Values(rng, Domain.Any), sourceValues = sourceSpec.Values(rng, Domain.Any);
        using AutogradScope scope = Autograd.Scope();
        var (target, denseTarget, targetBase) = targetSpec.BuildWithBase(targetValues);
        target = target.Detach(); // a leaf with the view's layout, so recorded writes (copy_ with grad) apply to it as to the dense twin
        var (source, denseSource) = sourceSpec.Build(sourceValues);
        if (sourceSpec.DType is DType.Float32 or DType.Float64)
        {
            source = source.Detach().RequiresGrad_();
            denseSource.RequiresGrad_();
        }
        int poisonBefore = PoisonCount(targetBase);
        bool overlapping = !mayOverlap && RepeatsAMemoryLocation(written(target));
        Exception? expectedError = Try(() => write(denseTarget, denseSource));
        Exception? actualError = Try(() => write(target, source));
        if (overlapping)
        {
            if (actualError is not InvalidOperationException e || !e.Message.Contains("more than one element of the written-to tensor refers to a single memory location", StringComparison.Ordinal))
                failures.Add($"{name}: the write repeats a memory location and must be refused as PyTorch refuses it; got {Describe(actualError)}");
            return;
        }
        if (RepeatsAMemoryLocation(target) && source.RequiresGrad && targetSpec.DType is DType.Float32 or DType.Float64 && !mayOverlap)
        {
            // Recording a write into part of an expanded tensor: which gradient belongs to the part is ambiguous.
            if (actualError is not InvalidOperationException e || !e.Message.Contains("cannot record a write into an expanded tensor", StringComparison.Ordinal))
                failures.Add($"{name}: a recorded write into an expanded target must be refused; got {Describe(actualError)}");
            return;
        }
        if (expectedError is not null || actualError is not null)
        {
            if (expectedError?.GetType() != actualError?.GetType() || expectedError?.Message != actualError?.Message)
                failures.Add($"{name}: error {Describe(actualError)}, dense {Describe(expectedError)}");
            return;
        }
        // An expanded target shares memory between its rows, so only the part written is comparable.
        Tensor shown = targetSpec.Layout == Layout.Expanded ? written(target) : target;
        Tensor expected = targetSpec.Layout == Layout.Expanded ? written(denseTarget) : denseTarget;
        if (Observed.Of(shown).Difference(Observed.Of(expected)) is { } difference)
        {
            failures.Add($"{name}: target {difference}");
            return;
        }
        if (PoisonCount(targetBase) != poisonBefore)
        {
            failures.Add($"{name}: the write reached elements of the target's base outside the target");
            return;
        }
        if (!denseTarget.RequiresGrad) return;
        Tensor weights = Weights(denseTarget, rng);
        denseTarget.Backward(weights);
        target.Backward(weights);
        Tensor? want = denseSource.Grad, got = source.Grad;
        if (want is null != got is null) failures.Add($"{name}: source .Grad is {(got is null ? "null" : "set")}, dense {(want is null ? "null" : "set")}");
        else if (want is { } w && got is { } g && Observed.Of(g).Difference(Observed.Of(w)) is { } gd) failures.Add($"{name}: source .Grad: {gd}");
    }

    private static string Op(string caseName) => caseName[..caseName.IndexOf('(', StringComparison.Ordinal)];

    private static bool RepeatsAMemoryLocation(Tensor t)
    {
        ref Storage.TensorRecord r = ref Storage.TensorContext.Current.Records[t.Slot];
        for (int i = 0; i < r.Rank; i++)
            if (r.Strides[i] == 0 && r.Shape[i] > 1) return true;
        return false;
    }

    private static int PoisonCount(Tensor t)
    {
        using (Autograd.NoGrad()) return Observed.Of(t).Values.Count(v => v == OperandSpec.Poison);
    }

    private static (Tensor Result, Exception? Error) Run(Func<Tensor[], Tensor> f, Tensor[] inputs)
    {
        try
        {
            Tensor result = f(inputs);
            _ = Observed.Of(result); // reading may evaluate deferred work: errors belong to the op
            return (result, null);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or IndexOutOfRangeException or InvalidCastException)
        {
            return (default, e);
        }
    }

    private static Exception? Try(Action a)
    {
        try
        {
            a();
            return null;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or IndexOutOfRangeException or InvalidCastException)
        {
            return e;
        }
    }

    /// <summary>A dense upstream gradient of distinct values, so every element's path is told apart.</summary>
    private static Tensor Weights(Tensor like, Random rng)
    {
        double[] w = Enumerable.Range(0, like.NumEl()).Select(_ => Math.Round(rng.NextDouble() * 4 - 2, 2)).ToArray();
        int[] shape = like.Shape.AsSpan().ToArray();
        return like.DType == DType.Float32 ? Tensor.FromSpan<float>(w.Select(v => (float)v).ToArray(), shape) : Tensor.FromSpan<double>(w, shape);
    }

    private static string Describe(Exception? e) => e is null ? "none" : $"{e.GetType().Name}: {e.Message}";

    private static void AssertNoFailures(string op, int cases, List<string> failures)
    {
        Assert.True(cases > 0, $"{op}: no cases ran");
        Assert.True(failures.Count == 0, $"{op}: {failures.Count} of {cases} cases differ from the dense twins:\n" + string.Join("\n", failures.Take(40).Select(f => f.Length > 300 ? f[..300] + " ..." : f)));
    }

    /// <summary>FNV-1a: string.GetHashCode differs per process, and the values must not.</summary>
    private static int StableSeed(string name)
    {
        uint h = 2166136261;
        foreach (char ch in name) h = (h ^ ch) * 16777619;
        return (int)(h & 0x7FFFFFFF);
    }
}

/// <summary>The whole layout matrix again with every elementwise result deferred and fused.</summary>
public sealed class FusedLayoutMatrixTests : LayoutMatrixTests, IDisposable
{
    private readonly ForcedFusion _fusion = new();

    public void Dispose() => _fusion.Dispose();

    [Fact]
    public void Fusion_IsOnForTheseTests() => ForcedFusion.AssertDeferred();
}
