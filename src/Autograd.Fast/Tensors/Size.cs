namespace AutogradFast;

/// <summary>A tensor's shape, printed as PyTorch prints <c>torch.Size</c>: <c>torch.Size([2, 1])</c>.</summary>
public readonly struct Size : IEquatable<Size>
{
    private readonly Dims _dims;

    public int Rank { get; }

    internal Size(in Dims dims, int rank)
    {
        _dims = dims;
        Rank = rank;
    }

    public Size(params ReadOnlySpan<int> dims) : this(Dims.From(dims), dims.Length) { }

    public int this[int dim] => (uint)dim < (uint)Rank ? _dims[dim] : throw new IndexOutOfRangeException($"Dimension {dim} is out of range for a shape of rank {Rank}.");

    public int NumEl => Dims.NumEl(AsSpan());

    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    public ReadOnlySpan<int> AsSpan() => _dims.AsSpan(Rank);

    public int[] ToArray() => AsSpan().ToArray();

    public bool Equals(Size other) => AsSpan().SequenceEqual(other.AsSpan());

    public override bool Equals(object? obj) => obj is Size s && Equals(s);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int d in AsSpan()) h.Add(d);
        return h.ToHashCode();
    }

    public static bool operator ==(Size a, Size b) => a.Equals(b);

    public static bool operator !=(Size a, Size b) => !a.Equals(b);

    public override string ToString() => $"torch.Size({Dims.Format(AsSpan())})";
}
