using System.Runtime.CompilerServices;
using AutogradFast.Graph;
using System.Runtime.InteropServices;

namespace AutogradFast.Storage;

/// <summary>
/// The owner behind every <see cref="Tensor"/> handle of one thread: tensor slots, storages, the
/// scope stack and the tape's node arena. One per thread, so nothing here takes a lock; a handle from
/// another thread's context is refused by <see cref="Tensor"/>.
/// </summary>
internal sealed unsafe class TensorContext
{
    [ThreadStatic] private static TensorContext? t_current;

    public static TensorContext Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => t_current ?? CreateForThisThread();
    }

    /// <summary>This thread's context if it has one (handle checks must not create one).</summary>
    public static TensorContext? CurrentOrNull
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => t_current;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static TensorContext CreateForThisThread() => t_current = new TensorContext();

    public readonly int OwnerThreadId = Environment.CurrentManagedThreadId;
    public readonly NativeBufferPool Pool = new();

    public PagedArray<TensorRecord> Records;
    private int _recordCount;
    private int[] _freeSlots = new int[256];
    private int _freeSlotCount;

    public PagedArray<StorageRecord> Storages;
    private int _storageCount;
    private int[] _freeStorages = new int[256];
    private int _freeStorageCount;

    public PagedArray<Node> Nodes;
    public int NodeCount;

    /// <summary>Deferred elementwise expressions (<see cref="Ops.Fusion"/>) and their free list.</summary>
    public PagedArray<Ops.Expression> Expressions;
    private int _expressionCount;
    private int[] _freeExpressions = new int[64];
    private int _freeExpressionCount;

    /// <summary>Elementwise results with at least this many elements are deferred and fused (tests lower it).</summary>
    public int FusionMinElements = Ops.Fusion.DefaultMinElements;

    private ScopeFrame[] _frames = new ScopeFrame[8];
    private int _depth; // index of the innermost open frame; 0 is the thread's root scope
    private int _nextScopeId = 1;

    public bool GradEnabled = true;

    /// <summary>The engine's per-node gradient waiting to be consumed (-1: none), indexed like the tape.</summary>
    public int[] PendingGradients = [];

    /// <summary>Live tensor slots (a pool-growth test watches this with <see cref="NativeBufferPool.BytesOwned"/>).</summary>
    public int LiveSlotCount => _recordCount - _freeSlotCount;

    private TensorContext()
    {
        _frames[0] = new ScopeFrame { Id = 0, NodeStart = 0, OwnedSlots = [], OwnedCount = 0 };
    }

    ~TensorContext()
    {
        // The thread is gone and nothing can reach its tensors: give the native memory back.
        for (int i = 0; i < _storageCount; i++)
        {
            if (Storages[i].RefCount > 0) NativeMemory.AlignedFree((void*)Storages[i].Pointer);
        }
        Pool.Dispose();
    }

    // ---- storages ----------------------------------------------------------------------------

    public int NewStorage(long bytes, bool zero)
    {
        int sizeClass = NativeBufferPool.SizeClass(bytes);
        nint p = Pool.Rent(sizeClass);
        if (zero) NativeMemory.Clear((void*)p, (nuint)bytes);
        int index;
        if (_freeStorageCount > 0) index = _freeStorages[--_freeStorageCount];
        else
        {
            Storages.EnsureCapacity(_storageCount);
            index = _storageCount++;
        }
        Storages[index] = new StorageRecord { Pointer = p, SizeClass = sizeClass, RefCount = 0, Version = 0 };
        return index;
    }

    private void ReleaseStorageReference(int storage)
    {
        ref StorageRecord s = ref Storages[storage];
        if (--s.RefCount > 0) return;
        Pool.Return(s.Pointer, s.SizeClass);
        s.Pointer = 0;
        if (_freeStorageCount == _freeStorages.Length) Array.Resize(ref _freeStorages, _freeStorages.Length * 2);
        _freeStorages[_freeStorageCount++] = storage;
    }

    // ---- tensor slots ------------------------------------------------------------------------

    /// <summary>A new contiguous tensor in the innermost scope (or as an engine temporary).</summary>
    public int NewTensor(DType dtype, ReadOnlySpan<int> shape, bool zero, bool temporary = false)
    {
        int numel = Dims.NumEl(shape);
        long bytes = (long)numel * dtype.ElementSize();
        int slot = NewSlot(bytes <= TensorRecord.InlineBytes ? -1 : NewStorage(bytes, zero), dtype, shape, 0, numel, temporary ? -1 : _depth);
        ref TensorRecord r = ref Records[slot];
        if (r.Storage == -1)
        {
            r.Storage = -(slot + 1);
            r.InlineVersion = 0;
            if (zero) r.Inline0 = r.Inline1 = 0;
        }
        else Storages[r.Storage].RefCount++;
        WriteContiguousStrides(ref r);
        return slot;
    }

    /// <summary>Gives a contiguous tensor another shape of the same element count (its strides follow).</summary>
    public void ReshapeContiguous(int slot, ReadOnlySpan<int> shape)
    {
        ref TensorRecord r = ref Records[slot];
        if (shape.Length > Dims.MaxRank) ThrowHelper.RankTooLarge(shape.Length);
        r.Rank = (byte)shape.Length;
        for (int i = 0; i < shape.Length; i++) r.Shape[i] = shape[i];
        WriteContiguousStrides(ref r);
    }

    private static void WriteContiguousStrides(ref TensorRecord r)
    {
        int stride = 1;
        for (int i = r.Rank - 1; i >= 0; i--)
        {
            r.Strides[i] = stride;
            stride *= r.Shape[i];
        }
    }

    /// <summary>
    /// A view of <paramref name="baseSlot"/>'s storage with its own shape, strides and offset. An
    /// engine temporary of a tiny base is a copy instead: the base's record, which holds the data,
    /// may be released before the temporary.
    /// </summary>
    public int NewView(int baseSlot, ReadOnlySpan<int> shape, in Dims strides, int offset, bool temporary = false)
    {
        ref TensorRecord b = ref Records[baseSlot];
        if (b.IsPending) Materialize(baseSlot); // a view shares memory: there has to be some
        if (temporary && b.IsInline) return InlineCopy(baseSlot, shape, strides, offset);
        int slot = NewSlot(b.Storage, b.DType, shape, offset, Dims.NumEl(shape), temporary ? -1 : _depth);
        ref TensorRecord v = ref Records[slot];
        for (int i = 0; i < v.Rank; i++) v.Strides[i] = strides[i];
        if (v.Storage >= 0) Storages[v.Storage].RefCount++;
        v.Flags |= TensorFlags.IsView;
        ref TensorRecord baseRecord = ref Records[baseSlot];
        bool baseIsGradLeaf = (baseRecord.Flags & TensorFlags.RequiresGrad) != 0 && baseRecord.Node < 0;
        if (baseIsGradLeaf || (baseRecord.Flags & TensorFlags.ViewOfGradLeaf) != 0) v.Flags |= TensorFlags.ViewOfGradLeaf;
        return slot;
    }

    /// <summary>
    /// An engine temporary of <paramref name="shapeSlot"/>'s shape whose every element is the single
    /// value of <paramref name="valueSlot"/> (strides 0): a gradient that is one value repeated,
    /// without writing it out. Its value lives in a pooled buffer so it never aliases a record.
    /// </summary>
    public int NewBroadcastTemporary(int valueSlot, int shapeSlot)
    {
        ref TensorRecord v = ref Records[valueSlot];
        DType dtype = v.DType;
        int storage = NewStorage(dtype.ElementSize(), zero: false);
        Buffer.MemoryCopy(BytePointer(valueSlot), (void*)Storages[storage].Pointer, dtype.ElementSize(), dtype.ElementSize());
        ref TensorRecord s = ref Records[shapeSlot];
        int slot = NewSlot(storage, dtype, s.Shape.AsSpan(s.Rank), 0, s.NumEl, -1);
        ref TensorRecord r = ref Records[slot];
        for (int i = 0; i < r.Rank; i++) r.Strides[i] = 0;
        r.Flags |= TensorFlags.IsView;
        Storages[storage].RefCount++;
        return slot;
    }

    /// <summary>A contiguous temporary holding the elements of a (tiny, inline) strided view.</summary>
    private int InlineCopy(int baseSlot, ReadOnlySpan<int> shape, in Dims strides, int offset)
    {
        int copy = NewTensor(Records[baseSlot].DType, shape, zero: false, temporary: true);
        int elementSize = Records[baseSlot].DType.ElementSize();
        byte* src = (byte*)Unsafe.AsPointer(ref Records[Records[baseSlot].InlineOwner].Inline0);
        byte* dst = (byte*)Pointer<byte>(copy);
        Dims index = default;
        for (int e = 0, n = Records[copy].NumEl; e < n; e++)
        {
            int at = offset;
            for (int d = 0; d < shape.Length; d++) at += index[d] * strides[d];
            Buffer.MemoryCopy(src + (nint)at * elementSize, dst + (nint)e * elementSize, elementSize, elementSize);
            for (int d = shape.Length - 1; d >= 0 && ++index[d] == shape[d]; d--) index[d] = 0;
        }
        return copy;
    }

    private int NewSlot(int storage, DType dtype, ReadOnlySpan<int> shape, int offset, int numel, int scopeDepth)
    {
        int slot;
        if (_freeSlotCount > 0) slot = _freeSlots[--_freeSlotCount];
        else
        {
            Records.EnsureCapacity(_recordCount);
            slot = _recordCount++;
        }
        ref TensorRecord r = ref Records[slot];
        r.Storage = storage;
        r.Offset = offset;
        r.NumEl = numel;
        r.DType = dtype;
        if (shape.Length > Dims.MaxRank) ThrowHelper.RankTooLarge(shape.Length);
        r.Rank = (byte)shape.Length;
        r.Flags = TensorFlags.Live;
        for (int i = 0; i < shape.Length; i++) r.Shape[i] = shape[i];
        r.Node = -1;
        r.GradSlot = -1;
        r.GradHolders = 0;
        r.ScopeDepth = scopeDepth;
        if (scopeDepth > 0) AddOwned(scopeDepth, slot);
        return slot;
    }

    private void AddOwned(int depth, int slot)
    {
        ref ScopeFrame f = ref _frames[depth];
        if (f.OwnedCount == f.OwnedSlots.Length) Array.Resize(ref f.OwnedSlots, Math.Max(64, f.OwnedCount * 2));
        f.OwnedSlots[f.OwnedCount++] = slot;
    }

    // ---- .Grad: a tensor held by leaves lives as long as one of them still holds it ----

    /// <summary>
    /// Makes <paramref name="grad"/> (or nothing, for -1) the <c>.Grad</c> of <paramref name="slot"/>,
    /// letting go of the previous one: a gradient that no scope owns is released when its last
    /// holder lets go (<c>p.Grad = null</c> returns the buffer), and one whose scope ends while a
    /// holder remains is handed to its holders instead of being released (<see cref="CloseScope"/>).
    /// </summary>
    public void SetGrad(int slot, int grad)
    {
        int previous = Records[slot].GradSlot;
        if (grad >= 0) Records[grad].GradHolders++;
        Records[slot].GradSlot = grad;
        if (previous >= 0) LetGoOfGrad(previous);
    }

    /// <summary>Makes engine temporary <paramref name="grad"/> the new .Grad of <paramref name="leaf"/>, owned by it alone.</summary>
    public void AdoptAsGrad(int grad, int leaf)
    {
        Records[grad].ScopeDepth = TensorRecord.OwnedByLeaves;
        SetGrad(leaf, grad);
    }

    private void LetGoOfGrad(int grad)
    {
        ref TensorRecord g = ref Records[grad];
        if (--g.GradHolders == 0 && g.ScopeDepth == TensorRecord.OwnedByLeaves) ReleaseSlot(grad, TensorRecord.ReleasedAsGrad);
    }

    /// <summary>Hands an engine temporary to the scope enclosing the innermost one (<c>scope.Keep</c>).</summary>
    public void AdoptIntoParentScope(int tempSlot)
    {
        int depth = Math.Max(_depth - 1, 0);
        Records[tempSlot].ScopeDepth = depth;
        if (depth > 0) AddOwned(depth, tempSlot);
    }

    public void ReleaseSlot(int slot, int releasedByScope)
    {
        ref TensorRecord r = ref Records[slot];
        if (r.GradSlot >= 0)
        {
            int grad = r.GradSlot;
            r.GradSlot = -1;
            LetGoOfGrad(grad);
        }
        r.Generation++;
        r.Flags = TensorFlags.None;
        r.ReleasedByScope = releasedByScope;
        if (r.Storage >= 0) ReleaseStorageReference(r.Storage);
        if (r.IsPending) Ops.Fusion.Release(this, r.PendingExpression);
        r.Storage = TensorRecord.Released;
        if (_freeSlotCount == _freeSlots.Length) Array.Resize(ref _freeSlots, _freeSlots.Length * 2);
        _freeSlots[_freeSlotCount++] = slot;
    }

    /// <summary>Frees an engine temporary (a gradient that has been consumed).</summary>
    public void ReleaseTemporary(int slot) => ReleaseSlot(slot, -1);

    // ---- scopes ------------------------------------------------------------------------------

    public int OpenScope()
    {
        if (++_depth == _frames.Length) Array.Resize(ref _frames, _frames.Length * 2);
        ref ScopeFrame f = ref _frames[_depth];
        f.Id = _nextScopeId++;
        f.NodeStart = NodeCount;
        f.OwnedSlots ??= new int[64];
        f.OwnedCount = 0;
        return f.Id;
    }

    public void CloseScope(int id)
    {
        if (_depth == 0 || _frames[_depth].Id != id) ThrowHelper.ScopeClosedOutOfOrder(id, _depth == 0 ? 0 : _frames[_depth].Id);
        ref ScopeFrame f = ref _frames[_depth];
        for (int i = 0; i < f.OwnedCount; i++)
        {
            int slot = f.OwnedSlots[i];
            ref TensorRecord r = ref Records[slot];
            if ((r.Flags & TensorFlags.Live) == 0 || r.ScopeDepth != _depth) continue; // released, or handed to another owner
            if (r.GradHolders == 0)
            {
                ReleaseSlot(slot, id);
                continue;
            }
            // Some tensor holds it as its .Grad: it takes that lifetime (released when the last holder lets go).
            // Its history is recorded in this scope's part of the tape, which ends here.
            r.ScopeDepth = TensorRecord.OwnedByLeaves;
            if (r.Node >= f.NodeStart)
            {
                r.Node = -1;
                r.Flags &= ~TensorFlags.RequiresGrad;
            }
        }
        f.OwnedCount = 0;
        NodeCount = f.NodeStart;
        _depth--;
    }

    /// <summary>True when a node recorded now would live at least as long as <paramref name="slot"/>'s scope.</summary>
    public bool NodeOutlivesTensorScope(int slot) => Records[slot].ScopeDepth >= _depth || Records[slot].ScopeDepth < 0;

    // ---- the tape ----------------------------------------------------------------------------

    public ref Node AppendNode(out int index)
    {
        Nodes.EnsureCapacity(NodeCount);
        index = NodeCount++;
        ref Node n = ref Nodes[index];
        n = default;
        return ref n;
    }

    // ---- element access ----------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* Pointer<T>(int slot) where T : unmanaged
    {
        ref TensorRecord r = ref Records[slot];
        int storage = r.Storage;
        if (storage >= 0) return (T*)Storages[storage].Pointer + r.Offset;
        if (storage > TensorRecord.PendingBase) return (T*)Unsafe.AsPointer(ref Records[-(storage + 1)].Inline0) + r.Offset;
        return PendingPointer<T>(slot);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private T* PendingPointer<T>(int slot) where T : unmanaged
    {
        Materialize(slot);
        return (T*)Storages[Records[slot].Storage].Pointer + Records[slot].Offset;
    }

    // ---- deferred (fused) results --------------------------------------------------------------

    /// <summary>A contiguous tensor whose value is deferred expression <paramref name="expression"/> (which it now references).</summary>
    public int NewPendingTensor(DType dtype, ReadOnlySpan<int> shape, int expression, bool temporary)
    {
        int slot = NewSlot(TensorRecord.PendingBase - expression, dtype, shape, 0, Dims.NumEl(shape), temporary ? -1 : _depth);
        ref TensorRecord r = ref Records[slot];
        r.InlineVersion = 0; // a pending value has not been written in place; its storage starts at version 0 too
        WriteContiguousStrides(ref r);
        return slot;
    }

    /// <summary>Computes a pending tensor into its own new storage.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Materialize(int slot)
    {
        ref TensorRecord r = ref Records[slot];
        if (!r.IsPending) throw new InvalidOperationException("Internal error: materializing a tensor that is not pending.");
        int expression = r.PendingExpression;
        int storage = Ops.Fusion.ComputeIntoMemory(this, expression); // shared with the expression's other readers
        Storages[storage].RefCount++;
        TakeComputedStorage(slot, storage);
        Ops.Fusion.Release(this, expression);
    }

    /// <summary>A pending tensor becomes <paramref name="storage"/> (whose reference it takes over), keeping its version counter.</summary>
    public void TakeComputedStorage(int slot, int storage)
    {
        ref TensorRecord r = ref Records[slot];
        Storages[storage].Version = r.InlineVersion;
        r.Storage = storage;
    }

    /// <summary>
    /// Call before writing into <paramref name="slot"/>'s memory in place: deferred expressions that
    /// read that memory are evaluated first, so they keep the values they were created with.
    /// </summary>
    public void BeforeWrite(int slot)
    {
        ref TensorRecord r = ref Records[slot];
        if (r.IsPending) Materialize(slot); // its memory may now be what other pending expressions read: checked next
        if (r.Storage >= 0 && Storages[r.Storage].PendingReaders > 0) MaterializeAllPending();
    }

    private void MaterializeAllPending()
    {
        for (int slot = 0; slot < _recordCount; slot++)
        {
            if ((Records[slot].Flags & TensorFlags.Live) != 0 && Records[slot].IsPending) Materialize(slot);
        }
    }

    public int NewExpression()
    {
        if (_freeExpressionCount > 0) return _freeExpressions[--_freeExpressionCount];
        Expressions.EnsureCapacity(_expressionCount);
        return _expressionCount++;
    }

    /// <summary>Deferred expressions alive (a leak test watches this).</summary>
    public int LiveExpressionCount => _expressionCount - _freeExpressionCount;

    public void FreeExpression(int expression)
    {
        if (_freeExpressionCount == _freeExpressions.Length) Array.Resize(ref _freeExpressions, _freeExpressions.Length * 2);
        _freeExpressions[_freeExpressionCount++] = expression;
    }

    public void AddStorageReference(int storage) => Storages[storage].RefCount++;

    public void ReleaseStorage(int storage) => ReleaseStorageReference(storage);

    /// <summary>The address of the first element as bytes (the offset counted in elements of the tensor's dtype).</summary>
    public byte* BytePointer(int slot) => Records[slot].DType.ElementSize() switch
    {
        1 => Pointer<byte>(slot),
        4 => (byte*)Pointer<int>(slot),
        _ => (byte*)Pointer<long>(slot),
    };

    /// <summary>The elements of a contiguous tensor.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<T> Span<T>(int slot) where T : unmanaged => new(Pointer<T>(slot), Records[slot].NumEl);

    public void BumpVersion(int slot) => VersionOf(slot)++;

    public int Version(int slot) => VersionOf(slot);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref int VersionOf(int slot)
    {
        ref TensorRecord r = ref Records[slot];
        if (r.IsPending) return ref r.InlineVersion;
        return ref r.Storage >= 0 ? ref Storages[r.Storage].Version : ref Records[r.InlineOwner].InlineVersion;
    }
}
