using System.Runtime.InteropServices;
using AutogradFast.Graph;

namespace AutogradFast.Storage;

/// <summary>
/// Memory of code that never opens a scope. A child scope frees everything at its end; the root scope
/// instead reclaims what the program can no longer reach. Every handle to a root-scope tensor carries
/// that tensor's <see cref="RootLease"/> (one small managed object per tensor, shared by all copies of
/// its handles), and the context watches each lease through a weak GC handle, so the .NET garbage
/// collector tells which tensors user code still holds. From time to time (after enough root-scope
/// allocations or bytes; only at a handle check between ops, at depth 0 and outside a backward) the
/// root scope is collected: a tensor is kept if a handle holds it, a leaf holds it as its .Grad, a view
/// reads its inline data, or a node that such a tensor's history reaches needs it; the rest returns to
/// the pool, and the tape is compacted to the nodes still reachable (creation order, hence topological
/// order, is kept). Scoped code never makes a lease and never collects.
/// <para>A lease has no finalizer: a finalizable object costs the collector about ten times more to
/// find dead, and one is made per unscoped op.</para>
/// </summary>
internal sealed partial class TensorContext
{
    private GCHandle[] _leaseWatchers = [];      // per slot: a weak handle on its current lease (reused across the slot's tensors)
    private int _rootAllocations;                // root-scope slots made since the last collection
    private long _rootBytes;                     // and their pooled bytes
    private int _minimumInterval = MinimumCollectionInterval;
    private long _minimumBytes = MinimumCollectionBytes;
    private int _collectAfterAllocations = MinimumCollectionInterval;
    private long _collectAfterBytes = MinimumCollectionBytes;
    private bool _collectionDue;
    private int _liveRootAfterCollection;        // root-scope tensors the last collection kept

    /// <summary>Nonzero while a backward pass runs: nothing is collected then.</summary>
    public int BackwardDepth;

    private const int MinimumCollectionInterval = 1 << 16;

    /// <summary>
    /// Small enough that the buffers made between collections stay in cache (the pool hands them out
    /// again hot), large enough that a collection's forced .NET collection is rare: measured on 4 KB and
    /// 400 KB elementwise loops against 1, 16 and 64 MB.
    /// </summary>
    private const long MinimumCollectionBytes = 4L << 20;

    /// <summary>Collections run so far (tests watch it).</summary>
    public int RootCollections { get; private set; }

    /// <summary>Collects after every <paramref name="allocations"/> root-scope allocations (tests make collections frequent).</summary>
    public void CollectEvery(int allocations, long bytes = MinimumCollectionBytes)
    {
        _minimumInterval = _collectAfterAllocations = allocations;
        _minimumBytes = _collectAfterBytes = bytes;
    }

    /// <summary>Collects the root scope now, as a due collection would, after a full .NET collection (tests).</summary>
    public void CollectNow()
    {
        _collectionDue = true;
        CollectIfDue(fullCollection: true);
    }

    /// <summary>The lease that handles of root-scope tensor <paramref name="slot"/> carry: the one its other handles carry, if any is alive.</summary>
    public RootLease Lease(int slot, int generation)
    {
        if (slot >= _leaseWatchers.Length) Array.Resize(ref _leaseWatchers, Math.Max(slot + 1, Math.Max(256, _leaseWatchers.Length * 2)));
        ref GCHandle watcher = ref _leaseWatchers[slot];
        if (!watcher.IsAllocated)
        {
            var first = new RootLease(this, generation);
            watcher = GCHandle.Alloc(first, GCHandleType.Weak);
            return first;
        }
        if (watcher.Target is RootLease current && current.Generation == generation) return current;
        var lease = new RootLease(this, generation);
        watcher.Target = lease;
        return lease;
    }

    /// <summary>Whether a handle of root-scope tensor <paramref name="slot"/> is still reachable (as of the last .NET collection).</summary>
    private bool IsLeased(int slot, int generation)
        => slot < _leaseWatchers.Length && _leaseWatchers[slot].IsAllocated
            && _leaseWatchers[slot].Target is RootLease lease && lease.Generation == generation;

    /// <summary>Lets go of the weak handles (from the context's finalizer).</summary>
    private void FreeLeaseWatchers()
    {
        foreach (GCHandle watcher in _leaseWatchers)
            if (watcher.IsAllocated) watcher.Free();
    }

    /// <summary>Counts a root-scope allocation; when enough have been made, the next handle check of this thread collects.</summary>
    private void CountRootAllocation()
    {
        if (++_rootAllocations < _collectAfterAllocations && _rootBytes < _collectAfterBytes) return;
        _collectionDue = true;
        ForgetCurrentOnThisThread(); // the next handle check takes the slow path, which collects (between ops)
    }

