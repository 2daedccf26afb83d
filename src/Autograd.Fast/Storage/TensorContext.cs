using System.Runtime.CompilerServices;
using AutogradFast.Graph;
using System.Runtime.InteropServices;

namespace AutogradFast.Storage;

/// <summary>
/// The owner behind every <see cref="Tensor"/> handle of one graph: tensor slots, storages, the scope
/// stack and the tape's node arena. One thread at a time uses it, so nothing here takes a lock; which
/// thread that is, and how a context travels with an async flow, is ContextOwnership.cs.
/// </summary>
internal sealed unsafe partial class TensorContext
{
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

    /// <summary>
    /// The tape's length at the latest in-place write (<see cref="BumpVersion"/>): only a node below it
    /// can hold a saved value modified since it was recorded, so the engine compares saved versions
    /// for those nodes alone (a step that writes in place before recording pays nothing). Cut back
    /// with the tape; a recorded in-place op whose node saves a value's version from before its write
    /// raises it past that node (<see cref="Graph.Recorder.RecordInPlace"/>).
    /// </summary>
    public int TapeLengthAtLastWrite;

    /// <summary>The tape keeps its first <paramref name="length"/> nodes (a scope's end, or the collector's compaction, which keeps their order).</summary>
    private void ShortenTape(int length)
    {
        NodeCount = length;
        TapeLengthAtLastWrite = Math.Min(TapeLengthAtLastWrite, length);
    }

    /// <summary>Inputs of nodes with more than two (a node's third input is NodeInputs[node.MoreInputs]).</summary>
    public PagedArray<NodeInput> NodeInputs;
    public int NodeInputCount;

    /// <summary>Integers nodes keep beyond Arg0/Arg1 (the geometry of a region), at node.Args.</summary>
    public PagedArray<int> NodeArgs;
    public int NodeArgCount;

    /// <summary>Deferred elementwise expressions (<see cref="Ops.Fusion"/>) and their free list.</summary>
    public PagedArray<Ops.Expression> Expressions;
    private int _expressionCount;
    private int[] _freeExpressions = new int[64];
    private int _freeExpressionCount;

    /// <summary>Elementwise results with at least this many elements are deferred and fused (tests lower it).</summary>
    public int FusionMinElements = Ops.Fusion.DefaultMinElements;

    /// <summary>The recorder's table, held here: read through the context it is one load, where the static costs a class-initialisation check per recorded op under NativeAOT.</summary>
    public readonly Graph.Saves[] SavesByKind = Graph.Recorder.SavesByKind;

    /// <summary>The derivative table, held here for the same reason: the engine reads a row per node.</summary>
    public readonly Graph.OpRow[] Rows = Graph.OpRows.All;

    private ScopeFrame[] _frames = new ScopeFrame[8];
    private int _depth; // index of the innermost open frame; 0 is the thread's root scope

    /// <summary>
    /// Who owns what ops make: the innermost scope (<see cref="_depth"/>), or, while the engine computes
    /// gradients in a plain backward, <see cref="TensorRecord.RuleTemporary"/> (see <see cref="BeginRuleTemporaries"/>).
    /// </summary>
    private int _allocationDepth;
    private int[] _ruleTemporaries = new int[64];
    private int _ruleTemporaryCount;
    private int _nextScopeId = 1;

    /// <summary>The random stream of Tensor.Rand/Randn (Autograd.ManualSeed resets it).</summary>
    public Ops.RandomStream Random = Ops.RandomStream.Unseeded();

    /// <summary>The engine's per-node gradient waiting to be consumed (-1: none), indexed like the tape.</summary>
    public int[] PendingGradients = [];

