namespace AutogradFast.Storage;

/// <summary>
/// Forward-mode AD's side table: the tangent of each dual tensor (a slot of this context), present
/// only while a dual level is active. A tangent is held like a <c>.Grad</c> (its holders count in
/// <see cref="TensorRecord.GradHolders"/>): it outlives its scope while a primal holds it and is
/// released when the last primal lets go (the primal's release, a new tangent, or the level's end).
/// </summary>
internal sealed partial class TensorContext
{
    /// <summary><see cref="TensorFlags.HasTangent"/> while a dual level is active and no tangent is being computed, else none: ops test their inputs' flags against it.</summary>
    public TensorFlags TangentMask
    {
        get => _tangentMask;
        set
        {
            _tangentMask = value;
            UpdateRecordMask();
        }
    }

    private TensorFlags _tangentMask;

    public bool DualLevelActive;

    private int[] _tangentOf = [];

    public int TangentOf(int slot) => (Records[slot].Flags & TensorFlags.HasTangent) != 0 ? _tangentOf[slot] : -1;

    /// <summary>Makes <paramref name="tangent"/> the tangent of <paramref name="slot"/>, letting go of the previous one.</summary>
    public void SetTangent(int slot, int tangent)
    {
        if (slot >= _tangentOf.Length) Array.Resize(ref _tangentOf, Math.Max(slot + 1, Math.Max(64, _tangentOf.Length * 2)));
        ref TensorRecord t = ref Records[tangent];
        // A temporary of the engine or of a rule is released by whoever made it: the primal owns it from now on.
        if (t.ScopeDepth is TensorRecord.EngineTemporary or TensorRecord.RuleTemporary) t.ScopeDepth = TensorRecord.OwnedByLeaves;
        t.GradHolders++;
        int previous = TangentOf(slot);
        _tangentOf[slot] = tangent;
        Records[slot].Flags |= TensorFlags.HasTangent;
        if (previous >= 0) LetGoOfGrad(previous);
    }

    public void DropTangent(int slot)
    {
        int tangent = TangentOf(slot);
        Records[slot].Flags &= ~TensorFlags.HasTangent;
        if (tangent >= 0) LetGoOfGrad(tangent);
    }

    /// <summary>Ends the dual level: every tangent is let go of.</summary>
    public void ExitDualLevel()
    {
        DualLevelActive = false;
        TangentMask = TensorFlags.None;
        int n = Math.Min(_tangentOf.Length, _recordCount);
        for (int slot = 0; slot < n; slot++)
            if ((Records[slot].Flags & (TensorFlags.Live | TensorFlags.HasTangent)) == (TensorFlags.Live | TensorFlags.HasTangent)) DropTangent(slot);
    }
}
