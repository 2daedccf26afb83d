using System.Text.Json;
using Xunit;

namespace AutogradFast.Tests;

/// <summary>
/// Every error path: exception type, and PyTorch's wording where PyTorch has one — read from
/// Fixtures/errors.json, recorded by tests/oracle/error_fixtures.py (the text is quoted in a
/// comment beside each check). After each error the library must still work: nothing leaked from
/// the pool and a small graph still gives the right values and gradients.
/// </summary>
public class ErrorTests
{
    private static readonly Lazy<(Dictionary<string, string> Messages, Dictionary<string, bool> Twice)> Oracle = new(LoadOracle);

    private static string Torch(string scenario)
        => Oracle.Value.Messages.TryGetValue(scenario, out string? m) ? m : throw new KeyNotFoundException($"errors.json has no scenario '{scenario}'");

    /// <summary>PyTorch's message up to and including its first sentence (PyTorch goes on about Python-only APIs).</summary>
    private static string FirstSentence(string scenario)
    {
        string m = Torch(scenario);
        int end = m.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? m : m[..(end + 1)];
    }

    // ---- backward ----

    [Fact]
    public void ImplicitGradient_OnNonScalar()
    {
        // grad can be implicitly created only for scalar outputs
        var ex = Fails<InvalidOperationException>(() => (Leaf(2) * 2).Backward());
        Assert.Equal(Torch("implicit_grad_non_scalar"), ex.Message);
    }

    [Fact]
    public void GradientOfTheWrongShape()
    {
        // Mismatch in shape: grad_output[0] has a shape of torch.Size([3]) and output[0] has a shape of torch.Size([2]).
        var ex = Fails<ArgumentException>(() => (Leaf(2) * 2).Backward(Tensor.Ones(3)));
        Assert.Equal(Torch("gradient_shape_mismatch"), ex.Message);
    }

    [Fact]
    public void SecondBackward_ThroughFreedSavedValues()
    {
        // Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). ...
        var ex = Fails<InvalidOperationException>(() =>
        {
            Tensor y = (Leaf(3) * Leaf(3)).Sum();
            y.Backward();
            y.Backward();
        });
        Assert.StartsWith(FirstSentence("backward_twice"), ex.Message);
        Assert.Contains("retainGraph: true", ex.Message);
    }

    public static TheoryData<string, bool> BackwardTwiceOps()
    {
        var data = new TheoryData<string, bool>();
        foreach ((string op, bool allowed) in Oracle.Value.Twice) data.Add(op, allowed);
        return data;
    }

