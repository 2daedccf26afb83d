using AutogradFast.Ops;
using AutogradFast.Storage;

namespace AutogradFast;

/// <summary>Autograd switches and lifetimes: no-grad regions, scopes, the random seed.</summary>
public static class Autograd
{
    /// <summary>
    /// <c>with torch.no_grad():</c> — inside the returned scope nothing is recorded. Dispose it
    /// (with <c>using</c>) to restore the previous mode.
    /// </summary>
    public static NoGradScope NoGrad()
    {
        TensorContext c = TensorContext.Current;
        bool previous = c.GradEnabled;
        c.GradEnabled = false;
        return new NoGradScope(c, previous);
    }

    /// <summary>
    /// Threads the library may use in total for one large kernel, the calling thread included
    /// (<c>torch.set_num_threads</c>). Defaults to the processor count. Results are bitwise identical
    /// for every setting: work is cut into chunks by size alone and combined in a fixed order.
    /// </summary>
    public static int NumThreads
    {
        get => Threading.WorkerPool.Threads;
        set => Threading.WorkerPool.Threads = value;
    }

    /// <summary><c>torch.set_num_threads(n)</c></summary>
    public static void SetNumThreads(int threads) => NumThreads = threads;

    /// <summary>
    /// Elementwise results with at least this many elements are deferred and fused on this thread
    /// (see Ops/Fusion.cs). Tests set 1 to run every graph through fusion.
    /// </summary>
    internal static int FusionMinElements
    {
        get => TensorContext.Current.FusionMinElements;
        set => TensorContext.Current.FusionMinElements = value;
    }

    /// <summary>Whether operations are being recorded on this thread.</summary>
    public static bool IsGradEnabled => TensorContext.Current.GradEnabled;

    /// <summary>
    /// Opens a child scope: every tensor, buffer and node created inside returns to the pool when it
    /// is disposed (a training step). Leaves created outside keep their .Grad.
    /// </summary>
    public static AutogradScope Scope()
    {
        TensorContext c = TensorContext.Current;
        return new AutogradScope(c, c.OpenScope());
    }

    /// <summary>
    /// <c>torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)</c>:
    /// the gradients of the outputs (weighted by <paramref name="gradOutputs"/>, or ones for one-element
    /// outputs) with respect to each input, leaf or not, returned without touching any <c>.Grad</c>.
    /// Only the part of the graph between them runs. With <paramref name="createGraph"/> the gradients
    /// carry their own graph, so they can be differentiated again (Hessians, gradient penalties); saved
    /// values are kept unless <paramref name="retainGraph"/> says otherwise (it defaults to createGraph).
    /// An input the outputs do not depend on is an error, or null with <paramref name="allowUnused"/>.
    /// </summary>
    public static Tensor?[] Grad(ReadOnlySpan<Tensor> outputs, ReadOnlySpan<Tensor> inputs, ReadOnlySpan<Tensor?> gradOutputs = default,
        bool? retainGraph = null, bool createGraph = false, bool allowUnused = false)
        => Graph.Engine.Grad(outputs, inputs, gradOutputs, retainGraph, createGraph, allowUnused);

    /// <summary><see cref="Grad(ReadOnlySpan{Tensor}, ReadOnlySpan{Tensor}, ReadOnlySpan{Tensor?}, bool?, bool, bool)"/> for one output and one input.</summary>
    public static Tensor? Grad(Tensor output, Tensor input, Tensor? gradOutput = null, bool? retainGraph = null, bool createGraph = false, bool allowUnused = false)
        => Graph.Engine.Grad([output], [input], [gradOutput], retainGraph, createGraph, allowUnused)[0];

    /// <summary><c>torch.manual_seed(seed)</c> for <c>Tensor.Rand</c> and <c>Tensor.Randn</c> of this flow's graph.</summary>
    public static void ManualSeed(ulong seed) => TensorContext.Current.Random = new RandomStream { Seed = seed, Counter = 0 };

    /// <summary>Live tensors and pooled bytes on this thread (to watch that a loop does not grow the pool).</summary>
    public static (int LiveTensors, long PooledBytes, int RecordedNodes) PoolStatistics()
    {
        TensorContext c = TensorContext.Current;
        return (c.LiveSlotCount, c.Pool.BytesOwned, c.NodeCount);
    }
}

/// <summary>Restores the previous grad mode when disposed.</summary>
public readonly struct NoGradScope : IDisposable
{
    private readonly TensorContext _context;
    private readonly bool _previous;

    internal NoGradScope(TensorContext context, bool previous)
    {
        _context = context;
        _previous = previous;
    }

    public void Dispose()
    {
        ThrowHelper.CheckScopeThread(_context, 0);
        _context.GradEnabled = _previous;
    }
}

/// <summary>A child scope of the thread's tensors; see <see cref="Autograd.Scope"/>.</summary>
public readonly struct AutogradScope : IDisposable
{
    private readonly TensorContext _context;
    private readonly int _id;

    internal AutogradScope(TensorContext context, int id)
    {
        _context = context;
        _id = id;
    }

    /// <summary>The scope's number, as named in errors about released tensors.</summary>
    public int Id => _id;

    /// <summary>
    /// Copies <paramref name="tensor"/>'s values into the enclosing scope, detached from the graph,
    /// so they outlive this scope.
    /// </summary>
    public Tensor Keep(Tensor tensor)
    {
        TensorContext c = tensor.Ctx;
        int temp = StridedCopy.CastToTemporary(c, tensor.Slot, c.Records[tensor.Slot].DType);
        c.AdoptIntoParentScope(temp);
        return new Tensor(c, temp);
    }

    public void Dispose()
    {
        ThrowHelper.CheckScopeThread(_context, _id);
        _context.CloseScope(_id);
    }
}
