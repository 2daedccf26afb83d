using System.Diagnostics;
using System.Runtime.CompilerServices;
using AutogradFast.Graph;

namespace AutogradFast.Storage;

/// <summary>
/// Grad mode, inference mode and anomaly mode of one graph. Ops read only <see cref="GradEnabled"/>
/// (record or not) and the recorder only <see cref="AnomalyEnabled"/>: every other mode costs nothing
/// until a tensor meets the place where it matters (saving for backward, an in-place write).
/// </summary>
internal sealed partial class TensorContext
{
    /// <summary>Ops record now: grad mode is on and inference mode is off.</summary>
    public bool GradEnabled
    {
        get => _gradEnabled;
        set
        {
            _gradEnabled = value;
            UpdateRecordMask();
        }
    }

    private bool _gradEnabled = true;

    /// <summary>
    /// The input flags that make an op call the recorder: <see cref="TensorFlags.RequiresGrad"/> while
    /// <see cref="GradEnabled"/>, and <see cref="TensorFlags.HasTangent"/> while a dual level propagates
    /// tangents. One AND per op instead of two tests (the recorder's check is on every op's path).
    /// </summary>
    public TensorFlags RecordMask = TensorFlags.RequiresGrad;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // twice per backward (grad mode off and back)
    private void UpdateRecordMask() => RecordMask = (_gradEnabled ? TensorFlags.RequiresGrad : TensorFlags.None) | _tangentMask;

    /// <summary><c>torch.is_inference_mode_enabled()</c>: tensors made now are inference tensors.</summary>
    public bool InferenceMode;

    /// <summary><c>torch.is_grad_enabled()</c> while <see cref="InferenceMode"/> is on, where nothing records whatever it says.</summary>
    private bool _gradModeInInference;

    /// <summary>What a new tensor record's flags start as: inference tensors are made in inference mode.</summary>
    private TensorFlags _newTensorFlags = TensorFlags.Live;

    /// <summary><c>torch.is_grad_enabled()</c>.</summary>
    public bool IsGradMode => InferenceMode ? _gradModeInInference : GradEnabled;

    /// <summary><c>torch.set_grad_enabled(enabled)</c>: inside inference mode it changes what is reported, not what records.</summary>
    public void SetGradMode(bool enabled)
    {
        if (InferenceMode) _gradModeInInference = enabled;
        else GradEnabled = enabled;
    }

    /// <summary>
    /// <c>c10::InferenceMode(enabled)</c>: inference mode on with grad mode off, or (false) off with
    /// grad mode on, as PyTorch's guard sets both.
    /// </summary>
    public void SetInferenceMode(bool enabled)
    {
        InferenceMode = enabled;
        _gradModeInInference = false;
        GradEnabled = !enabled;
        _newTensorFlags = enabled ? TensorFlags.Live | TensorFlags.IsInference : TensorFlags.Live;
    }

    /// <summary>The three switches together, for a scope to restore.</summary>
    public (bool Grad, bool Inference, bool GradInInference) GradModes => (GradEnabled, InferenceMode, _gradModeInInference);

    public void RestoreGradModes((bool Grad, bool Inference, bool GradInInference) modes)
    {
        SetInferenceMode(modes.Inference);
        GradEnabled = modes.Grad;
        _gradModeInInference = modes.GradInInference;
    }

    // ---- anomaly mode ----------------------------------------------------------------------------

    /// <summary><c>torch.is_anomaly_enabled()</c>: the recorder captures each node's forward call site.</summary>
    public bool AnomalyEnabled;

    /// <summary><c>torch.is_anomaly_check_nan_enabled()</c>: backward checks each rule's outputs for NaN/Inf.</summary>
    public bool AnomalyCheckNan = true;

    /// <summary>Called by the recorder for every node while anomaly mode is on (the only place it costs anything).</summary>
    public void CaptureCallSite(int node) => ObjectsOf(node).CallSite = new StackTrace(1, fNeedFileInfo: true);

    /// <summary>
    /// Where node <paramref name="node"/> was recorded, if anomaly mode was on then: the user's frames
    /// (the first one is the call that made it, e.g. <c>at MyModel.Forward() in Model.cs:line 12</c>),
    /// the library's own frames left out; null when no site was captured. In-place recording uses it
    /// with <see cref="CallSiteHere"/> to name both the forward call that saved a value and the
    /// mutation that overwrote it.
    /// </summary>
    public string? AnomalyCallSite(int node) => CallSiteOf(node) is { } trace ? UserFrames(trace) : null;