    /// <summary>
    /// f(x).sum() walked twice without retainGraph: PyTorch allows it exactly when no node on the
    /// way saved a tensor (add, views, sum, mean ...), and then the gradient accumulates twice.
    /// </summary>
    [Theory]
    [MemberData(nameof(BackwardTwiceOps))]
    public void SecondBackward_AllowedExactlyWherePyTorchAllowsIt(string op, bool pytorchAllows)
    {
        Assert.True(TwiceGraphs.TryGetValue(op, out Func<Tensor, Tensor>? f), $"no C# graph for '{op}'");
        int before = Autograd.PoolStatistics().LiveTensors;
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(new[,] { { 0.5, 1.5, 2.0 }, { 1.2, 0.7, 1.1 } }, requiresGrad: true);
            Tensor y = f!(x);
            if (y.Dim() > 0) y = y.Sum();
            y.Backward();
            double[] once = x.Grad!.Value.ToArray<double>();
            if (pytorchAllows)
            {
                y.Backward();
                double[] twice = x.Grad!.Value.ToArray<double>();
                Assert.Equal(once.Select(g => 2 * g), twice);
            }
            else
            {
                var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
                Assert.StartsWith(FirstSentence("backward_twice"), ex.Message);
                Assert.Equal(once, x.Grad!.Value.ToArray<double>()); // the failed sweep added nothing
            }
        }
        Assert.Equal(before, Autograd.PoolStatistics().LiveTensors);
        AssertLibraryStillWorks();
    }

    /// <summary>The graphs of error_fixtures.py's TWICE table; W is created per call (tensors belong to a thread).</summary>
    private static readonly Dictionary<string, Func<Tensor, Tensor>> TwiceGraphs = new()
    {
        ["add"] = x => x + x,                                         // x + x
        ["add_scalar"] = x => x + 2,                                  // x + 2
        ["sub"] = x => x - x.Detach(),                                // x - x.detach()
        ["sub_scalar"] = x => x - 2,                                  // x - 2
        ["rsub_scalar"] = x => 2 - x,                                 // 2 - x
        ["mul"] = x => x * Weights().T(),                             // x * W.t()
        ["mul_scalar"] = x => x * 2,                                  // x * 2
        ["div"] = x => x / Weights().T(),                             // x / W.t()
        ["div_scalar"] = x => x / 2,                                  // x / 2
        ["neg"] = x => -x,                                            // -x
        ["reciprocal"] = x => x.Reciprocal(),                         // x.reciprocal()
        ["pow"] = x => x.Pow(2),                                      // x ** 2
        ["exp"] = x => x.Exp(),                                       // x.exp()
        ["log"] = x => x.Log(),                                       // x.log()
        ["tanh"] = x => x.Tanh(),                                     // x.tanh()
        ["sigmoid"] = x => x.Sigmoid(),                               // x.sigmoid()
        ["relu"] = x => x.Relu(),                                     // x.relu()
        ["sum"] = x => x.Sum(),                                       // x.sum()
        ["mean"] = x => x.Mean(),                                     // x.mean()
        ["norm"] = x => x.Norm(),                                     // x.norm()
        ["dot"] = x => Tensor.Dot(x[0], x[1]),                        // torch.dot(x[0], x[1])
        ["mm"] = x => x.Mm(Weights()),                                // x.mm(W)
        ["mv"] = x => Tensor.Mv(x, Weights().Select(1, 0)),           // x.mv(W[:, 0])
        ["matmul_1d_2d"] = x => Tensor.MatMul(x[0], Weights()),       // torch.matmul(x[0], W)
        ["t"] = x => x.T(),                                           // x.t()
        ["transpose"] = x => x.Transpose(0, 1),                       // x.transpose(0, 1)
        ["select"] = x => x[1],                                       // x[1]
        ["slice"] = x => x.Slice(1, 0, 3, 2),                         // x[:, 0:3:2]
        ["unsqueeze"] = x => x.Unsqueeze(0),                          // x.unsqueeze(0)
        ["expand"] = x => x[0..1].Expand(3, 3),                       // x[0:1].expand(3, 3)
        ["clone"] = x => x.Clone(),                                   // x.clone()
        ["contiguous"] = x => x.T().Contiguous(),                     // x.t().contiguous()
        ["to_float32"] = x => x.To(DType.Float32),                    // x.to(torch.float32)
        ["copy_"] = x => Tensor.Zeros(2, 3, x.DType).Copy_(x),        // torch.zeros(2, 3, dtype=x.dtype).copy_(x)
        ["copyslices_plain"] = x =>
        {
            Tensor y = x + 0;                                         // y = x + 0
            y[0] = x[1];                                              // y[0] = x[1]
            return y;
        },
    };

    private static Tensor Weights() => Tensor.From(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } });

    [Fact]
    public void EveryTwiceOpOfTheOracle_HasACSharpGraph()
    {
        string[] missing = Oracle.Value.Twice.Keys.Where(op => !TwiceGraphs.ContainsKey(op)).ToArray();
        string[] stale = TwiceGraphs.Keys.Where(op => !Oracle.Value.Twice.ContainsKey(op)).ToArray();
        Assert.True(missing.Length == 0, "oracle ops without a C# graph: " + string.Join(", ", missing));
        Assert.True(stale.Length == 0, "C# graphs the oracle does not have: " + string.Join(", ", stale));
    }

    [Fact]
    public void RetainGraph_AllowsTheSecondBackward_ThenTheGraphIsFreed()
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(new[] { 1.0, 2.0, 3.0 }, requiresGrad: true);
            Tensor y = (x * x).Sum();
            y.Backward(retainGraph: true);
            Assert.Equal(new[] { 2.0, 4.0, 6.0 }, x.Grad!.Value.ToArray<double>());
            y.Backward(retainGraph: true);
            Assert.Equal(new[] { 4.0, 8.0, 12.0 }, x.Grad!.Value.ToArray<double>());
            y.Backward(); // the last one frees the saved values
            Assert.Equal(new[] { 6.0, 12.0, 18.0 }, x.Grad!.Value.ToArray<double>());
            var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
            Assert.StartsWith(FirstSentence("backward_twice"), ex.Message);
        }
        AssertLibraryStillWorks();
    }

    [Fact]
    public void Backward_OnATensorThatDoesNotRequireGrad()
    {
        // element 0 of tensors does not require grad and does not have a grad_fn
        var ex = Fails<InvalidOperationException>(() => Tensor.Ones(2).Sum().Backward());
        Assert.Equal(Torch("backward_without_grad"), ex.Message);
        ex = Fails<InvalidOperationException>(() => Tensor.Ones(2).Backward(Tensor.Ones(2)));
        Assert.Equal(Torch("backward_without_grad"), ex.Message);
        ex = Fails<InvalidOperationException>(() =>
        {
            Tensor x = Leaf(2);
            Tensor y;
            using (Autograd.NoGrad()) y = (x * 2).Sum();
            y.Backward();
        });
        Assert.Equal(Torch("backward_without_grad"), ex.Message);
    }

    [Fact]
    public void GradientShape_IsCheckedBeforeWhetherTheOutputRequiresGrad()
    {
        // Mismatch in shape: grad_output[0] has a shape of torch.Size([3]) and output[0] has a shape of torch.Size([2]).
        var ex = Fails<ArgumentException>(() => Tensor.Ones(2).Backward(Tensor.Ones(3)));
        Assert.Equal(Torch("gradient_shape_checked_before_requires_grad"), ex.Message);
        // Without a gradient, PyTorch reports the missing grad of a non-scalar output first.
        var missing = Fails<InvalidOperationException>(() => Tensor.Ones(2).Backward());
        Assert.Equal(Torch("implicit_grad_without_requires_grad"), missing.Message);
    }

    // ---- assigning .grad ----

    [Fact]
    public void GradAssignment_OfTheWrongTypeOrSize_OrOfItself()
    {
        Tensor x = Leaf(3);
        // can't assign Variable as its own grad
        var self = Fails<ArgumentException>(() => x.Grad = x);
        Assert.Equal(Torch("grad_assign_self"), self.Message);
        // assigned grad has data of a different type      (type is checked before size, as in PyTorch)
        var type = Fails<ArgumentException>(() => x.Grad = Tensor.Ones(3, DType.Float64));
        Assert.StartsWith(Torch("grad_assign_type"), type.Message);
        var both = Fails<ArgumentException>(() => x.Grad = Tensor.Ones(2, DType.Float64));
        Assert.StartsWith(Torch("grad_assign_type_and_size"), both.Message);
        // assigned grad has data of a different size
        var size = Fails<ArgumentException>(() => x.Grad = Tensor.Ones(4));
        Assert.StartsWith(Torch("grad_assign_size"), size.Message);
        Assert.Contains("torch.Size([4]) vs torch.Size([3])", size.Message); // beyond PyTorch: which sizes
        Assert.Null(x.Grad); // nothing was assigned
    }

    [Fact]
    public void InPlaceWrites_FromASourceThatDoesNotBroadcast()
    {
        // The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0
        Assert.Equal(Torch("copy_broadcast_mismatch"), Fails<ArgumentException>(() => Tensor.Zeros(3).Copy_(Tensor.Ones(4))).Message);
        Assert.Equal(Torch("add_broadcast_mismatch"), Fails<ArgumentException>(() => Tensor.Zeros(3).Add_(Tensor.Ones(4))).Message);
        // output with shape [3] doesn't match the broadcast shape [2, 3]
        Assert.Equal(Torch("add_output_shape"), Fails<ArgumentException>(() => Tensor.Zeros(3).Add_(Tensor.Ones(2, 3))).Message);
    }

    // ---- expand and writes into expanded views ----

    [Fact]
    public void Expand_WithTooFewSizes_AMismatchedSize_OrMinusOneInANewDimension()
    {
        // expand(torch.FloatTensor{[3, 1]}, size=[3]): the number of sizes provided (1) must be greater or equal to the number of dimensions in the tensor (2)
        Assert.Equal(Torch("expand_too_few_sizes"), Fails<ArgumentException>(() => Tensor.Ones(3, 1).Expand(3)).Message);
        // The expanded size of the tensor (4) must match the existing size (3) at non-singleton dimension 1.  Target sizes: [2, 4].  Tensor sizes: [3]
        Assert.Equal(Torch("expand_size"), Fails<ArgumentException>(() => Tensor.Ones(3).Expand(2, 4)).Message);
        // The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension 0
        Assert.Equal(Torch("expand_new_dim_minus_one"), Fails<ArgumentException>(() => Tensor.Ones(3).Expand(-1, 3)).Message);
    }

    [Fact]
    public void InPlaceWrites_IntoAnExpandedView_AreRefused_ButFillIsNot()
    {
        // unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation.
        var add = Fails<InvalidOperationException>(() => Tensor.Ones(1).Expand(3).Add_(Tensor.Ones(3)));
        Assert.Equal("Add_(): " + Torch("expand_add_"), add.Message);
        var copy = Fails<InvalidOperationException>(() => Tensor.Ones(2, 1).Expand(2, 3).Copy_(Tensor.Zeros(2, 3)));
        Assert.Equal("Copy_(): " + Torch("expand_copy_"), copy.Message);
        var mul = Fails<InvalidOperationException>(() => Tensor.Ones(2, 1).Expand(2, 3).Mul_(2.0));
        Assert.Equal("Mul_(): " + Torch("expand_mul_"), mul.Message);
        var assign = Fails<InvalidOperationException>(() => { Tensor t = Tensor.Ones(1, 4).Expand(5, 4); t[1..] = Tensor.Zeros(4, 4); });
        Assert.EndsWith(Torch("expand_copy_"), assign.Message);
        // fill_ and zero_ write one value everywhere: PyTorch allows them, and so do we.
        Tensor b = Tensor.Ones(2, 1);
        b.Expand(2, 3).Zero_();
        Assert.Equal(new[] { 0f, 0f }, b.ToArray<float>());
    }

    // ---- requires_grad ----

    [Fact]
    public void RequiresGrad_OnInt64()
    {
        // Only Tensors of floating point and complex dtype can require gradients      (factory)
        var ex = Fails<InvalidOperationException>(() => Tensor.Zeros(3, DType.Int64, requiresGrad: true));
        Assert.Equal(Torch("requires_grad_int64_factory"), ex.Message);
        // only Tensors of floating point and complex dtype can require gradients      (setter; PyTorch's lower-case "only")
        ex = Fails<InvalidOperationException>(() => Tensor.From(new long[] { 1, 2, 3 }).RequiresGrad = true);
        Assert.Equal(Torch("requires_grad_int64_setter"), ex.Message);
        // only Tensors of floating point dtype can require gradients      (requires_grad_(), PyTorch 1.13's third wording)
        ex = Fails<InvalidOperationException>(() => Tensor.From(new long[] { 1, 2, 3 }).RequiresGrad_());
        Assert.Equal(Torch("requires_grad_int64_method"), ex.Message);
        ex = Fails<InvalidOperationException>(() => Tensor.From(new[] { true }).RequiresGrad_());
        Assert.Equal(Torch("requires_grad_int64_method"), ex.Message);
    }

    [Fact]
    public void RequiresGradFalse_OnANonLeaf()
    {
        // you can only change requires_grad flags of leaf variables. If you want to use a computed variable ...
        var ex = Fails<InvalidOperationException>(() => (Leaf(3) * 2).RequiresGrad_(false));
        Assert.Equal(Torch("requires_grad_false_on_non_leaf"), ex.Message);
    }

    // ---- in-place writes ----

    public static TheoryData<string> LeafInPlaceOps() => new() { "zero_", "add_", "fill_", "mul_", "copy_", "sub_" };

    private static void InPlace(string op, Tensor x)
    {
        switch (op)
        {
            case "zero_": x.Zero_(); break;
            case "add_": x.Add_(Tensor.Ones(3)); break;
            case "fill_": x.Fill_(2.0); break;
            case "mul_": x.Mul_(2.0); break;
            case "copy_": x.Copy_(Tensor.Zeros(3)); break;
            default: x.Sub_(Tensor.Ones(3)); break;
        }
    }

    [Theory]
    [MemberData(nameof(LeafInPlaceOps))]
    public void InPlace_OnALeafThatRequiresGrad(string op)
    {
        // a leaf Variable that requires grad is being used in an in-place operation.
        var ex = Fails<InvalidOperationException>(() => InPlace(op, Leaf(3)));
        Assert.Equal(Torch(op == "sub_" ? "leaf_add_" : "leaf_" + op), ex.Message);
    }

    [Theory]
    [MemberData(nameof(LeafInPlaceOps))]
    public void InPlace_OnALeaf_IsAllowedUnderNoGrad(string op)
    {
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(new[] { 1f, 2f, 3f }, requiresGrad: true);
            using (Autograd.NoGrad()) InPlace(op, x);
            float[] expected = op switch
            {
                "zero_" => [0, 0, 0],
                "add_" => [2, 3, 4],
                "fill_" => [2, 2, 2],
                "mul_" => [2, 4, 6],
                "copy_" => [0, 0, 0],
                _ => [0, 1, 2],
            };
            Assert.Equal(expected, x.ToArray<float>());
            Assert.True(x.RequiresGrad);
            Assert.True(x.IsLeaf);
            // The leaf is still usable in a graph afterwards.
            (x * x).Sum().Backward();
            Assert.Equal(expected.Select(v => 2 * v), x.Grad!.Value.ToArray<float>());
        }
        AssertLibraryStillWorks();
    }

    [Fact]
    public void IndexAssignment_IntoAViewOfALeafThatRequiresGrad()
    {
        // a view of a leaf Variable that requires grad is being used in an in-place operation.
        var ex = Fails<InvalidOperationException>(() =>
        {
            Tensor x = Leaf(2, 3);
            Tensor v = x[0];
            v[1] = Tensor.From(5f);
        });
        Assert.Equal(Torch("assign_into_view_of_leaf"), ex.Message);

        // x[0] = 5 writes through a view of x: PyTorch gives the same message.
        ex = Fails<InvalidOperationException>(() => Leaf(2, 3)[0] = Tensor.From(5f));
        Assert.Equal(Torch("assign_into_leaf"), ex.Message);

        // x.t().zero_()
        ex = Fails<InvalidOperationException>(() => Leaf(2, 3).T().Zero_());
        Assert.Equal(Torch("zero_view_of_leaf"), ex.Message);
    }

    [Fact]
    public void IndexAssignment_IntoALeaf_IsAllowedUnderNoGrad()
    {
        using (Autograd.Scope())
        {
            Tensor x = Leaf(2, 3);
            using (Autograd.NoGrad())
            {
                x[0] = Tensor.From(5f);
                x.T()[2] = Tensor.From(7f);
            }
            Assert.Equal(new[] { 5f, 5f, 7f, 1f, 1f, 7f }, x.ToArray<float>());
            Assert.True(x.IsLeaf);
            (x * 2).Sum().Backward();
            Assert.Equal(Enumerable.Repeat(2f, 6), x.Grad!.Value.ToArray<float>());
        }
        AssertLibraryStillWorks();
    }

    // ---- values saved for backward, modified in place (version counter) ----

    /// <summary>PyTorch's message without its closing hint about anomaly detection.</summary>
    private static string WithoutHint(string scenario)
    {
        string m = Torch(scenario);
        int hint = m.IndexOf(" Hint:", StringComparison.Ordinal);
        return hint < 0 ? m : m[..hint];
    }

    [Fact]
    public void SavedValue_ModifiedByIndexAssignment()
    {
        // ... modified by an inplace operation: [torch.FloatTensor [3]], which is output 0 of torch::autograd::CopySlices, is at version 1; expected version 0 instead.
        var ex = Fails<InvalidOperationException>(() =>
        {
            Tensor a = Leaf(3);
            Tensor b = a * 2;
            Tensor c = b * b;
            b[0] = Tensor.From(5f);
            c.Sum().Backward();
        });
        Assert.Equal(WithoutHint("saved_value_modified_by_assignment"), ex.Message);
    }

    [Fact]
    public void SavedResult_ModifiedBySliceAssignment_NamesTheProducerAtSaveTime()
    {
        // ... [torch.FloatTensor [4, 2]], which is output 0 of ExpBackward0, is at version 1; expected version 0 instead.
        var ex = Fails<InvalidOperationException>(() =>
        {
            Tensor y = Leaf(4, 2).Exp();
            y[1..3] = Tensor.Zeros(2, 2);
            y.Sum().Backward();
        });
        Assert.Equal(WithoutHint("saved_result_modified_by_slice_assignment"), ex.Message);
    }

    [Fact]
    public void SavedValues_ModifiedUnderNoGrad()
    {
        // ... [torch.FloatTensor [3]] is at version 1; expected version 0 instead.     (a leaf: no producer)
        var ex = Fails<InvalidOperationException>(() =>
        {
            Tensor x = Leaf(3);
            Tensor w = Tensor.Ones(3);
            Tensor z = x * w;
            using (Autograd.NoGrad()) w.Add_(Tensor.Ones(3));
            z.Sum().Backward();
        });
        Assert.Equal(WithoutHint("saved_leaf_modified_under_no_grad"), ex.Message);

        // ... [torch.DoubleTensor [3]], which is output 0 of ExpBackward0, is at version 1; expected version 0 instead.
        ex = Fails<InvalidOperationException>(() =>
        {
            Tensor a = Tensor.Ones(3, DType.Float64, requiresGrad: true);
            Tensor b = a.Exp();
            Tensor c = b.Sum();
            using (Autograd.NoGrad()) b[0] = Tensor.From(3.0);
            c.Backward();
        });
        Assert.Equal(WithoutHint("saved_result_modified_under_no_grad"), ex.Message);
    }

    // ---- shapes and dtypes ----

    public static TheoryData<string> ShapeAndDTypeScenarios() => new(ShapeAndDTypeErrors.Keys);

    /// <summary>Scenario → the call; each throws ArgumentException with PyTorch's exact message.</summary>
    private static readonly Dictionary<string, Action> ShapeAndDTypeErrors = new()
    {
        ["mm_shapes"] = () => Tensor.Mm(Tensor.Ones(2, 3), Tensor.Ones(2, 3)),                              // mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)
        ["mm_self_not_matrix"] = () => Tensor.Mm(Tensor.Ones(3), Tensor.Ones(3, 3)),                        // self must be a matrix
        ["mm_mat2_not_matrix"] = () => Tensor.Mm(Tensor.Ones(3, 3), Tensor.Ones(3)),                        // mat2 must be a matrix
        ["mm_dtype"] = () => Tensor.Mm(Tensor.Ones(2, 2), Tensor.Ones(2, 2, DType.Float64)),                // expected scalar type Float but found Double
        ["mv_size"] = () => Tensor.Mv(Tensor.Ones(2, 3), Tensor.Ones(2)),                                   // size mismatch, got 2, 2x3,2
        ["mv_dtype"] = () => Tensor.Mv(Tensor.Ones(2, 2), Tensor.Ones(2, DType.Float64)),                   // expected scalar type Float but found Double
        ["dot_2d"] = () => Tensor.Dot(Tensor.Ones(2, 3), Tensor.Ones(2, 3)),                                // 1D tensors expected, but got 2D and 2D tensors
        ["dot_size"] = () => Tensor.Dot(Tensor.Ones(2), Tensor.Ones(3)),                                    // inconsistent tensor size, expected tensor [2] and src [3] ...
        ["dot_dtype"] = () => Tensor.Dot(Tensor.Ones(2), Tensor.Ones(2, DType.Float64)),                    // dot : expected both vectors to have same dtype, but found Float and Double
        ["matmul_2d_2d"] = () => Tensor.MatMul(Tensor.Ones(2, 3), Tensor.Ones(2, 3)),                       // mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)
        ["matmul_2d_1d"] = () => Tensor.MatMul(Tensor.Ones(2, 3), Tensor.Ones(2)),                          // size mismatch, got 2, 2x3,2
        ["matmul_1d_2d"] = () => Tensor.MatMul(Tensor.Ones(2), Tensor.Ones(3, 3)),                          // mat1 and mat2 shapes cannot be multiplied (1x2 and 3x3)
        ["matmul_1d_1d"] = () => Tensor.MatMul(Tensor.Ones(2), Tensor.Ones(3)),                             // inconsistent tensor size, expected tensor [2] and src [3] ...
        ["broadcast_last_dim"] = () => _ = Tensor.Ones(2, 3) + Tensor.Ones(2),                              // The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1
        ["broadcast_first_dim"] = () => _ = Tensor.Ones(2, 3) * Tensor.Ones(4, 1),                          // The size of tensor a (2) must match the size of tensor b (4) at non-singleton dimension 0
    };

    [Theory]
    [MemberData(nameof(ShapeAndDTypeScenarios))]
    public void ShapeAndDTypeMismatches_NameBothOperands(string scenario)
    {
        var ex = Fails<ArgumentException>(ShapeAndDTypeErrors[scenario]);
        Assert.Equal(Torch(scenario), ex.Message);
    }

    [Fact]
    public void ShapeMismatches_AlsoWhenTheOperandsRequireGrad()
    {
        var ex = Fails<ArgumentException>(() => Tensor.Mm(Leaf(2, 3), Leaf(2, 3)));
        Assert.Equal(Torch("mm_shapes"), ex.Message);
        ex = Fails<ArgumentException>(() => _ = Leaf(2, 3) + Leaf(2));
        Assert.Equal(Torch("broadcast_last_dim"), ex.Message);
    }

    // ---- indexing and views ----

    [Fact]
    public void IndexOutOfRange()
    {
        // index 3 is out of bounds for dimension 0 with size 3
        var ex = Fails<IndexOutOfRangeException>(() => Tensor.Ones(3)[3]);
        Assert.Equal(Torch("index_out_of_range"), ex.Message);
        // index -4 is out of bounds for dimension 0 with size 3
        ex = Fails<IndexOutOfRangeException>(() => Tensor.Ones(3)[-4]);
        Assert.Equal(Torch("index_negative_out_of_range"), ex.Message);
        // index 3 is out of bounds for dimension 1 with size 3
        ex = Fails<IndexOutOfRangeException>(() => Tensor.Ones(2, 3)[1, 3]);
        Assert.Equal(Torch("index_second_dim_out_of_range"), ex.Message);
        ex = Fails<IndexOutOfRangeException>(() => Leaf(2, 3)[1, 3]);
        Assert.Equal(Torch("index_second_dim_out_of_range"), ex.Message);
        // assignment checks the same bounds
        ex = Fails<IndexOutOfRangeException>(() => Tensor.Ones(3)[3] = Tensor.From(1f));
        Assert.Equal(Torch("index_out_of_range"), ex.Message);
    }

    [Fact]
    public void IndexingA0dTensor_AndTooManyIndices()
    {
        // invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ ...
        var ex = Fails<IndexOutOfRangeException>(() => Tensor.From(1f)[0]);
        Assert.StartsWith(FirstSentence("index_0d"), ex.Message);
        Assert.Contains("Item()", ex.Message);
        // too many indices for tensor of dimension 1
        ex = Fails<IndexOutOfRangeException>(() => Tensor.Ones(3)[0, 0]);
        Assert.StartsWith(Torch("too_many_indices"), ex.Message);
        ex = Fails<IndexOutOfRangeException>(() => Tensor.Ones(3)[0, 0] = Tensor.From(1f));
        Assert.StartsWith(Torch("too_many_indices"), ex.Message);
        // too many indices for tensor of dimension 0
        ex = Fails<IndexOutOfRangeException>(() => Tensor.From(1f)[0, 0]);
        Assert.StartsWith(Torch("too_many_indices_0d"), ex.Message);
    }

    [Fact]
    public void SelectOutOfRange()
    {
        // select(): index 5 out of range for tensor of size [2, 3] at dimension 1
        var ex = Fails<IndexOutOfRangeException>(() => Tensor.Ones(2, 3).Select(1, 5));
        Assert.Equal(Torch("select_out_of_range"), ex.Message);
        // select(): index -4 out of range for tensor of size [2, 3] at dimension 1
        ex = Fails<IndexOutOfRangeException>(() => Leaf(2, 3).Select(-1, -4));
        Assert.Equal(Torch("select_negative_dim_out_of_range"), ex.Message);
        // select() cannot be applied to a 0-dim tensor.
        ex = Fails<IndexOutOfRangeException>(() => Tensor.From(1f).Select(0, 0));
        Assert.Equal(Torch("select_0d"), ex.Message);
    }

    [Fact]
    public void DimensionOutOfRange()
    {
        // Dimension out of range (expected to be in range of [-2, 1], but got 2)
        var ex = Fails<IndexOutOfRangeException>(() => Tensor.Ones(2, 3).Transpose(0, 2));
        Assert.Equal(Torch("transpose_dim_out_of_range"), ex.Message);
    }

    [Fact]
    public void T_On3d()
    {
        // t() expects a tensor with <= 2 dimensions, but self is 3D
        var ex = Fails<ArgumentException>(() => Tensor.Zeros([2, 3, 4], requiresGrad: true).T());
        Assert.Equal(Torch("t_3d"), ex.Message);
    }

    [Fact]
    public void Item_OnManyElements()
    {
        // Python says "only one element tensors can be converted to Python scalars"; the library uses
        // libtorch's C++ wording (at::Tensor::item), which names the element count.
        Assert.Equal("only one element tensors can be converted to Python scalars", Torch("item_of_many"));
        var ex = Fails<InvalidOperationException>(() => Tensor.Ones(3).Item());
        Assert.Equal("a Tensor with 3 elements cannot be converted to Scalar", ex.Message);
        ex = Fails<InvalidOperationException>(() => Tensor.Ones(2, 2).Item<float>());
        Assert.Equal("a Tensor with 4 elements cannot be converted to Scalar", ex.Message);
    }

    // ---- lifetimes and threads ----

    [Fact]
    public void TensorUsedAfterItsScopeEnded_NamesTheScope()
    {
        int before = Autograd.PoolStatistics().LiveTensors;
        Tensor t, x;
        int id;
        using (AutogradScope scope = Autograd.Scope())
        {
            id = scope.Id;
            x = Tensor.From(new[] { 1f, 2f }, requiresGrad: true);
            t = (x * 2).Sum();
        }
        Assert.Equal(before, Autograd.PoolStatistics().LiveTensors);
        foreach (Action use in new Action[] { () => t.Sum(), () => _ = t.Shape, () => t.Backward(), () => _ = x.Grad, () => _ = t + x, () => t.Item() })
        {
            var ex = Assert.Throws<ObjectDisposedException>(use);
            Assert.Contains($"when Autograd.Scope #{id} ended", ex.Message);
        }
        AssertLibraryStillWorks();
    }

    [Fact]
    public void DefaultTensor_IsRefused()
    {
        var ex = Fails<InvalidOperationException>(() => default(Tensor).Sum());
        Assert.Contains("default(Tensor)", ex.Message);
        ex = Fails<InvalidOperationException>(() => _ = Tensor.Ones(2) + default(Tensor));
        Assert.Contains("default(Tensor)", ex.Message);
        ex = Fails<InvalidOperationException>(() => _ = default(Tensor).Shape);
        Assert.Contains("default(Tensor)", ex.Message);
        ex = Fails<InvalidOperationException>(() => (Leaf(2) * 2).Backward(default(Tensor)));
        Assert.Contains("default(Tensor)", ex.Message);
    }

    [Fact]
    public void TensorUsedFromAnotherThread_WhileItsGraphIsInUse_IsRefused()
    {
        Tensor mine = Tensor.From(new[] { 1f, 2f }, requiresGrad: true); // this thread holds mine's graph throughout
        Tensor theirs = default;
        Exception? onOtherThread = null, readingHandle = null;
        using var made = new ManualResetEventSlim();
        using var checkedHere = new ManualResetEventSlim();
        Exception? whileTheyHoldIt = null, mixedWhileTheyHoldIt = null;
        var thread = new Thread(() =>
        {
            onOtherThread = Record(() => mine.Sum());
            readingHandle = Record(() => _ = mine.Shape);
            theirs = Tensor.Ones(2); // the other thread's own graph, which it holds until it ends
            made.Set();
            checkedHere.Wait();
        });
        thread.Start();
        made.Wait();
        whileTheyHoldIt = Record(() => theirs.Sum());
        mixedWhileTheyHoldIt = Record(() => _ = mine + theirs);
        checkedHere.Set();
        thread.Join();

        // "This tensor belongs to a graph that thread 1 is using, and is used on thread 5 at the same time."
        Assert.IsType<InvalidOperationException>(onOtherThread);
        Assert.Contains("belongs to a graph that thread", onOtherThread!.Message);
        Assert.Contains("at the same time", onOtherThread.Message);
        Assert.IsType<InvalidOperationException>(readingHandle);
        Assert.IsType<InvalidOperationException>(whileTheyHoldIt);
        Assert.Contains("at the same time", whileTheyHoldIt!.Message);
        Assert.IsType<InvalidOperationException>(mixedWhileTheyHoldIt);

        // Once that thread has ended its graph is free: using it here is sequential, not concurrent. Mixing
        // two graphs in one op is still refused.
        Assert.Equal(2f, theirs.Sum().Item<float>());
        var ex = Fails<InvalidOperationException>(() => _ = mine + theirs);
        Assert.Contains("belong to different graphs", ex.Message);
        ex = Fails<InvalidOperationException>(() => (mine * 2).Backward(theirs));
        Assert.Contains("belong to different graphs", ex.Message);

        // Ours still works on its own thread.
        (mine * mine).Sum().Backward();
        Assert.Equal(new[] { 2f, 4f }, mine.Grad!.Value.ToArray<float>());
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

    private static Exception? Record(Func<object> f) => Record(() => { _ = f(); });

    [Fact]
    public void ScopesDisposedOutOfOrder()
    {
        AutogradScope outer = Autograd.Scope();
        AutogradScope inner = Autograd.Scope();
        try
        {
            Tensor kept = Tensor.Ones(2);
            var ex = Assert.Throws<InvalidOperationException>(() => outer.Dispose());
            Assert.Contains($"Autograd.Scope #{outer.Id} was disposed while scope #{inner.Id} is the innermost open scope", ex.Message);
            // Nothing was released by the refused dispose.
            Assert.Equal(new[] { 1f, 1f }, kept.ToArray<float>());
        }
        finally
        {
            inner.Dispose();
            outer.Dispose();
        }
        // Disposing again is refused too.
        var again = Assert.Throws<InvalidOperationException>(() => outer.Dispose());
        Assert.Contains($"Autograd.Scope #{outer.Id} was disposed", again.Message);
        AssertLibraryStillWorks();
    }

    // ---- helpers ----

    private static Tensor Leaf(params int[] shape) => Tensor.Ones(shape, requiresGrad: true);

    /// <summary>
    /// Runs <paramref name="action"/> in a scope, expects exactly <typeparamref name="TException"/>,
    /// checks nothing leaked from the pool (engine temporaries included), and that a small graph
    /// still computes the right values and gradients.
    /// </summary>
    private static TException Fails<TException>(Action action) where TException : Exception
    {
        int before = Autograd.PoolStatistics().LiveTensors;
        TException ex;
        using (Autograd.Scope()) ex = Assert.Throws<TException>(action);
        Assert.Equal(before, Autograd.PoolStatistics().LiveTensors);
        AssertLibraryStillWorks();
        return ex;
    }

    private static TException Fails<TException>(Func<object> func) where TException : Exception => Fails<TException>(() => { _ = func(); });

    private static void AssertLibraryStillWorks()
    {
        int before = Autograd.PoolStatistics().LiveTensors;
        using (Autograd.Scope())
        {
            Tensor x = Tensor.From(new[] { 1f, 2f, 3f }, requiresGrad: true);
            Tensor w = Tensor.From(new float[,] { { 1, 2 }, { 3, 4 }, { 5, 6 } }, requiresGrad: true);
            // y = Σ (x @ w) * x[0:2] = 22·1 + 28·2
            Tensor y = (Tensor.MatMul(x, w) * x[0..2]).Sum();
            Assert.Equal(78f, y.Item<float>());
            y.Backward();
            // dy/dx = w·[1, 2] + [22, 28, 0];  dy/dw = x ⊗ [1, 2]
            Assert.Equal(new[] { 27f, 39f, 17f }, x.Grad!.Value.ToArray<float>());
            Assert.Equal(new[] { 1f, 2f, 2f, 4f, 3f, 6f }, w.Grad!.Value.ToArray<float>());
        }
        Assert.Equal(before, Autograd.PoolStatistics().LiveTensors);
    }

    private static (Dictionary<string, string>, Dictionary<string, bool>) LoadOracle()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "errors.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        var messages = doc.RootElement.GetProperty("messages").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        var twice = doc.RootElement.GetProperty("backward_twice").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetBoolean());
        return (messages, twice);
    }
}
