namespace AutogradFast.Graph;

/// <summary>Every recorded operation. The engine's switch over this enum is the derivative table.</summary>
internal enum OpKind : byte
{
    Add, AddScalar, Sub, SubScalar, RsubScalar, Mul, MulScalar, Div, DivScalar, Neg, Reciprocal,
    PowScalar, Exp, Log, Tanh, Sigmoid, Relu,
    Sum, Mean, Norm,
    Dot, Mm, Mv,
    T, Transpose, Select, Slice, Unsqueeze, Squeeze, Expand, CopySlices, Copy, Clone, ToCopy,
}

[Flags]
internal enum NodeFlags : byte
{
    None = 0,
    /// <summary>The rule reads saved tensors; after a backward without retainGraph they are gone.</summary>
    SavesValues = 1,
    SavedReleased = 2,
}

/// <summary>
/// One recorded op in the tape's arena. Inputs are referenced twice: by tensor slot (for shapes and
/// saved values) and by edge (the producer to send the gradient to), because an in-place op can give
/// a tensor a new producer after this node was recorded.
/// </summary>
internal struct Node
{
    public const int NoEdge = -1;

    public OpKind Kind;
    public NodeFlags Flags;
    public int Output;            // slot of the result
    public int Input0, Input1;    // slots of the inputs (-1 where absent)
    public int Edge0, Edge1;      // >= 0: producer node; <= -2: leaf slot (-2 - slot); -1: needs no gradient
    public int Saved0, Saved1;    // slots read by the rule (-1 where unused)
    public int SavedVersion0, SavedVersion1;
    public double Scalar;         // exponent, scalar operand, element count ...
    public int Arg0, Arg1;        // dim, index, ...

    public static int LeafEdge(int slot) => -2 - slot;
    public static int LeafSlot(int edge) => -2 - edge;
}

internal static class OpNames
{
    /// <summary>How the user wrote an arithmetic op, for error messages (<c>a - b</c>).</summary>
    public static string Symbol(OpKind kind) => kind switch
    {
        OpKind.Add or OpKind.AddScalar => "a + b",
        OpKind.Sub or OpKind.SubScalar or OpKind.RsubScalar => "a - b",
        OpKind.Mul or OpKind.MulScalar => "a * b",
        OpKind.Div or OpKind.DivScalar => "a / b",
        OpKind.Neg => "-a (Neg())",
        _ => GradFnName(kind),
    };

    /// <summary>PyTorch's grad_fn names, one per op kind.</summary>
    public static string GradFnName(OpKind kind) => kind switch
    {
        OpKind.Add or OpKind.AddScalar => "AddBackward0",
        OpKind.Sub or OpKind.SubScalar => "SubBackward0",
        OpKind.RsubScalar => "RsubBackward1",
        OpKind.Mul or OpKind.MulScalar => "MulBackward0",
        OpKind.Div or OpKind.DivScalar => "DivBackward0",
        OpKind.Neg => "NegBackward0",
        OpKind.Reciprocal => "ReciprocalBackward0",
        OpKind.PowScalar => "PowBackward0",
        OpKind.Exp => "ExpBackward0",
        OpKind.Log => "LogBackward0",
        OpKind.Tanh => "TanhBackward0",
        OpKind.Sigmoid => "SigmoidBackward0",
        OpKind.Relu => "ReluBackward0",
        OpKind.Sum => "SumBackward0",
        OpKind.Mean => "MeanBackward0",
        OpKind.Norm => "NormBackward1",
        OpKind.Dot => "DotBackward0",
        OpKind.Mm => "MmBackward0",
        OpKind.Mv => "MvBackward0",
        OpKind.T => "TBackward0",
        OpKind.Transpose => "TransposeBackward0",
        OpKind.Select => "SelectBackward0",
        OpKind.Slice => "SliceBackward0",
        OpKind.Unsqueeze => "UnsqueezeBackward0",
        OpKind.Squeeze => "SqueezeBackward3",
        OpKind.Expand => "ExpandBackward0",
        OpKind.CopySlices => "CopySlices",
        OpKind.Copy => "CopyBackwards",
        OpKind.Clone => "CloneBackward0",
        OpKind.ToCopy => "ToCopyBackward0",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "op kind without a grad_fn name"),
    };
}