    /// <summary>Collects the root scope if a collection is due and this is a safe point (see the class comment).</summary>
    public void CollectIfDue(bool fullCollection = false)
    {
        if (!_collectionDue || _depth != 0 || _allocationDepth != 0 || BackwardDepth != 0) return;
        _collectionDue = false;
        // The handles dropped since the last collection are garbage the .NET collector has to find (it
        // clears the weak handles on their leases). Most die young: generations 0 and 1 hold the leases
        // of the ops since the last collection and of the step that was running at it. A lease that
        // outlived two collections is in generation 2, which only a full collection examines: one is
        // made when the live set has grown since the last collection (say, a chain that was held and
        // is now dropped), so old garbage cannot pile up.
        FindDroppedHandles(fullCollection ? 2 : 1);
        int liveBefore = _liveRootAfterCollection;
        Collect();
        if (!fullCollection && _liveRootAfterCollection > liveBefore && _liveRootAfterCollection > 1024)
        {
            FindDroppedHandles(2);
            Collect();
        }
    }

    private static void FindDroppedHandles(int generation) => GC.Collect(generation, GCCollectionMode.Forced, blocking: true);

    // Scratch of a collection, kept between collections. A slot's stamp says how far this collection
    // has dealt with it (Kept, Swept, Renumbered: epoch-relative, so nothing is cleared).
    private int[] _stamps = [];
    private int _epoch;
    private bool[] _liveNodes = [];
    private int[] _nodeWork = [];
    private int[] _newNodeIndex = [];

    private int Kept => _epoch;
    private int Swept => _epoch + 1;
    private int Renumbered => _epoch + 2;

    /// <summary>
    /// One collection: marks what must stay, releases the rest of the root scope and compacts the tape.
    /// Its cost is proportional to the root scope and the tape, not to every slot the context ever had.
    /// </summary>
    private void Collect()
    {
        RootCollections++;
        _epoch += 3;
        if (_stamps.Length < _recordCount) Array.Resize(ref _stamps, Records.Capacity);
        if (_liveNodes.Length < NodeCount)
        {
            _liveNodes = new bool[Nodes.Capacity];
            _nodeWork = new int[Nodes.Capacity];
            _newNodeIndex = new int[Nodes.Capacity];
        }
        MarkReachable();
        (int liveRoot, long liveBytes) = SweepRootScope();
        CompactTape();
        _rootAllocations = 0;
        _rootBytes = 0;
        _liveRootAfterCollection = liveRoot;
        // The next collection after as many allocations again as are live: amortised O(1) per tensor.
        _collectAfterAllocations = Math.Max(_minimumInterval, 2 * liveRoot);
        _collectAfterBytes = Math.Max(_minimumBytes, 2 * liveBytes);
    }

    /// <summary>
    /// Marks what must stay: root-scope tensors held by a handle, as a .Grad or by a view's inline data;
    /// their .Grads; the nodes their histories reach; and the tensors those nodes read (inputs for their
    /// shapes, saved values, outputs) with their .Grads. (No child scope is open during a collection, so
    /// the root scope and the leaves' gradients are all there is.)
    /// </summary>
    private void MarkReachable()
    {
        Array.Clear(_liveNodes, 0, NodeCount);
        int work = 0;
        ref ScopeFrame root = ref _frames[0];
        for (int i = 0; i < root.OwnedCount; i++)
        {
            int slot = root.OwnedSlots[i];
            ref TensorRecord r = ref Records[slot];
            if ((r.Flags & TensorFlags.Live) == 0 || r.ScopeDepth != 0) continue;
            if (r.GradHolders > 0 || r.InlineViews > 0 || IsLeased(slot, r.Generation)) Mark(slot, ref work);
        }
        while (work > 0)
        {
            int index = _nodeWork[--work];
            ref Node n = ref Nodes[index];
            if (n.Kind == Graph.OpKind.Custom)
            {
                foreach (Graph.SavedValue saved in FunctionOf(index).Saved) Mark(saved.Slot, ref work);
            }
            Mark(n.Output, ref work);
            for (int k = 0; k < n.InputCount; k++)
            {
                ref NodeInput input = ref Graph.Backward.Input(ref n, k, this);
                Mark(input.Slot, ref work);
                if (input.Edge >= 0) MarkNode(input.Edge, ref work);
            }
            if (n.Self.Slot >= 0) Mark(n.Self.Slot, ref work);
            if (n.Other.Slot >= 0) Mark(n.Other.Slot, ref work);
            if (n.Result.Slot >= 0) Mark(n.Result.Slot, ref work);
        }
    }

    private void Mark(int slot, ref int work)
    {
        while (slot >= 0 && _stamps[slot] != Kept)
        {
            _stamps[slot] = Kept;
            ref TensorRecord r = ref Records[slot];
            if (r.Node >= 0) MarkNode(r.Node, ref work);
            slot = r.GradSlot; // a kept tensor keeps its .Grad, and that gradient's history (createGraph)
        }
    }

    private void MarkNode(int node, ref int work)
    {
        if (_liveNodes[node]) return;
        _liveNodes[node] = true;
        _nodeWork[work++] = node;
    }

