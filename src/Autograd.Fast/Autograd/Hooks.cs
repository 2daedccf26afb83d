using AutogradFast.Storage;

namespace AutogradFast.Graph;

/// <summary>
/// Runs the user's tensor hooks for the engine (Engine.cs calls in only where a flag says there are
/// some). A hook gets a normal tensor of the caller's scope, which it may keep: an engine temporary it
/// is shown is handed to that scope first, so the engine never writes into or releases it afterwards,
/// and what the hook computes is the caller's too (<see cref="TensorContext.EnterHook"/>).
/// </summary>
internal static class Hooks
{
    /// <summary>
    /// Runs <paramref name="slot"/>'s gradient hooks bound to <paramref name="node"/> (-1: the leaf's) in
    /// registration order, each on the previous one's result; returns the gradient to use from now on.
    /// </summary>
    public static int RunGradientHooks(TensorContext c, int slot, int node, int grad)
    {
        TensorHookSet? set = c.HooksOf(slot);
        if (set is null) return grad;
        TensorHook[] hooks = set.Hooks;
        int first = 0;
        while (first < hooks.Length && (hooks[first].Gradient is null || hooks[first].Node != node)) first++;
        if (first == hooks.Length) return grad;
        if (c.IsEngineOwned(grad)) c.AdoptIntoCurrentScope(grad);
        int previous = c.EnterHook();
        try
        {
            for (int i = first; i < hooks.Length; i++)
            {
                Func<Tensor, Tensor?>? hook = hooks[i].Gradient;
                if (hook is null || hooks[i].Node != node) continue;
                if (hook(new Tensor(c, grad)) is { } replacement) grad = Checked(c, replacement, grad, i);
            }
        }
        finally
        {
            c.LeaveHook(previous);
        }
        return grad;
    }

    /// <summary>A hook's replacement must be the gradient's kind of tensor: same graph, dtype and shape (PyTorch's check_variable_result).</summary>
    private static int Checked(TensorContext c, Tensor replacement, int grad, int hookIndex)
    {
        if (replacement.Ctx != c) ThrowHelper.ForeignTensor<int>();
        ref TensorRecord g = ref c.Records[grad];
        ref TensorRecord r = ref c.Records[replacement.Slot];
        if (r.DType != g.DType) ThrowHelper.HookChangedType(hookIndex, r.DType, g.DType);
        if (!Ops.Broadcasting.SameShape(r, g)) ThrowHelper.HookChangedSize(hookIndex, new Size(r.Shape, r.Rank), new Size(g.Shape, g.Rank));
        return replacement.Slot;
    }

    /// <summary>Whether the gradient of <paramref name="slot"/> at <paramref name="node"/> is kept in its .Grad (RetainGrad).</summary>
    public static bool RetainsGradAt(TensorContext c, int slot, int node) => c.HooksOf(slot) is { } set && set.RetainNode == node;

    /// <summary>A leaf's post-accumulate hooks, in registration order, after its .Grad was written.</summary>
    public static void RunPostAccumulateHooks(TensorContext c, int leaf)
    {
        TensorHookSet? set = c.HooksOf(leaf);
        if (set is null) return;
        TensorHook[] hooks = set.Hooks;
        int previous = c.EnterHook();
        try
        {
            foreach (TensorHook h in hooks) h.PostAccumulate?.Invoke(new Tensor(c, leaf));
        }
        finally
        {
            c.LeaveHook(previous);
        }
    }
}
