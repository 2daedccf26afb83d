using System.Runtime.CompilerServices;
using AutogradFast.Graph;
using AutogradFast.Storage;

namespace AutogradFast;

/// <summary>
/// A tensor: a 16-byte handle (owner, slot, generation) to a record in its thread's
/// <see cref="TensorContext"/>. Copying a handle copies no data; a handle whose scope has ended
/// throws <see cref="ObjectDisposedException"/> instead of reading reused memory.
/// </summary>
public readonly partial struct Tensor
{
    // The context, or for a tensor of the root scope a lease on it: while any copy of this handle is
    // reachable the tensor is kept, and once none is the root scope may reclaim it (RootScopeCollector.cs).
    private readonly HandleOwner? _owner;

    // Slot and generation packed in one field: a handle returned by value is then built in two
    // registers. As two int fields, NativeAOT's code stored them separately and reloaded them as one
    // 8-byte value, a store-forwarding stall on every op that returns a tensor.
    private readonly long _slotAndGeneration;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every op's last step (README, "Inlining")
    internal Tensor(TensorContext context, int slot)
    {
        ref TensorRecord r = ref context.Records[slot];
        _slotAndGeneration = (uint)slot | ((long)r.Generation << 32);
        _owner = r.ScopeDepth == 0 ? context.Lease(slot, r.Generation) : context;
    }

    internal TensorContext? Context
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            return _owner?.Context; // one load, whichever owner it is
        }
    }

    /// <summary>
    /// Whether this handle is a live tensor of <paramref name="c"/>, a context this thread already holds
    /// (a second operand's check: no thread check again). False sends the caller to the full check, <see cref="Ctx"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool IsLiveIn(TensorContext c) => ReferenceEquals(Context, c) && c.Records[Slot].Generation == Generation;

    internal int Slot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (int)_slotAndGeneration;
    }

    internal int Generation
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (int)(_slotAndGeneration >> 32);
    }

    /// <summary>The live context of this handle, after checking thread, scope and generation.</summary>
    internal TensorContext Ctx
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            // The thread's current context (a [ThreadStatic] read the JIT inlines) is the fast path;
            // another context is entered if this thread may hold it (ContextOwnership.cs).
            TensorContext? c = Context;
            if (c is null || c != TensorContext.CurrentOrNull || c.Records[Slot].Generation != Generation) return Enter(this);
            return c;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static TensorContext Enter(Tensor t)
    {
        TensorContext? c = t.Context;
        if (c is null || !TensorContext.TryEnter(c) || c.Records[t.Slot].Generation != t.Generation) ThrowHelper.InvalidHandle(t);
        // Entering may collect the root scope (RootScopeCollector.cs): the handle being checked must
        // count as held through it, even when the caller's copy is a temporary the JIT considers dead.
        GC.KeepAlive(t._owner);
        return c!;
    }

    internal ref TensorRecord Record
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref Ctx.Records[Slot];
    }

    // ---- properties --------------------------------------------------------------------------

    public DType DType => Record.DType;

    /// <summary>The shape (<c>x.shape</c>); prints as <c>torch.Size([2, 1])</c>.</summary>
    public Size Shape
    {
        get
        {
            ref TensorRecord r = ref Record;
            return new Size(r.Shape, r.Rank);
        }
    }

    /// <summary><c>x.size()</c></summary>
    public Size Size() => Shape;

    /// <summary><c>x.size(dim)</c>; negative dims count from the end.</summary>
    public int Size(int dim)
    {
        ref TensorRecord r = ref Record;
        return r.Shape[NormalizeDim(dim, r.Rank)];
    }

    /// <summary><c>x.dim()</c></summary>
    public int Dim() => Record.Rank;

    /// <summary><c>x.numel()</c></summary>
    public int NumEl() => Record.NumEl;

    /// <summary><c>len(x)</c>: the size of the first dimension.</summary>
    public int Length
    {
        get
        {
            ref TensorRecord r = ref Record;
            if (r.Rank == 0) ThrowHelper.LengthOfScalar();
            return r.Shape[0];
        }
    }

    /// <summary>
    /// Whether autograd records operations on this tensor. Setting it follows <see cref="RequiresGrad_"/>'s
    /// rules (PyTorch words the non-floating-point error differently for each; we follow).
    /// </summary>
    public bool RequiresGrad
    {
        get => (Record.Flags & TensorFlags.RequiresGrad) != 0;
        set => SetRequiresGrad(value, RequiresGradCall.Setter);
    }

    /// <summary>
    /// <c>x.requires_grad_(flag)</c>; returns this tensor. Only leaves may change it: turning it off on a
    /// computed tensor is an error (use <see cref="Detach"/>), turning it on is a no-op there (it already
    /// requires grad). Only floating-point tensors can require grad, and an inference tensor only
    /// inside <see cref="Autograd.InferenceMode"/>.
    /// </summary>
    public Tensor RequiresGrad_(bool requiresGrad = true) => SetRequiresGrad(requiresGrad, RequiresGradCall.Method);

    /// <summary>Which of PyTorch's three wordings a non-floating-point tensor gets.</summary>
    internal enum RequiresGradCall { Factory, Setter, Method }

    internal Tensor SetRequiresGrad(bool requiresGrad, RequiresGradCall call)
    {
        TensorContext c = Ctx;
        ref TensorRecord r = ref c.Records[Slot];
        if (r.Node >= 0)
        {
            if (!requiresGrad) ThrowHelper.RequiresGradOnNonLeaf();
            return this;
        }
        if (requiresGrad && !r.DType.IsFloatingPoint())
        {
            if (call == RequiresGradCall.Factory) ThrowHelper.RequiresGradNotFloatingPoint();
            if (call == RequiresGradCall.Setter) ThrowHelper.RequiresGradNotFloatingPointSetter();
            ThrowHelper.RequiresGradNotFloatingPointMethod();
        }
        if (requiresGrad && (r.Flags & TensorFlags.IsInference) != 0 && !c.InferenceMode) ThrowHelper.RequiresGradOnInferenceTensor();
        if (requiresGrad) r.Flags |= TensorFlags.RequiresGrad;
        else r.Flags &= ~TensorFlags.RequiresGrad;
        return this;
    }

    /// <summary>
    /// <c>x.is_inference()</c>: made inside <see cref="Autograd.InferenceMode"/> (or a view of such a
    /// tensor). It can be read and used in ops anywhere, but never saved for backward nor written in
    /// place outside inference mode; <see cref="Clone"/> gives a normal tensor.
    /// </summary>
    public bool IsInference => (Record.Flags & TensorFlags.IsInference) != 0;

    /// <summary>True for tensors the user created (no grad_fn), as in PyTorch.</summary>
    public bool IsLeaf => Record.Node < 0;

    /// <summary>PyTorch's name of the node that produced this tensor (<c>MulBackward0</c>), or null.</summary>
    public string? GradFn
    {
        get
        {
            TensorContext c = Ctx;
            if (c.GradEnabled) Recorder.RefreshView(c, Slot); // a view whose base was written in place since: its grad_fn is regenerated, as in PyTorch
            int node = c.Records[Slot].Node;
            return node < 0 ? null : c.NodeName(node);
        }
    }

    /// <summary>
    /// The accumulated gradient of a leaf; null before the first backward reaches it and on
    /// non-leaves (as in PyTorch). Setting null lets go of it (its buffer returns to the pool unless
    /// another tensor still holds it, so an old handle to it then throws); the next backward starts
    /// afresh. An assigned gradient must match this tensor's dtype and shape, and takes this tensor's
    /// lifetime: it outlives the scope it was made in (<c>p.Grad = p.Grad.Value * 0.5</c> in a step).
    /// </summary>
    public Tensor? Grad
    {
        get
        {
            TensorContext c = Ctx;
            int g = c.Records[Slot].GradSlot;
            return g < 0 ? null : new Tensor(c, g);
        }
        set
        {
            TensorContext c = Ctx;
            if (value is null)
            {
                c.SetGrad(Slot, -1);
                return;
            }
            Tensor g = value.Value;
            if (g.Ctx != c) ThrowHelper.ForeignTensor<int>();
            if (g.Slot == Slot) ThrowHelper.GradIsSelf();
            ref TensorRecord gr = ref c.Records[g.Slot];
            if (gr.DType != c.Records[Slot].DType) ThrowHelper.GradDTypeMismatch(gr.DType, DType);
            if (g.Shape != Shape) ThrowHelper.GradShapeMismatch(g.Shape, Shape);
            c.SetGrad(Slot, Ops.OpSupport.HoldableAsGrad(c, g.Slot));
        }
    }

    /// <summary>A tensor sharing this one's data but cut off from the graph (<c>x.detach()</c>).</summary>
    public Tensor Detach()
    {
        TensorContext c = Ctx;
        ref TensorRecord r = ref c.Records[Slot];
        Dims strides = r.Strides;
        int view = c.NewView(Slot, new Size(r.Shape, r.Rank).AsSpan(), strides, r.Offset);
        c.Records[view].Flags &= ~(TensorFlags.IsView | TensorFlags.ViewOfGradLeaf);
        return new Tensor(c, view);
    }

    /// <summary>
    /// <c>x.detach_()</c>: this tensor leaves the graph in place and becomes a leaf that does not
    /// require grad (nodes already recorded from it keep working). A view cannot: use <see cref="Detach"/>.
    /// </summary>
    public Tensor Detach_()
    {
        ref TensorRecord r = ref Record;
        if ((r.Flags & TensorFlags.IsView) != 0) ThrowHelper.DetachViewInPlace();
        r.Node = -1;
        r.Flags &= ~TensorFlags.RequiresGrad;
        return this;
    }

    // ---- truthiness, so `while (b.Norm() < 1000)` and `if (b.Sum() > 0)` read as in Python ----

    public static bool operator true(Tensor t) => t.ToBoolean();

    public static bool operator false(Tensor t) => !t.ToBoolean();

    /// <summary><c>bool(t)</c> for a one-element tensor.</summary>
    public bool ToBoolean()
    {
        if (NumEl() != 1) ThrowHelper.AmbiguousBoolean(NumEl());
        return Item() != 0;
    }

    public override bool Equals(object? obj) => obj is Tensor t && t.Context == Context && t.Slot == Slot && t.Generation == Generation;

    public override int GetHashCode() => HashCode.Combine(Slot, Generation);

    public override string ToString() => TensorPrinter.Repr(this);

    internal static int NormalizeDim(int dim, int rank)
    {
        int r = Math.Max(rank, 1);
        if (dim < -r || dim >= r) ThrowHelper.DimOutOfRange(dim, rank);
        return dim < 0 ? dim + r : dim;
    }
}
