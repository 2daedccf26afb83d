using AutogradFast.Graph;

namespace AutogradFast.Storage;

/// <summary>
/// One hook registered on a tensor: a gradient hook (<see cref="Tensor.RegisterHook"/>) or a
/// post-accumulate hook (<see cref="Tensor.RegisterPostAccumulateGradHook"/>).
/// </summary>
internal readonly struct TensorHook(long id, int node, Func<Tensor, Tensor?>? gradient, Action<Tensor>? postAccumulate)
{
    public readonly long Id = id;

    /// <summary>The producer the tensor had at registration (-1 for a leaf): as PyTorch binds a hook to the grad_fn of that moment.</summary>
    public readonly int Node = node;

    public readonly Func<Tensor, Tensor?>? Gradient = gradient;
    public readonly Action<Tensor>? PostAccumulate = postAccumulate;
}

/// <summary>Everything registered on one tensor slot.</summary>
internal sealed class TensorHookSet
{
    /// <summary>In registration order. Copied on every change, so a pass runs the array it started with even if a hook registers or removes one.</summary>
    public TensorHook[] Hooks = [];

    /// <summary>RetainGrad: the producer whose gradient is kept in <c>.Grad</c> (-1: not retained).</summary>
    public int RetainNode = -1;

    public bool IsEmpty => Hooks.Length == 0 && RetainNode < 0;
}

/// <summary>
/// The hook side table: managed delegates keyed by slot, outside the records, so a context without hooks
/// pays nothing but a flag test (<see cref="TensorFlags.HasHooks"/> on the tensor,
/// <see cref="NodeFlags.HasTensorHooks"/> on its producer). Hooks die with their tensor: releasing the
/// slot clears them, so a reused slot starts without any.
/// </summary>
internal sealed partial class TensorContext
{
    private Dictionary<int, TensorHookSet>? _hooks;
    private long _nextHookId;

    /// <summary>Nonzero while user hook code runs inside a backward pass.</summary>
    public int RunningHooks;

    /// <summary>
    /// Whether any tensor of this context has a hook or retains its gradient (one test per backward pass).
    /// Kept as the table changes: the dictionary's Count is shared generic code that NativeAOT calls, not inlines.
    /// </summary>
    public bool HasAnyHooks { get; private set; }

    public TensorHookSet? HooksOf(int slot)
    {
        if ((Records[slot].Flags & TensorFlags.HasHooks) == 0 || _hooks is null) return null;
        return _hooks.GetValueOrDefault(slot);
    }

    private TensorHookSet HookSetFor(int slot)
    {
        _hooks ??= [];
        if (!_hooks.TryGetValue(slot, out TensorHookSet? set))
        {
            set = new TensorHookSet();
            _hooks[slot] = set;
            HasAnyHooks = true;
            Records[slot].Flags |= TensorFlags.HasHooks;
        }
        return set;
    }

    /// <summary>Registers a hook on <paramref name="slot"/>; a non-leaf's producer is flagged so the engine looks it up there.</summary>
    public long AddHook(int slot, Func<Tensor, Tensor?>? gradient, Action<Tensor>? postAccumulate)
    {
        int node = Records[slot].Node;
        TensorHookSet set = HookSetFor(slot);
        long id = ++_nextHookId;
        TensorHook[] hooks = new TensorHook[set.Hooks.Length + 1];
        set.Hooks.CopyTo(hooks, 0);
        hooks[^1] = new TensorHook(id, node, gradient, postAccumulate);
        set.Hooks = hooks;
        if (node >= 0) Nodes[node].Flags |= NodeFlags.HasTensorHooks;
        return id;
    }

    /// <summary>Removes hook <paramref name="id"/> of <paramref name="slot"/> if it is still there (ids are never reused, so a reused slot is safe).</summary>
    public void RemoveHook(int slot, long id)
    {
        TensorHookSet? set = HooksOf(slot);
        if (set is null) return;
        int at = Array.FindIndex(set.Hooks, h => h.Id == id);
        if (at < 0) return;
        TensorHook[] hooks = new TensorHook[set.Hooks.Length - 1];
        Array.Copy(set.Hooks, 0, hooks, 0, at);
        Array.Copy(set.Hooks, at + 1, hooks, at, hooks.Length - at);
        set.Hooks = hooks;
        if (set.IsEmpty) ClearHooks(slot);
    }

    /// <summary><c>retain_grad()</c> on a non-leaf: its producer's gradient is kept in its .Grad.</summary>
    public void RetainGrad(int slot)
    {
        int node = Records[slot].Node;
        HookSetFor(slot).RetainNode = node;
        Nodes[node].Flags |= NodeFlags.HasTensorHooks;
    }

    public bool RetainsGrad(int slot) => HooksOf(slot) is { RetainNode: >= 0 };

    /// <summary>Forgets every hook of <paramref name="slot"/> (it is being released, or its history has ended).</summary>
    public void ClearHooks(int slot)
    {
        if (_hooks is not null && _hooks.Remove(slot)) HasAnyHooks = _hooks.Count > 0;
        Records[slot].Flags &= ~TensorFlags.HasHooks;
    }

    /// <summary>The root-scope collector compacted the tape: hooks follow their nodes to the new indices.</summary>
    private void RenumberHooks(int slot, int[] newIndex)
    {
        TensorHookSet? set = HooksOf(slot);
        if (set is null) return;
        for (int i = 0; i < set.Hooks.Length; i++)
        {
            TensorHook h = set.Hooks[i];
            if (h.Node >= 0) set.Hooks[i] = new TensorHook(h.Id, NewNodeIndex(newIndex, h.Node), h.Gradient, h.PostAccumulate);
        }
        if (set.RetainNode >= 0) set.RetainNode = NewNodeIndex(newIndex, set.RetainNode);
    }

    /// <summary>A dropped node maps to no node at all, never to -1 (which would bind the hook to the tensor as a leaf).</summary>
    private static int NewNodeIndex(int[] newIndex, int node) => newIndex[node] >= 0 ? newIndex[node] : int.MinValue;

    /// <summary>
    /// User hook code runs as user code: what it makes belongs to the caller's scope (not to the engine's
    /// rule temporaries), so it may keep it. Returns what <see cref="LeaveHook"/> restores.
    /// </summary>
    public int EnterHook()
    {
        int previous = _allocationDepth;
        _allocationDepth = _depth;
        RunningHooks++;
        return previous;
    }

    public void LeaveHook(int previous)
    {
        RunningHooks--;
        _allocationDepth = previous;
    }
}
