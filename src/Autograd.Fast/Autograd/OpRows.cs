using AutogradFast.Ops;

namespace AutogradFast.Graph;

/// <summary>What a node keeps for its rule (PyTorch saves exactly these, so the same graphs may be walked twice).</summary>
[Flags]
internal enum Saves : byte
{
    None = 0,
    /// <summary>The first input (<c>self</c>).</summary>
    Self = 1,
    /// <summary>The second input (<c>other</c>).</summary>
    Other = 2,
    /// <summary>The output (<c>result</c>).</summary>
    Result = 4,
    /// <summary><c>self</c>, only when the second input needs a gradient (mul: other's gradient is grad * self).</summary>
    SelfForOther = 8,
    /// <summary><c>other</c>, only when the first input needs a gradient.</summary>
    OtherForSelf = 16,
    /// <summary>Only scalars, which PyTorch keeps as tensors and frees after backward (the graph cannot be walked twice).</summary>
    Scalars = 32,
}

/// <summary>
/// Everything about one op kind: PyTorch's grad_fn name, what it saves, and its backward rule. The
/// rule is written with the library's own differentiable ops (<see cref="Var"/>), like a line of
/// derivatives.yaml, so the same rule runs with recording off in a plain backward and records its own
/// graph under <c>createGraph</c>.
/// </summary>
internal readonly unsafe struct OpRow
{
    public readonly string Name;
    public readonly Saves Saves;
    public readonly delegate*<ref Backward, void> Rule;

    public OpRow(string name, Saves saves, delegate*<ref Backward, void> rule)
    {
        Name = name;
        Saves = saves;
        Rule = rule;
    }
}

/// <summary>
/// The derivative table: one row per op kind, each declared next to its op in the op family's file.
/// <see cref="Declared"/> is a switch without a default arm, so the compiler refuses an op kind that has
/// no row (CS8509), and nothing falls through to another op's formula.
/// </summary>
internal static class OpRows
{
    private static readonly OpRow[] s_rows = Build();

    public static ref readonly OpRow Of(OpKind kind) => ref s_rows[(int)kind];

    /// <summary>The table itself, for <see cref="Storage.TensorContext.Rows"/>.</summary>
    internal static OpRow[] All => s_rows;

    public static string GradFnName(OpKind kind) => s_rows[(int)kind].Name;

    /// <summary>How the user wrote an arithmetic op, for error messages (<c>a - b</c>).</summary>
    public static string Symbol(OpKind kind) => kind switch
    {
        OpKind.Add or OpKind.AddScalar or OpKind.AddAlpha => "a + b",
        OpKind.Sub or OpKind.SubScalar or OpKind.RsubScalar => "a - b",
        OpKind.Mul or OpKind.MulScalar => "a * b",
        OpKind.Div or OpKind.DivScalar => "a / b",
        OpKind.Neg => "-a (Neg())",
        _ => GradFnName(kind),
    };

    private static OpRow[] Build()
    {
        OpKind[] kinds = Enum.GetValues<OpKind>();
        var rows = new OpRow[kinds.Length];
        foreach (OpKind kind in kinds) rows[(int)kind] = Declared(kind);
        return rows;
    }

#pragma warning disable CS8524 // only unnamed enum values are unhandled: every named kind must have an arm (CS8509 stays an error)
    private static OpRow Declared(OpKind kind) => kind switch
    {
        OpKind.Add => Arithmetic.AddRow,
        OpKind.AddScalar => Arithmetic.AddScalarRow,
        OpKind.AddAlpha => Arithmetic.AddAlphaRow,
        OpKind.Sub => Arithmetic.SubRow,
        OpKind.SubScalar => Arithmetic.SubScalarRow,
        OpKind.RsubScalar => Arithmetic.RsubScalarRow,
        OpKind.Mul => Arithmetic.MulRow,
        OpKind.MulScalar => Arithmetic.MulScalarRow,
        OpKind.Div => Arithmetic.DivRow,
        OpKind.DivScalar => Arithmetic.DivScalarRow,
        OpKind.Neg => Arithmetic.NegRow,
        OpKind.Reciprocal => Arithmetic.ReciprocalRow,
        OpKind.PowScalar => Exponential.PowRow,
        OpKind.Exp => Exponential.ExpRow,
        OpKind.Log => Exponential.LogRow,
        OpKind.Tanh => Exponential.TanhRow,
        OpKind.Sigmoid => Exponential.SigmoidRow,
        OpKind.Relu => Exponential.ReluRow,
        OpKind.ScaledMul => Arithmetic.ScaledMulRow,
        OpKind.DoubledProduct => Arithmetic.DoubledProductRow,
        OpKind.Sum => Reduction.SumRow,
        OpKind.Mean => Reduction.MeanRow,
        OpKind.Norm => Reduction.NormRow,
        OpKind.SumToSize => Reduction.SumToSizeRow,
        OpKind.SumToSizeView => Reduction.SumToSizeViewRow,
        OpKind.SumToScalar => Reduction.SumToScalarRow,
        OpKind.Dot => Products.DotRow,
        OpKind.Mm => Products.MmRow,
        OpKind.Mv => Products.MvRow,
        OpKind.T => Views.TRow,
        OpKind.Transpose => Views.TransposeRow,
        OpKind.Select => Views.SelectRow,
        OpKind.Slice => Views.SliceRow,
        OpKind.Unsqueeze => Views.UnsqueezeRow,
        OpKind.Squeeze => Views.SqueezeRow,
        OpKind.SqueezeInPlace => Views.SqueezeInPlaceRow,
        OpKind.Expand => Views.ExpandRow,
        OpKind.CopySlices => Views.CopySlicesRow,
        OpKind.Copy => InPlace.CopyRow,
        OpKind.Zero => InPlace.ZeroRow,
        OpKind.Fill => InPlace.FillRow,
        OpKind.Clone => Copies.CloneRow,
        OpKind.ToCopy => Copies.ToCopyRow,
        OpKind.Where => Selection.WhereRow,
        OpKind.PowBackward => Exponential.PowBackwardRow,
        OpKind.TanhBackward => Exponential.TanhBackwardRow,
        OpKind.SigmoidBackward => Exponential.SigmoidBackwardRow,
        OpKind.ThresholdBackward => Exponential.ThresholdBackwardRow,
        OpKind.RegionScatter => Regions.ScatterRow,
        OpKind.RegionOf => Regions.RegionOfRow,
        OpKind.RegionZeroed => Regions.ZeroedRow,
        OpKind.SelectBackward => Regions.SelectBackwardRow,
        OpKind.SliceBackward => Regions.SliceBackwardRow,
        OpKind.MakeDual => Copies.MakeDualRow,
        OpKind.Custom => FunctionContext.Row,
        OpKind.CustomOutput => FunctionContext.OutputRow,
    };
#pragma warning restore CS8524
}
