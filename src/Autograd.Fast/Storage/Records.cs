using System.Runtime.CompilerServices;

namespace AutogradFast.Storage;

[Flags]
internal enum TensorFlags : byte
{
    None = 0,
    Live = 1,
    RequiresGrad = 2,
    /// <summary>Shares another tensor's storage (index, transpose, ...); in-place writes go through to the base.</summary>
    IsView = 4,
    /// <summary>A view whose base is a leaf that requires grad: in-place writes are refused, as in PyTorch.</summary>
    ViewOfGradLeaf = 8,
    /// <summary>During a backward with inputs (or Autograd.Grad): a tensor whose gradient is wanted.</summary>
    IsTarget = 16,
    /// <summary>Has hooks or retains its gradient (TensorHooks.cs): the engine and the release path look in the side table only then.</summary>
    HasHooks = 32,
    /// <summary>Holds a forward-mode tangent in the context's side table (only while a dual level is active).</summary>
    HasTangent = 128,
    /// <summary>Made in inference mode (or a view of such a tensor): never saved for backward, never written in place outside inference mode.</summary>
    IsInference = 64,
}

/// <summary>Everything a <see cref="Tensor"/> handle points at. Lives in the owner's slot array, not in an object.</summary>
internal struct TensorRecord
{
    // First cache line: what every op reads (the records sit 64-byte aligned, 128 bytes each).
    public int Generation;       // bumped on release; a handle with an older one is stale
    public int Storage;          // >= 0: index into the context's storages; < 0: inline data of slot -(Storage + 1),
                                 // or, at or below PendingBase, a deferred expression (see Fusion)
    public int Offset;           // in elements
    public int NumEl;
    public DType DType;
    public byte Rank;
    public TensorFlags Flags;
    public bool IsContiguous;    // row-major dense for its shape (size-1 dims may have any stride), as is_contiguous(): kept where shape and strides are written (TensorContext)
    public int Node;             // producing node, -1 for leaves and for tensors without history
    public int GradSlot;         // leaf's .Grad, -1 until the first backward reaches it
    public int ScopeDepth;       // owning scope frame; EngineTemporary, RuleTemporary, or OwnedByLeaves (a .Grad alone keeps it)
    public Dims Shape;
    // Second cache line.
    public Dims Strides;
    public int InlineVersion;    // version counter of inline data (pooled storages keep theirs in StorageRecord)
    public int ReleasedByScope;  // id of the scope whose end released this slot (diagnostics for stale handles)
    public long Inline0, Inline1; // data of tiny tensors (up to 16 bytes) lives here, not in the pool
    public int GradHolders;      // how many tensors have this one as their .Grad or their tangent (it outlives its scope while > 0)
    public int InlineViews;      // views of this record's inline data: a released record's data lives on until they are gone

    /// <summary>Tiny tensors keep their elements in their own record: no pool round trip for scalars.</summary>
    public const int InlineBytes = 16;

    /// <summary>Storage values at or below this encode a deferred expression: <c>PendingBase - expression</c>.</summary>
    public const int PendingBase = -(1 << 30) - 2;

    /// <summary><see cref="ScopeDepth"/> of an engine temporary: whoever made it releases it.</summary>
    public const int EngineTemporary = -1;

    /// <summary><see cref="ScopeDepth"/> of what the engine's gradient computation makes in a plain backward: released unless kept.</summary>
    public const int RuleTemporary = -3;

    /// <summary><see cref="ScopeDepth"/> of a tensor that lives only as some leaves' <c>.Grad</c>: released when the last lets go.</summary>
    public const int OwnedByLeaves = -2;

    /// <summary><see cref="ReleasedByScope"/> of a .Grad released because no tensor holds it any more.</summary>
    public const int ReleasedAsGrad = -2;

    /// <summary>Storage of a released slot.</summary>
    public const int Released = int.MinValue;

    public readonly bool IsInline
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Storage < 0 && Storage > PendingBase;
    }

    /// <summary>Not computed yet: the value is a deferred elementwise expression, evaluated when read.</summary>
    public readonly bool IsPending
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Storage <= PendingBase && Storage != Released;
    }

    public readonly int PendingExpression => PendingBase - Storage;

    /// <summary>The slot whose record holds the inline data (this tensor's, or its base's for a view).</summary>
    public readonly int InlineOwner => -(Storage + 1);

    /// <summary>Contiguous memory that is this tensor's alone (not a view): what in-place gradient writes need.</summary>
    public readonly bool OwnsDenseMemory => IsContiguous && (Flags & TensorFlags.IsView) == 0;

    /// <summary>What <see cref="IsContiguous"/> says, computed from the shape and strides (where they are written).</summary>
    public readonly bool LayoutIsContiguous()
    {
        int expected = 1;
        for (int i = Rank - 1; i >= 0; i--)
        {
            if (Shape[i] != 1 && Strides[i] != expected) return false;
            expected *= Shape[i];
        }
        return true;
    }
}

/// <summary>A pooled buffer shared by a tensor and its views, with PyTorch's version counter.</summary>
internal struct StorageRecord
{
    public nint Pointer;
    public int SizeClass;
    public int RefCount;   // tensor slots that point here; the buffer returns to the pool at zero
    public int Version;    // bumped by every in-place write; saved values compare it at backward
    public int PendingReaders; // deferred expressions that read this buffer: a write must evaluate them first
}

/// <summary>An open scope: what it owns goes back to the pool when it ends.</summary>
internal struct ScopeFrame
{
    public int Id;
    public int NodeStart;        // the tape, and its side arenas, are cut back to these when it ends
    public int NodeInputStart;
    public int NodeArgStart;
    public int[] OwnedSlots;
    public int OwnedCount;
}
