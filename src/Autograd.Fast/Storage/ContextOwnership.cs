using System.Runtime.CompilerServices;

namespace AutogradFast.Storage;

/// <summary>
/// Which thread may use a context, and how a context follows one logical flow across awaits.
/// <para>A context is held by at most one thread at a time (<see cref="_holder"/>). The thread's
/// current context (<see cref="PerThread.Current"/>, a [ThreadStatic] the JIT inlines) is the fast path of
/// every handle check. A context is bound to the async flow that made it (an AsyncLocal, so it flows
/// into the continuations of awaits); when a thread stops running a flow (the execution context is
/// switched away, at an await, at the end of a thread-pool work item or of a thread), the thread lets
/// go of every context it holds. The next thread to use one of them takes it: a continuation after an
/// await carries on with the same graph. A thread that finds a context held by another waits a moment
/// for it to be let go (a continuation can start before the thread it continues has finished
/// unwinding), and then refuses: two threads never use one graph at once.</para>
/// </summary>
internal sealed partial class TensorContext : HandleOwner
{
    /// <summary>
    /// The thread statics, in a class of their own: it has no static constructor (TensorContext has,
    /// for its other statics), so NativeAOT reads them without a class-initialisation check, and every
    /// handle check reads <see cref="Current"/>.
    /// </summary>
    private static class PerThread
    {
        [ThreadStatic] public static TensorContext? Current;
        [ThreadStatic] public static TensorContext?[]? Held;
        [ThreadStatic] public static int HeldCount;
    }

    private static readonly AsyncLocal<FlowBinding?> s_flow = new(OnFlowChanged);

    /// <summary>How long a thread waits for another to let go of a context before it calls the use concurrent.</summary>
    private static readonly TimeSpan s_handoverWait = TimeSpan.FromMilliseconds(250);

    /// <summary>The flow's binding to this context (what the AsyncLocal carries).</summary>
    private readonly FlowBinding _binding;

    /// <summary>Managed id of the thread that holds this context, 0 when none does.</summary>
    private volatile int _holder;

    private TensorContext() : base(null)
    {
        _binding = new FlowBinding(this);
        _frames[0] = new ScopeFrame { Id = 0, NodeStart = 0, OwnedSlots = [], OwnedCount = 0 };
    }

    /// <summary>The context of the calling flow (made on first use): where factories put new tensors.</summary>
    public static TensorContext Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => PerThread.Current ?? CurrentSlow();
    }

    /// <summary>This thread's current context if it has one (handle checks must not create one).</summary>
    public static TensorContext? CurrentOrNull
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => PerThread.Current;
    }

    /// <summary>The managed id of the thread holding this context (0: none), for messages.</summary>
    public int HolderThreadId => _holder;

    /// <summary>Sends this thread's next use of this context down the slow path (where a due collection runs).</summary>
    private void ForgetCurrentOnThisThread()
    {
        if (PerThread.Current == this) PerThread.Current = null;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static TensorContext CurrentSlow()
    {
        if (PerThread.Current is null && s_flow.Value is { } flow && flow.Context._holder == Environment.CurrentManagedThreadId)
        {
            flow.Context.CollectIfDue(); // a factory or scope call is between ops
            return PerThread.Current = flow.Context;
        }
        // Carry on with the flow's graph (after an await), unless another thread is using it: a thread
        // started from a flow (which inherits its binding) then gets a graph of its own, as before.
        if (s_flow.Value is { } bound && bound.Context.TryHold(waitForOtherThread: false)) return PerThread.Current = bound.Context;
        var context = new TensorContext();
        context.TryHold(waitForOtherThread: false);
        s_flow.Value = context._binding;
        return PerThread.Current = context;
    }

    /// <summary>
    /// The slow path of a handle check: the handle's context becomes this thread's current one if this
    /// thread holds it, or can take it (it is idle, or its holder lets go within the hand-over wait).
    /// </summary>
    public static bool TryEnter(TensorContext c)
    {
        if (!c.TryHold(waitForOtherThread: true)) return false;
        c.CollectIfDue(); // a handle check is between ops
        PerThread.Current = c;
        if (s_flow.Value is null) s_flow.Value = c._binding; // so that this flow lets go of it at its next await
        return true;
    }

    private bool TryHold(bool waitForOtherThread)
    {
        int me = Environment.CurrentManagedThreadId;
        if (_holder == me) return true;
        if (Interlocked.CompareExchange(ref _holder, me, 0) != 0)
        {
            if (!waitForOtherThread || !WaitForRelease(me)) return false;
        }
        RememberHeld(this);
        return true;
    }

    private bool WaitForRelease(int me)
    {
        long deadline = Environment.TickCount64 + (long)s_handoverWait.TotalMilliseconds;
        var spin = new SpinWait();
        while (Environment.TickCount64 < deadline)
        {
            spin.SpinOnce(sleep1Threshold: 20);
            if (Interlocked.CompareExchange(ref _holder, me, 0) == 0) return true;
        }
        return false;
    }

    private static void RememberHeld(TensorContext c)
    {
        PerThread.Held ??= new TensorContext?[4];
        for (int i = 0; i < PerThread.HeldCount; i++)
            if (PerThread.Held[i] == c) return;
        if (PerThread.HeldCount == PerThread.Held.Length) Array.Resize(ref PerThread.Held, PerThread.Held.Length * 2);
        PerThread.Held[PerThread.HeldCount++] = c;
    }

    /// <summary>The execution context of this thread changed: if it ran a flow with a graph, the thread lets go of what it holds.</summary>
    private static void OnFlowChanged(AsyncLocalValueChangedArgs<FlowBinding?> args)
    {
        if (!args.ThreadContextChanged || args.PreviousValue is null) return; // the flow set it itself, or switched in
        int me = Environment.CurrentManagedThreadId;
        for (int i = 0; i < PerThread.HeldCount; i++)
        {
            TensorContext c = PerThread.Held![i]!;
            Interlocked.CompareExchange(ref c._holder, 0, me);
            PerThread.Held[i] = null;
        }
        PerThread.HeldCount = 0;
        PerThread.Current = null;
    }

    /// <summary>What an AsyncLocal carries from a flow into its continuations.</summary>
    private sealed class FlowBinding(TensorContext context)
    {
        public readonly TensorContext Context = context;
    }
}