    /// <summary>Leaves whose accumulator a backward pass filled, in the order they were first reached.</summary>
    private int[] _touchedLeaves = new int[16];
    public int TouchedLeafCount;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // once per leaf and backward; the growth out of line
    public void AddTouchedLeaf(int leaf)
    {
        if (TouchedLeafCount == _touchedLeaves.Length) GrowTouchedLeaves();
        _touchedLeaves[TouchedLeafCount++] = leaf;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowTouchedLeaves() => Array.Resize(ref _touchedLeaves, _touchedLeaves.Length * 2);

    public int TouchedLeaf(int index) => _touchedLeaves[index];

    /// <summary>Per slot, during a backward pass: the gradient a leaf's accumulator holds so far (-1: none). Kept here, not in the record, to keep records at two cache lines.</summary>
    private int[] _accumulators = [];

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // twice per leaf and backward; the growth out of line
    public ref int AccumulatorOf(int slot)
    {
        if ((uint)slot >= (uint)_accumulators.Length) GrowAccumulators(slot);
        return ref _accumulators[slot];
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowAccumulators(int slot)
    {
        int old = _accumulators.Length;
        Array.Resize(ref _accumulators, Math.Max(slot + 1, Math.Max(64, old * 2)));
        Array.Fill(_accumulators, -1, old, _accumulators.Length - old);
    }

    /// <summary>Live tensor slots (a pool-growth test watches this with <see cref="NativeBufferPool.BytesOwned"/>).</summary>
    public int LiveSlotCount => _recordCount - _freeSlotCount;

    ~TensorContext()
    {
        // Nothing can reach its tensors any more (no handle, no flow): give the native memory back.
        for (int i = 0; i < _storageCount; i++)
        {
            if (Storages[i].RefCount > 0) NativeMemory.AlignedFree((void*)Storages[i].Pointer);
        }
        Pool.Dispose();
        Records.Free();
        Storages.Free();
        Nodes.Free();
        NodeInputs.Free();
        NodeArgs.Free();
        Expressions.Free();
        FreeLeaseWatchers();
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every op's result: on each entry point's force-inlined path (README, "Inlining")
    public int NewTensor(DType dtype, ReadOnlySpan<int> shape, bool zero, bool temporary = false)
    {
        int numel = Dims.NumEl(shape);
        long bytes = (long)numel * dtype.ElementSize();
        int depth = temporary ? -1 : _allocationDepth;
        if (bytes > TensorRecord.InlineBytes) return NewPooledTensor(dtype, shape, numel, bytes, zero, depth);
        // Tiny data lives in the record: the path of scalar graphs, without the pool's tests.
        ref TensorRecord r = ref NewSlot(out int slot, -1, dtype, shape, 0, numel, depth);
        r.Storage = -(slot + 1);
        r.InlineVersion = 0;
        r.Inline0 = r.Inline1 = 0; // zeroed whether asked or not: two stores cost less than a test
        if (r.Rank > 0) WriteContiguousStrides(ref r);
        return slot;
    }

    /// <summary><see cref="NewTensor"/> for data of more than <see cref="TensorRecord.InlineBytes"/>: a pool buffer, counted against the root scope's budget when the root scope owns it.</summary>
    private int NewPooledTensor(DType dtype, ReadOnlySpan<int> shape, int numel, long bytes, bool zero, int depth)
    {
        if (depth == 0) _rootBytes += bytes;
        ref TensorRecord r = ref NewSlot(out int slot, NewStorage(bytes, zero), dtype, shape, 0, numel, depth);
        Storages[r.Storage].RefCount++;
        if (r.Rank > 0) WriteContiguousStrides(ref r);
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
        r.IsContiguous = true;
        int stride = 1;
        for (int i = r.Rank - 1; i >= 0; i--)
        {
            r.Strides[i] = stride;
            stride *= r.Shape[i];
        }
    }

    /// <summary>
    /// A view of <paramref name="baseSlot"/>'s storage with its own shape, strides and offset. A view
    /// of tiny (inline) data counts itself on the record that holds the data, which therefore lives on
    /// until the last view is gone even if its own tensor is released first.
    /// </summary>
    public int NewView(int baseSlot, ReadOnlySpan<int> shape, in Dims strides, int offset, bool temporary = false)
    {
        ref TensorRecord b = ref Records[baseSlot];
        if (b.IsPending) Materialize(baseSlot); // a view shares memory: there has to be some
        ref TensorRecord v = ref NewSlot(out int slot, b.Storage, b.DType, shape, offset, Dims.NumEl(shape), temporary ? TensorRecord.EngineTemporary : _allocationDepth);
        for (int i = 0; i < v.Rank; i++) v.Strides[i] = strides[i];
        v.IsContiguous = v.LayoutIsContiguous();
        if (v.Storage >= 0) Storages[v.Storage].RefCount++;
        else Records[v.InlineOwner].InlineViews++;
        ref TensorRecord baseRecord = ref Records[baseSlot];
        // A view is an inference tensor exactly when its base is, whichever mode it is made in (as PyTorch).
        v.Flags = (v.Flags & ~TensorFlags.IsInference) | TensorFlags.IsView | (baseRecord.Flags & TensorFlags.IsInference);
        bool baseIsGradLeaf = (baseRecord.Flags & TensorFlags.RequiresGrad) != 0 && baseRecord.Node < 0;
        if (baseIsGradLeaf || (baseRecord.Flags & TensorFlags.ViewOfGradLeaf) != 0) v.Flags |= TensorFlags.ViewOfGradLeaf;
        int root = (baseRecord.Flags & TensorFlags.IsView) != 0 ? ViewBaseOf(baseSlot) : baseSlot;
        SetViewBase(slot, root >= 0 ? root : baseSlot);
        return slot;
    }

    /// <summary>Per view, its base (PyTorch's <c>_base</c>, never itself a view while it lives): slot and generation in one value.</summary>
    private long[] _viewBases = [];

    /// <summary>Per view, the base's producer node when the view's history was derived from it (see <see cref="IsViewStale"/>).</summary>
    private int[] _viewBaseNodes = [];

    private void SetViewBase(int view, int baseSlot)
    {
        if (view >= _viewBases.Length)
        {
            int length = Math.Max(view + 1, Math.Max(64, _viewBases.Length * 2));
            Array.Resize(ref _viewBases, length);
            Array.Resize(ref _viewBaseNodes, length);
        }
        _viewBases[view] = (uint)baseSlot | ((long)Records[baseSlot].Generation << 32);
        _viewBaseNodes[view] = Records[baseSlot].Node;
    }

    /// <summary>
    /// Whether view <paramref name="view"/>'s history is out of date: its base got a new history (an
    /// in-place write recorded on it, or through another of its views) after the view's was derived,
    /// so the view's values are no longer what its node says. PyTorch regenerates such a view's
    /// grad_fn when it is next used (AsStridedBackward0); the recorder does the same.
    /// </summary>
    public bool IsViewStale(int view, out int baseSlot)
    {
        baseSlot = ViewBaseOf(view);
        return baseSlot >= 0 && Records[baseSlot].Node != _viewBaseNodes[view] && (Records[baseSlot].Flags & TensorFlags.RequiresGrad) != 0;
    }

    /// <summary>The view's history was (re)derived from its base's current one.</summary>
    public void MarkViewCurrent(int view, int baseSlot) => _viewBaseNodes[view] = Records[baseSlot].Node;

    /// <summary>The tensor whose history an in-place write through view <paramref name="view"/> rewrites, or -1 once it is released.</summary>
    public int ViewBaseOf(int view)
    {
        if (view >= _viewBases.Length) return -1;
        long packed = _viewBases[view];
        int slot = (int)packed, generation = (int)(packed >> 32);
        ref TensorRecord b = ref Records[slot];
        return (b.Flags & TensorFlags.Live) != 0 && b.Generation == generation ? slot : -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every op's result comes through here
    private ref TensorRecord NewSlot(out int slot, int storage, DType dtype, ReadOnlySpan<int> shape, int offset, int numel, int scopeDepth)
    {
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
        r.Flags = _newTensorFlags; // Live, and in inference mode IsInference
        r.IsContiguous = true;     // every caller makes contiguous strides, or a view writes its own (NewView)
        for (int i = 0; i < shape.Length; i++) r.Shape[i] = shape[i];
        r.Node = -1;
        r.GradSlot = -1;
        r.GradHolders = 0;
        r.InlineViews = 0;
        r.ScopeDepth = scopeDepth;
        if (scopeDepth >= 0) AddOwned(scopeDepth, slot);
        else if (scopeDepth == TensorRecord.RuleTemporary) AddRuleTemporary(slot);
        return ref r;
    }

    /// <summary>Lists <paramref name="slot"/> as owned by scope <paramref name="depth"/> (the root scope's list is what its collector sweeps).</summary>
    private void AddOwned(int depth, int slot)
    {
        if (depth == 0) CountRootAllocation();
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

    internal void LetGoOfGrad(int grad)
    {
        ref TensorRecord g = ref Records[grad];
        if (--g.GradHolders == 0 && g.ScopeDepth == TensorRecord.OwnedByLeaves) ReleaseSlot(grad, TensorRecord.ReleasedAsGrad);
    }

    /// <summary>Hands an engine temporary to the innermost scope, as if an op had made it there (Autograd.Grad's results).</summary>
    public void AdoptIntoCurrentScope(int tempSlot)
    {
        Records[tempSlot].ScopeDepth = _depth;
        AddOwned(_depth, tempSlot);
    }

    /// <summary>Hands an engine temporary to the scope enclosing the innermost one (<c>scope.Keep</c>).</summary>
    public void AdoptIntoParentScope(int tempSlot)
    {
        int depth = Math.Max(_depth - 1, 0);
        Records[tempSlot].ScopeDepth = depth;
        AddOwned(depth, tempSlot);
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
        if ((r.Flags & (TensorFlags.HasTangent | TensorFlags.HasHooks)) != 0)
        {
            if ((r.Flags & TensorFlags.HasTangent) != 0) DropTangent(slot); // a reused slot must not inherit a tangent
            if ((r.Flags & TensorFlags.HasHooks) != 0) ClearHooks(slot); // a reused slot must not inherit them
        }
        r.Generation++;
        r.Flags = TensorFlags.None;
        r.ReleasedByScope = releasedByScope;
        int storage = r.Storage; // pooled memory, a deferred expression, or inline data (in which record)
        if (storage >= 0) ReleaseStorageReference(storage);
        else if (r.IsPending) Ops.Fusion.Release(this, r.PendingExpression);
        else if (r.IsInline)
        {
            int owner = r.InlineOwner;
            if (owner != slot) LetGoOfInlineData(owner);
            else if (r.InlineViews > 0) return; // its views still read this record's data: freed with the last of them
        }
        FreeRecord(ref r, slot);
    }

    private void LetGoOfInlineData(int owner)
    {
        ref TensorRecord o = ref Records[owner];
        if (--o.InlineViews == 0 && (o.Flags & TensorFlags.Live) == 0) FreeRecord(ref o, owner);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // twice per node on scalar graphs: NativeAOT kept it a call
    private void FreeRecord(ref TensorRecord r, int slot)
    {
        r.Storage = TensorRecord.Released;
        if (_freeSlotCount == _freeSlots.Length) GrowFreeSlots();
        _freeSlots[_freeSlotCount++] = slot;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowFreeSlots() => Array.Resize(ref _freeSlots, _freeSlots.Length * 2);

    /// <summary>Frees an engine temporary (a gradient that has been consumed).</summary>
    public void ReleaseTemporary(int slot) => ReleaseSlot(slot, -1);

    // ---- scopes ------------------------------------------------------------------------------

    public int OpenScope()
    {
        if (_allocationDepth != _depth || RunningHooks > 0) ThrowHelper.ScopeDuringBackward();
        int id = _nextScopeId++;
        if (++_depth == _frames.Length) Array.Resize(ref _frames, _frames.Length * 2);
        ref ScopeFrame f = ref _frames[_depth];
        f.Id = id;
        f.NodeStart = NodeCount;
        f.NodeInputStart = NodeInputCount;
        f.NodeArgStart = NodeArgCount;
        f.OwnedSlots ??= new int[64];
        f.OwnedCount = 0;
        _allocationDepth = _depth;
        return f.Id;
    }

    // ---- rule temporaries: what the engine's own computation makes in a plain backward ----

    /// <summary>
    /// From now until <see cref="EndRuleTemporaries"/>, what ops make belongs to the engine's computation
    /// of gradients: the gradients it keeps become engine temporaries (<see cref="KeepRuleTemporary"/>),
    /// and the rest returns to the pool at the end. Returns the mark to end at (they nest).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int BeginRuleTemporaries()
    {
        _allocationDepth = TensorRecord.RuleTemporary;
        _ruleTemporariesKeptSinceMark = 0;
        return _ruleTemporaryCount;
    }

    /// <summary>Releases the rule temporaries made since <paramref name="mark"/> that nobody kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // once per node: the common case is two compares
    public void EndRuleTemporaries(int mark, bool outermost)
    {
        // The common case, a rule that made only the gradients it handed on, needs no walk.
        if (_ruleTemporaryCount - mark != _ruleTemporariesKeptSinceMark) ReleaseRuleTemporaries(mark);
        _ruleTemporaryCount = mark;
        _ruleTemporariesKeptSinceMark = 0;
        if (outermost) _allocationDepth = _depth;
    }

    private void ReleaseRuleTemporaries(int mark)
    {
        for (int i = mark; i < _ruleTemporaryCount; i++)
        {
            int slot = _ruleTemporaries[i];
            ref TensorRecord r = ref Records[slot];
            if ((r.Flags & TensorFlags.Live) != 0 && r.ScopeDepth == TensorRecord.RuleTemporary) ReleaseSlot(slot, -1);
        }
    }

    /// <summary>A rule temporary the engine keeps (a pending gradient, an accumulator): an engine temporary from now on; other slots are left as they are.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void KeepRuleTemporary(int slot)
    {
        ref TensorRecord r = ref Records[slot];
        if (r.ScopeDepth != TensorRecord.RuleTemporary) return;
        r.ScopeDepth = TensorRecord.EngineTemporary;
        _ruleTemporariesKeptSinceMark++;
    }

    private int _ruleTemporariesKeptSinceMark;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // once per gradient a rule makes; the growth stays out of line
    private void AddRuleTemporary(int slot)
    {
        if (_ruleTemporaryCount == _ruleTemporaries.Length) GrowRuleTemporaries();
        _ruleTemporaries[_ruleTemporaryCount++] = slot;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowRuleTemporaries() => Array.Resize(ref _ruleTemporaries, _ruleTemporaries.Length * 2);

    /// <summary>Whether the engine owns <paramref name="slot"/> (and may release it; it writes into it only when it is not shared).</summary>
    public bool IsEngineOwned(int slot) => Records[slot].ScopeDepth == TensorRecord.EngineTemporary;

    /// <summary>
    /// Per slot, during a plain backward: how many holders an engine temporary has beyond the first
    /// (one gradient handed to two inputs is held by both, not copied); 0 for all others.
    /// </summary>
    private int[] _extraHolders = [];

    /// <summary>
    /// Whether a plain backward may write into gradient <paramref name="slot"/>: the engine alone holds
    /// it (an engine temporary, not shared), it owns its dense memory (not a view, not deferred for
    /// fusion), and it carries no tangent. Under createGraph no gradient is an engine temporary.
    /// </summary>
    /// <paramref name="maxElements"/>: fewer elements than that (a rule's write into its gradient stays below the fusion threshold, where its op would be deferred).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsWritableGradient(int slot, int maxElements = int.MaxValue)
    {
        ref TensorRecord r = ref Records[slot]; // one lookup, cheapest tests first
        return r.ScopeDepth == TensorRecord.EngineTemporary && (r.Flags & (TensorFlags.IsView | TangentMask)) == 0 && r.NumEl < maxElements
            && !r.IsPending && r.IsContiguous && !IsShared(slot);
    }

    /// <summary>How many rule results went into their incoming gradient instead of a new tensor (<see cref="Graph.Backward.LastGrad"/>): for tests and diagnostics.</summary>
    public long GradientsOverwritten;

    /// <summary>Whether engine temporary <paramref name="slot"/> has more than one holder: nobody writes into it, and a release lets go of one holder.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsShared(int slot) => (uint)slot < (uint)_extraHolders.Length && _extraHolders[slot] > 0;

    /// <summary>One more holder of engine temporary <paramref name="slot"/>.</summary>
    public void Share(int slot)
    {
        if (slot >= _extraHolders.Length) Array.Resize(ref _extraHolders, Math.Max(slot + 1, Math.Max(64, _extraHolders.Length * 2)));
        _extraHolders[slot]++;
    }

    /// <summary>
    /// Lets go of <paramref name="slot"/> if the engine owns it: of one holder when it is shared (the
    /// last one left owns it alone), else the slot is released; a tensor of a scope is left alone.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // the engine's one way to let go of a gradient
    public void ReleaseIfEngineOwned(int slot)
    {
        if (Records[slot].ScopeDepth != TensorRecord.EngineTemporary) return;
        if ((uint)slot < (uint)_extraHolders.Length && _extraHolders[slot] > 0) _extraHolders[slot]--;
        else ReleaseSlot(slot, -1);
    }

    public void CloseScope(int id)
    {
        if (_allocationDepth != _depth || RunningHooks > 0) ThrowHelper.ScopeDuringBackward();
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
                if ((r.Flags & TensorFlags.HasHooks) != 0) ClearHooks(slot); // bound to nodes that end here
                r.Node = -1;
                r.Flags &= ~TensorFlags.RequiresGrad;
            }
        }
        f.OwnedCount = 0;
        TruncateNodeObjects(f.NodeStart);
        ShortenTape(f.NodeStart);
        NodeInputCount = f.NodeInputStart;
        NodeArgCount = f.NodeArgStart;
        _depth--;
        _allocationDepth = _depth;
    }

    /// <summary>True when a node recorded now would live at least as long as <paramref name="slot"/>'s scope.</summary>
    public bool NodeOutlivesTensorScope(int slot) => Records[slot].ScopeDepth >= _depth || Records[slot].ScopeDepth < 0;

    // ---- the tape ----------------------------------------------------------------------------

    /// <summary>The next node of the tape, uninitialised: the recorder writes every field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref Node AppendNode(out int index)
    {
        Nodes.EnsureCapacity(NodeCount);
        index = NodeCount++;
        return ref Nodes[index];
    }

    /// <summary>Room for <paramref name="count"/> node inputs beyond the inline two; returns the first index.</summary>
    public int AppendNodeInputs(int count)
    {
        int start = NodeInputCount;
        NodeInputs.EnsureCapacity(start + count);
        NodeInputCount += count;
        return start;
    }

    /// <summary>Room for <paramref name="count"/> node integers; returns the first index.</summary>
    public int AppendNodeArgs(int count)
    {
        int start = NodeArgCount;
        NodeArgs.EnsureCapacity(start + count);
        NodeArgCount += count;
        return start;
    }

    // ---- element access ----------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* Pointer<T>(int slot) where T : unmanaged => Pointer<T>(ref Records[slot], slot);

    /// <summary><see cref="Pointer{T}(int)"/> for a record the caller has already looked up (tiny tensors' data is usually their own record's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* Pointer<T>(ref TensorRecord r, int slot) where T : unmanaged
    {
        int storage = r.Storage;
        if (storage >= 0) return (T*)Storages[storage].Pointer + r.Offset;
        if (storage > TensorRecord.PendingBase)
        {
            int owner = -(storage + 1);
            return (T*)Unsafe.AsPointer(ref owner == slot ? ref r.Inline0 : ref Records[owner].Inline0) + r.Offset;
        }
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
        ref TensorRecord r = ref NewSlot(out int slot, TensorRecord.PendingBase - expression, dtype, shape, 0, Dims.NumEl(shape), temporary ? -1 : _allocationDepth);
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
        if (AnomalyEnabled) CheckWriteUnderAnomaly(slot);
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BumpVersion(int slot)
    {
        VersionOf(slot)++;
        TapeLengthAtLastWrite = NodeCount;
    }

    public int Version(int slot) => VersionOf(slot);

    /// <summary>Whether two tensors share memory (they have one version counter).</summary>
    public bool SharesMemory(int a, int b) => Unsafe.AreSame(ref VersionOf(a), ref VersionOf(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref int VersionOf(int slot)
    {
        ref TensorRecord r = ref Records[slot];
        if (r.IsPending) return ref r.InlineVersion;
        if (r.Storage >= 0) return ref Storages[r.Storage].Version;
        int owner = r.InlineOwner; // tiny data: its own record's counter unless this is a view of another's
        return ref owner == slot ? ref r.InlineVersion : ref Records[owner].InlineVersion;
    }
}