    /// <summary>
    /// Anomaly mode, before an in-place write into <paramref name="slot"/>'s memory: a value a node saved
    /// for its backward (and still holds) that the write would overwrite fails the write itself, naming
    /// the node, the forward call that recorded it and this call (PyTorch finds it at backward only).
    /// It walks the tape: anomaly mode is for debugging.
    /// </summary>
    private void CheckWriteUnderAnomaly(int slot)
    {
        for (int i = 0; i < NodeCount; i++)
        {
            ref Node n = ref Nodes[i];
            if ((n.Flags & (NodeFlags.SavesValues | NodeFlags.SavedReleased)) != NodeFlags.SavesValues) continue;
            CheckNotOverwritten(i, n.Self, slot);
            CheckNotOverwritten(i, n.Other, slot);
            CheckNotOverwritten(i, n.Result, slot);
            if (n.Kind == OpKind.Custom)
            {
                foreach (SavedValue saved in FunctionOf(i).Saved) CheckNotOverwritten(i, saved, slot);
            }
        }
    }

    private void CheckNotOverwritten(int node, in SavedValue saved, int written)
    {
        if (saved.Slot < 0 || !SharesMemory(saved.Slot, written) || Version(saved.Slot) != saved.Version) return;
        ref TensorRecord r = ref Records[saved.Slot];
        ThrowHelper.SavedValueWrittenUnderAnomaly(new Size(r.Shape, r.Rank), r.DType, NodeName(node), AnomalyCallSite(node), CallSiteHere());
    }

    /// <summary>The user's frames of the current call (the library's left out), formatted as <see cref="AnomalyCallSite"/>.</summary>
    public static string CallSiteHere() => UserFrames(new StackTrace(1, fNeedFileInfo: true));

    /// <summary>Frames outside the library (the call into it first), one per line; on NativeAOT without file and line.</summary>
    private static string UserFrames(StackTrace trace)
    {
        var text = new System.Text.StringBuilder();
        int count = 0;
#if NET9_0_OR_GREATER
        for (int i = 0; i < trace.FrameCount && count < MaxUserFrames; i++)
        {
            StackFrame? frame = trace.GetFrame(i);
            if (frame is null) continue;
            DiagnosticMethodInfo? method = DiagnosticMethodInfo.Create(frame); // no reflection: safe under NativeAOT
            if (method is null || method.DeclaringAssemblyName is { } assembly && IsLibraryAssembly(assembly)) continue;
            if (count++ > 0) text.Append('\n');
            text.Append("  at ").Append(method.DeclaringTypeName).Append('.').Append(method.Name);
            if (frame.GetFileName() is { } file) text.Append(" in ").Append(file).Append(":line ").Append(frame.GetFileLineNumber());
        }
#else
        // .NET 8 has no reflection-free way to ask a frame for its assembly: read the formatted trace
        // and leave out the frames of the library's namespaces and public types.
        foreach (string line in trace.ToString().Split('\n'))
        {
            string frame = line.Trim();
            if (frame.Length == 0 || IsLibraryFrame(frame)) continue;
            if (count++ > 0) text.Append('\n');
            text.Append("  ").Append(frame);
            if (count == MaxUserFrames) break;
        }
#endif
        return count == 0 ? "  (no frame outside Autograd.Fast)" : text.ToString();
    }

    private const int MaxUserFrames = 8;

#if NET9_0_OR_GREATER
    private const string LibraryAssembly = "Autograd.Fast";

    private static bool IsLibraryAssembly(string assemblyName)
        => assemblyName.StartsWith(LibraryAssembly, StringComparison.Ordinal)
            && (assemblyName.Length == LibraryAssembly.Length || assemblyName[LibraryAssembly.Length] == ',');
#else
    private static readonly string[] s_libraryPrefixes =
    [
        "at AutogradFast.Graph.", "at AutogradFast.Ops.", "at AutogradFast.Storage.", "at AutogradFast.Simd.",
        "at AutogradFast.Threading.", "at AutogradFast.LinearAlgebra.", "at AutogradFast.Tensor.", "at AutogradFast.Autograd.",
        "at AutogradFast.ThrowHelper.", "at AutogradFast.Size.", "at AutogradFast.TensorPrinter.",
    ];

    private static bool IsLibraryFrame(string frame)
    {
        foreach (string prefix in s_libraryPrefixes)
            if (frame.StartsWith(prefix, StringComparison.Ordinal)) return true;
        return false;
    }
#endif
}
