namespace AutogradFast.Graph;

/// <summary>
/// Every recorded operation, forward ops and the fused backward kernels that have derivatives of their
/// own (<see cref="TanhBackward"/> is what <see cref="Tanh"/>'s rule computes, as PyTorch's
/// TanhBackward). Each has exactly one row in <see cref="OpRows"/>.
/// </summary>
internal enum OpKind : byte
{
    Add, AddScalar, AddAlpha, Sub, SubScalar, RsubScalar, Mul, MulScalar, Div, DivScalar, Neg, Reciprocal,
    PowScalar, Exp, Log, Tanh, Sigmoid, Relu,
    Sum, Mean, Norm,
    // sum_to_size named as PyTorch's sum_to names its last op: sum(dims, keepdim), then a view when
    // leading dims go, or sum() into a 0-d tensor
    SumToSize, SumToSizeView, SumToScalar,
    ScaledMul, DoubledProduct,
    Dot, Mm, Mv,
    T, Transpose, Select, Slice, Unsqueeze, Squeeze, SqueezeInPlace, Expand,
    CopySlices, Copy, Clone, ToCopy, Where,
    // in-place writes of a constant (zero_, fill_): the old value gets no gradient
    Zero, Fill,
    // fused backward kernels, differentiable in turn
    PowBackward, TanhBackward, SigmoidBackward, ThresholdBackward,
    RegionScatter, RegionOf, RegionZeroed, SelectBackward, SliceBackward,
    // forward mode: make_dual is a view of the primal (ViewBackward0)
    MakeDual,
    // a user's custom function (CustomFunction.cs): its node, and one per differentiable output; their
    // context (per node, TensorContext.FunctionOf) holds the rules
    Custom, CustomOutput,
}

[Flags]
internal enum NodeFlags : byte
{
    None = 0,
    /// <summary>The rule reads saved tensors; after a backward without retainGraph they are gone.</summary>
    SavesValues = 1,
    SavedReleased = 2,
    /// <summary>Its output has gradient hooks or retains its gradient, bound to this node (Hooks.cs runs them).</summary>
    HasTensorHooks = 128,
}

/// <summary>Where an input's gradient goes: its producer node (&gt;= 0), its leaf accumulator (&lt;= -2), or nowhere (-1).</summary>
internal struct NodeInput
{
    public int Slot;   // the input tensor (its shape and dtype are what the gradient must have)
    public int Edge;
}

/// <summary>A tensor a rule reads, with the version its storage had when it was saved.</summary>
internal struct SavedValue
{
    public int Slot;   // -1: not saved
    public int Version;

    public static readonly SavedValue None = new() { Slot = -1 };
}

/// <summary>
/// One recorded op in the tape's arena. Two inputs live inline, more in the context's side arena
/// (<see cref="Storage.TensorContext.NodeInputs"/>); the saved values are named by role (the first
/// input, the second input, the result), as derivatives.yaml names <c>self</c>, <c>other</c> and
/// <c>result</c>. Inputs are referenced twice, by slot (shape, dtype) and by edge (the producer to send
/// the gradient to), because an in-place op can give a tensor a new producer after this node was recorded.
/// </summary>
internal struct Node
{
    public const int NoEdge = -1;

    public OpKind Kind;
    public NodeFlags Flags;
    public byte InputCount;
    public int Output;                   // slot of the result
    public NodeInput In0, In1;           // inputs 0 and 1, adjacent (the engine reads them by index; NodeLayoutTests); inputs 2.. at NodeInputs[MoreInputs + i - 2]
    public int MoreInputs;
    public SavedValue Self, Other, Result;
    public int Args;                     // start of this node's integers in the side arena (geometries), or -1
    public double Scalar;                // exponent, scalar operand, element count ...
    public int Arg0, Arg1;               // dim, index, ...

    public static int LeafEdge(int slot) => -2 - slot;
    public static int LeafSlot(int edge) => -2 - edge;
}
