using AutogradFast.Ops;
using AutogradFast.Storage;

namespace AutogradFast;

/// <summary>Autograd switches and lifetimes: grad, inference and anomaly modes, scopes, the random seed.</summary>
public static partial class Autograd
{
    /// <summary>
    /// <c>with torch.no_grad():</c> — inside the returned scope nothing is recorded. Dispose it
    /// (with <c>using</c>) to restore the previous mode.
    /// </summary>
    public static GradModeScope NoGrad() => SetGradEnabled(false);

    /// <summary>
    /// <c>with torch.enable_grad():</c> — ops record again inside the scope, also within
    /// <see cref="NoGrad"/> (within <see cref="InferenceMode"/> grad mode reads as on, but nothing records).
    /// </summary>
    public static GradModeScope EnableGrad() => SetGradEnabled(true);

    /// <summary>
    /// <c>torch.set_grad_enabled(enabled)</c>, both of its uses: it switches grad mode now, and the
    /// scope it returns switches the previous mode back when disposed. As a setter, ignore the
    /// result (<c>Autograd.SetGradEnabled(false);</c>); as <c>with torch.set_grad_enabled(False):</c>,
    /// write <c>using (Autograd.SetGradEnabled(false)) { ... }</c>.
    /// </summary>
    public static GradModeScope SetGradEnabled(bool enabled)
    {
        TensorContext c = TensorContext.Current;
        var scope = new GradModeScope(c, c.GradModes);
        c.SetGradMode(enabled);
        return scope;
    }

    /// <summary>
    /// <c>with torch.inference_mode(enabled):</c> — inside, nothing is recorded (even under
    /// <see cref="EnableGrad"/>) and every tensor made, other than a view of a normal tensor, is an
    /// inference tensor (<see cref="Tensor.IsInference"/>): it may never be saved for backward, nor be
    /// written in place once the mode is over. <c>InferenceMode(false)</c> switches it off for a
    /// nested region, and turns grad mode on, as PyTorch's guard does.
    /// </summary>
    public static GradModeScope InferenceMode(bool enabled = true)
    {
        TensorContext c = TensorContext.Current;
        var scope = new GradModeScope(c, c.GradModes);
        c.SetInferenceMode(enabled);
        return scope;
    }

    /// <summary><c>torch.is_inference_mode_enabled()</c></summary>
    public static bool IsInferenceModeEnabled => TensorContext.Current.InferenceMode;

    /// <summary>
    /// <c>with torch.autograd.detect_anomaly(check_nan):</c> — while on, every recorded node keeps the
    /// stack of the forward call that recorded it, and a backward rule that returns NaN or Inf raises
    /// <see cref="InvalidOperationException"/> naming the node (<c>Function 'MulBackward0' returned nan
    /// values in its 0th output.</c>) and the forward call. PyTorch checks NaN only; a node whose outputs
    /// hold Inf but no NaN fails too (<c>returned inf values</c>), as an Inf gradient is as sure a sign of
    /// trouble. It slows recording and backward down: for debugging only.
    /// </summary>
    public static AnomalyModeScope DetectAnomaly(bool checkNan = true) => SetDetectAnomaly(true, checkNan);

    /// <summary>
    /// <c>torch.autograd.set_detect_anomaly(mode, check_nan)</c>: switches anomaly mode now; the scope
    /// it returns restores the previous setting when disposed (ignore it to use this as a setter).
    /// </summary>
    public static AnomalyModeScope SetDetectAnomaly(bool mode, bool checkNan = true)
    {
        TensorContext c = TensorContext.Current;
        var scope = new AnomalyModeScope(c, c.AnomalyEnabled, c.AnomalyCheckNan);
        c.AnomalyEnabled = mode;
        c.AnomalyCheckNan = checkNan;
        return scope;
    }

    /// <summary><c>torch.is_anomaly_enabled()</c></summary>
    public static bool IsAnomalyEnabled => TensorContext.Current.AnomalyEnabled;

    /// <summary><c>torch.is_anomaly_check_nan_enabled()</c></summary>
    public static bool IsAnomalyCheckNanEnabled => TensorContext.Current.AnomalyCheckNan;

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

    /// <summary><c>torch.is_grad_enabled()</c>: grad mode on this flow (inside <see cref="InferenceMode"/> nothing records even when it is on).</summary>
    public static bool IsGradEnabled => TensorContext.Current.IsGradMode;

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

/// <summary>
/// Restores the grad mode and inference mode that were in force before it was made (see
/// <see cref="Autograd.NoGrad"/>, <see cref="Autograd.EnableGrad"/>, <see cref="Autograd.SetGradEnabled"/>,
/// <see cref="Autograd.InferenceMode"/>).
/// </summary>
public readonly struct GradModeScope : IDisposable
{
    private readonly TensorContext _context;
    private readonly (bool Grad, bool Inference, bool GradInInference) _previous;

    internal GradModeScope(TensorContext context, (bool, bool, bool) previous)
    {
        _context = context;
        _previous = previous;
    }

    public void Dispose()
    {
        ThrowHelper.CheckScopeThread(_context, 0);
        _context.RestoreGradModes(_previous);
    }
}

/// <summary>Restores the anomaly mode that was in force before it was made (see <see cref="Autograd.DetectAnomaly"/>).</summary>
public readonly struct AnomalyModeScope : IDisposable
{
    private readonly TensorContext _context;
    private readonly bool _previous, _previousCheckNan;

    internal AnomalyModeScope(TensorContext context, bool previous, bool previousCheckNan)
    {
        _context = context;
        _previous = previous;
        _previousCheckNan = previousCheckNan;
    }

    public void Dispose()
    {
        ThrowHelper.CheckScopeThread(_context, 0);
        _context.AnomalyEnabled = _previous;
        _context.AnomalyCheckNan = _previousCheckNan;
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
