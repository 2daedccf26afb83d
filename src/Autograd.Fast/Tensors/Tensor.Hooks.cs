using AutogradFast.Graph;
using AutogradFast.Storage;

namespace AutogradFast;

public readonly partial struct Tensor
{
    /// <summary>
    /// <c>x.register_hook(hook)</c>: <paramref name="hook"/> runs each time this tensor's gradient is
    /// computed, once on the summed gradient, and may return a replacement (same shape and dtype) or
    /// null to keep it. Several hooks run in registration order, each on the previous one's result. On a
    /// leaf the result is what goes into <c>.Grad</c>; on a non-leaf it is what flows on to the tensor's
    /// inputs (and what <see cref="RetainGrad"/> keeps). Hooks also run under <see cref="Autograd.Grad(ReadOnlySpan{Tensor}, ReadOnlySpan{Tensor}, ReadOnlySpan{Tensor?}, bool?, bool, bool)"/>,
    /// and under createGraph the gradient they get carries a graph. The gradient is an ordinary tensor of
    /// the scope that called Backward: the hook may keep it. The hook belongs to this tensor's current
    /// producer (as PyTorch binds it to the grad_fn of the moment) and dies with the tensor.
    /// </summary>
    /// <returns>A handle whose <see cref="RemovableHandle.Remove"/> (or Dispose) removes the hook.</returns>
    public RemovableHandle RegisterHook(Func<Tensor, Tensor?> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        TensorContext c = Ctx;
        if ((c.Records[Slot].Flags & TensorFlags.RequiresGrad) == 0) ThrowHelper.HookOnTensorWithoutGrad();
        return new RemovableHandle(c, Slot, Generation, c.AddHook(Slot, hook, null));
    }

    /// <summary>
    /// <c>x.register_post_accumulate_grad_hook(hook)</c> (PyTorch 2.1): on a leaf, <paramref name="hook"/>
    /// runs with this tensor after a backward pass has written its <c>.Grad</c> (not under Autograd.Grad,
    /// which writes none); an optimizer step per parameter is the classic use.
    /// </summary>
    public RemovableHandle RegisterPostAccumulateGradHook(Action<Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        TensorContext c = Ctx;
        ref TensorRecord r = ref c.Records[Slot];
        if ((r.Flags & TensorFlags.RequiresGrad) == 0) ThrowHelper.HookOnTensorWithoutGrad();
        if (r.Node >= 0) ThrowHelper.PostAccumulateHookOnNonLeaf();
        return new RemovableHandle(c, Slot, Generation, c.AddHook(Slot, null, hook));
    }

    /// <summary>
    /// <c>y.retain_grad()</c>: a non-leaf keeps its gradient in <c>.Grad</c> after backward (accumulating
    /// over passes, as a leaf's does); it is the gradient after this tensor's hooks. A no-op on a leaf.
    /// </summary>
    public void RetainGrad()
    {
        TensorContext c = Ctx;
        ref TensorRecord r = ref c.Records[Slot];
        if ((r.Flags & TensorFlags.RequiresGrad) == 0) ThrowHelper.RetainGradWithoutGrad();
        if (r.Node < 0) return; // a leaf's .Grad is kept anyway
        c.RetainGrad(Slot);
    }

    /// <summary><c>y.retains_grad</c>: whether <see cref="RetainGrad"/> was called on this non-leaf (false for leaves, as PyTorch).</summary>
    public bool RetainsGrad
    {
        get
        {
            TensorContext c = Ctx;
            return c.Records[Slot].Node >= 0 && c.RetainsGrad(Slot);
        }
    }
}

/// <summary>
/// What <see cref="Tensor.RegisterHook"/> and <see cref="Tensor.RegisterPostAccumulateGradHook"/> return
/// (PyTorch's <c>RemovableHandle</c>): <see cref="Remove"/> takes the hook off its tensor. Removing twice,
/// or after the tensor was released (its hooks went with it), does nothing.
/// </summary>
public sealed class RemovableHandle : IDisposable
{
    private readonly TensorContext _context;
    private readonly int _slot;
    private readonly int _generation;
    private readonly long _id;
    private bool _removed;

    internal RemovableHandle(TensorContext context, int slot, int generation, long id)
    {
        _context = context;
        _slot = slot;
        _generation = generation;
        _id = id;
    }

    /// <summary><c>handle.remove()</c></summary>
    public void Remove()
    {
        if (_removed) return;
        if (_context != TensorContext.CurrentOrNull && !TensorContext.TryEnter(_context)) ThrowHelper.HookHandleOnWrongThread();
        if (_context.Records[_slot].Generation == _generation) _context.RemoveHook(_slot, _id);
        _removed = true;
    }

    /// <summary>Removes the hook (so <c>using var h = x.RegisterHook(...)</c> scopes a hook to a block).</summary>
    public void Dispose() => Remove();
}