    /// <summary>Releases the root-scope tensors not marked, and drops released and handed-over slots from the root scope's list.</summary>
    private (int Live, long Bytes) SweepRootScope()
    {
        ref ScopeFrame root = ref _frames[0];
        int kept = 0;
        long bytes = 0;
        for (int i = 0; i < root.OwnedCount; i++)
        {
            int slot = root.OwnedSlots[i];
            ref TensorRecord r = ref Records[slot];
            if ((r.Flags & TensorFlags.Live) == 0 || r.ScopeDepth != 0 || _stamps[slot] == Swept) continue; // gone, handed over, or listed twice
            if (_stamps[slot] != Kept)
            {
                _stamps[slot] = Swept;
                ReleaseSlot(slot, releasedByScope: 0);
                continue;
            }
            _stamps[slot] = Swept;
            root.OwnedSlots[kept++] = slot;
            if (r.Storage >= 0) bytes += (long)r.NumEl * r.DType.ElementSize();
        }
        root.OwnedCount = kept;
        return (kept, bytes);
    }

    /// <summary>Moves the live nodes down in order (their side-arena entries too) and renumbers every edge and every kept tensor's node.</summary>
    private void CompactTape()
    {
        int[] newIndex = _newNodeIndex;
        int nodes = 0, inputs = 0, args = 0;
        for (int i = 0; i < NodeCount; i++)
        {
            if (!_liveNodes[i])
            {
                newIndex[i] = -1;
                continue;
            }
            newIndex[i] = nodes;
            ref Node n = ref Nodes[i];
            if (n.MoreInputs >= 0)
            {
                int count = n.InputCount - 2;
                for (int k = 0; k < count; k++) NodeInputs[inputs + k] = NodeInputs[n.MoreInputs + k];
                n.MoreInputs = inputs;
                inputs += count;
            }
            if (n.Args >= 0)
            {
                int count = 2 + 2 * NodeArgs[n.Args];
                for (int k = 0; k < count; k++) NodeArgs[args + k] = NodeArgs[n.Args + k];
                n.Args = args;
                args += count;
            }
            if (nodes != i) Nodes[nodes] = n;
            nodes++;
        }
        CompactNodeObjects(newIndex, NodeCount); // before the loop below reads a custom node's context at its new index
        // Every kept tensor is a listed root-scope tensor or one a live node reads (with their .Grads).
        ref ScopeFrame root = ref _frames[0];
        for (int i = 0; i < root.OwnedCount; i++) Renumber(root.OwnedSlots[i], newIndex);
        for (int i = 0; i < nodes; i++)
        {
            ref Node n = ref Nodes[i];
            Renumber(n.Output, newIndex);
            for (int k = 0; k < n.InputCount; k++)
            {
                ref NodeInput input = ref Graph.Backward.Input(ref n, k, this);
                if (input.Edge >= 0) input.Edge = newIndex[input.Edge];
                Renumber(input.Slot, newIndex);
            }
            if (n.Self.Slot >= 0) Renumber(n.Self.Slot, newIndex);
            if (n.Other.Slot >= 0) Renumber(n.Other.Slot, newIndex);
            if (n.Result.Slot >= 0) Renumber(n.Result.Slot, newIndex);
            if (n.Kind == Graph.OpKind.Custom)
            {
                foreach (Graph.SavedValue saved in FunctionOf(i).Saved) Renumber(saved.Slot, newIndex);
            }
        }
        ShortenTape(nodes);
        NodeInputCount = inputs;
        NodeArgCount = args;
    }

    private void Renumber(int slot, int[] newIndex)
    {
        while (slot >= 0 && _stamps[slot] != Renumbered)
        {
            _stamps[slot] = Renumbered;
            ref TensorRecord r = ref Records[slot];
            if (r.Node >= 0) r.Node = newIndex[r.Node];
            if ((r.Flags & TensorFlags.HasHooks) != 0) RenumberHooks(slot, newIndex);
            slot = r.GradSlot;
        }
    }
}

/// <summary>
/// Carried by every handle of a root-scope tensor: while any copy of a handle is reachable, the tensor
/// is kept (the context watches the lease through a weak handle; see the collector above).
/// </summary>
internal sealed class RootLease(TensorContext context, int generation) : HandleOwner(context)
{
    /// <summary>The generation of the slot it leases: a slot reused for another tensor gets a new lease.</summary>
    public readonly int Generation = generation;
}

/// <summary>
/// What a <see cref="Tensor"/> handle holds: its context itself, or for a root-scope tensor a
/// <see cref="RootLease"/> on it. Both carry the context in this one field, so a handle check reads it
/// with one load and no type test.
/// </summary>
internal abstract class HandleOwner
{
    public readonly TensorContext Context;

    /// <param name="context">The lease's context, or null from the context itself.</param>
    protected HandleOwner(TensorContext? context) => Context = context ?? (TensorContext)this;
}
