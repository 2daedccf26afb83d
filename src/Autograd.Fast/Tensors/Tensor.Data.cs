using AutogradFast.Ops;
using AutogradFast.Storage;

namespace AutogradFast;

public readonly partial struct Tensor
{
    /// <summary><c>x.item()</c>: the value of a one-element tensor, as a double (exact for every dtype we hold but huge int64).</summary>
    public unsafe double Item()
    {
        TensorContext c = Ctx;
        ref TensorRecord r = ref c.Records[Slot];
        if (r.NumEl != 1) ThrowHelper.ItemOfMany(r.NumEl);
        return r.DType switch
        {
            DType.Float32 => *c.Pointer<float>(Slot),
            DType.Float64 => *c.Pointer<double>(Slot),
            DType.Int64 => *c.Pointer<long>(Slot),
            _ => *c.Pointer<bool>(Slot) ? 1 : 0,
        };
    }

    /// <summary><c>x.item()</c> read as T; T must match the dtype (float, double, long, bool).</summary>
    public unsafe T Item<T>() where T : unmanaged
    {
        TensorContext c = Ctx;
        ref TensorRecord r = ref c.Records[Slot];
        if (r.NumEl != 1) ThrowHelper.ItemOfMany(r.NumEl);
        if (!Holds<T>(r.DType)) ThrowHelper.ElementTypeMismatch(r.DType, $"Item<{typeof(T).Name}>()");
        return *c.Pointer<T>(Slot); // one element: its address is the tensor's, whatever the strides
    }

    /// <summary>Computes a deferred (fused) result into memory now; any read does this by itself (benchmarks time it).</summary>
    internal void Evaluate()
    {
        TensorContext c = Ctx;
        if (c.Records[Slot].IsPending) c.Materialize(Slot);
    }

    /// <summary>All elements in row-major order (<c>x.tolist()</c> flattened); T must match the dtype.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        if (!Holds<T>(DType)) ThrowHelper.ElementTypeMismatch(DType, $"ToArray<{typeof(T).Name}>()");
        var result = new T[NumEl()];
        CopyTo<T>(result);
        return result;
    }

    /// <summary>Copies all elements in row-major order into <paramref name="destination"/> without allocating.</summary>
    public unsafe void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        TensorContext c = Ctx;
        ref TensorRecord r = ref c.Records[Slot];
        if (!Holds<T>(r.DType)) ThrowHelper.ElementTypeMismatch(r.DType, $"CopyTo<{typeof(T).Name}>(span)");
        if (destination.Length < r.NumEl)
            throw new ArgumentException($"CopyTo<{typeof(T).Name}>(span): the destination holds {destination.Length} elements; the tensor has {r.NumEl}.", nameof(destination));
        fixed (T* d = destination) StridedCopy.ToContiguous(c, Slot, d);
    }

    /// <summary>Whether T is <paramref name="dtype"/>'s element type (folds to one compare per T: no Type objects).</summary>
    internal static bool Holds<T>(DType dtype) => dtype switch
    {
        DType.Float32 => typeof(T) == typeof(float),
        DType.Float64 => typeof(T) == typeof(double),
        DType.Int64 => typeof(T) == typeof(long),
        _ => typeof(T) == typeof(bool),
    };
}

/// <summary>Turns a tensor into PyTorch's repr via <see cref="TensorFormatter"/>.</summary>
internal static class TensorPrinter
{
    public static string Repr(Tensor t)
    {
        DType dtype = t.DType;
        Size shape = t.Shape;
        double[] floats = [];
        long[] ints = [];
        switch (dtype)
        {
            case DType.Float32:
                floats = Array.ConvertAll(t.ToArray<float>(), v => (double)v);
                break;
            case DType.Float64:
                floats = t.ToArray<double>();
                break;
            case DType.Int64:
                ints = t.ToArray<long>();
                break;
            default:
                ints = Array.ConvertAll(t.ToArray<bool>(), v => v ? 1L : 0L);
                break;
        }
        bool leafRequiringGrad = t.RequiresGrad && t.IsLeaf;
        return TensorFormatter.Format(dtype, shape.AsSpan(), floats, ints, t.GradFn, leafRequiringGrad);
    }
}
