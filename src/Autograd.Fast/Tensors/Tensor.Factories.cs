using AutogradFast.Storage;

namespace AutogradFast;

public readonly partial struct Tensor
{
    // ---- from values (torch.tensor) ----

    /// <summary>A 0-d float32 tensor (<c>torch.tensor(3.0)</c>).</summary>
    public static Tensor From(float value, bool requiresGrad = false) => FromSpan([value], [], requiresGrad);

    /// <summary>A 0-d float64 tensor.</summary>
    public static Tensor From(double value, bool requiresGrad = false) => FromSpan([value], [], requiresGrad);

    /// <summary>A 0-d int64 tensor (<c>torch.tensor(54)</c>).</summary>
    public static Tensor From(long value) => FromSpan([value], [], false);

    /// <summary>A 0-d bool tensor.</summary>
    public static Tensor From(bool value) => FromSpan([value], [], false);

    public static Tensor From(float[] values, bool requiresGrad = false) => FromSpan<float>(values, [values.Length], requiresGrad);

    public static Tensor From(double[] values, bool requiresGrad = false) => FromSpan<double>(values, [values.Length], requiresGrad);

    public static Tensor From(long[] values) => FromSpan<long>(values, [values.Length], false);

    /// <summary>Integers become int64, as Python ints do in <c>torch.tensor([1, 7, -2])</c>.</summary>
    public static Tensor From(int[] values) => FromSpan<long>(Array.ConvertAll(values, v => (long)v), [values.Length], false);

    public static Tensor From(bool[] values) => FromSpan<bool>(values, [values.Length], false);

    public static Tensor From(float[,] values, bool requiresGrad = false) => FromSpan(Flatten(values), [values.GetLength(0), values.GetLength(1)], requiresGrad);

    public static Tensor From(double[,] values, bool requiresGrad = false) => FromSpan(Flatten(values), [values.GetLength(0), values.GetLength(1)], requiresGrad);

    public static Tensor From(long[,] values) => FromSpan(Flatten(values), [values.GetLength(0), values.GetLength(1)], false);

    public static Tensor From(int[,] values) => FromSpan(Array.ConvertAll(Flatten(values), v => (long)v), [values.GetLength(0), values.GetLength(1)], false);

    /// <summary>A tensor of the given shape over a copy of row-major <paramref name="values"/>.</summary>
    public static unsafe Tensor FromSpan<T>(ReadOnlySpan<T> values, ReadOnlySpan<int> shape, bool requiresGrad = false) where T : unmanaged
    {
        DType dtype = DTypeOf<T>();
        if (values.Length != Dims.NumEl(shape)) ThrowHelper.DataShapeMismatch(values.Length, shape);
        TensorContext c = TensorContext.Current;
        int slot = c.NewTensor(dtype, shape, zero: false);
        values.CopyTo(new Span<T>(c.Pointer<T>(slot), values.Length));
        var t = new Tensor(c, slot);
        if (requiresGrad) t.SetRequiresGrad(true, RequiresGradCall.Factory);
        return t;
    }

    private static T[] Flatten<T>(T[,] values)
    {
        var flat = new T[values.Length];
        int k = 0;
        foreach (T v in values) flat[k++] = v;
        return flat;
    }

    internal static DType DTypeOf<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DType.Float32;
        if (typeof(T) == typeof(double)) return DType.Float64;
        if (typeof(T) == typeof(long)) return DType.Int64;
        if (typeof(T) == typeof(bool)) return DType.Bool;
        throw new NotSupportedException($"Element type {typeof(T).Name} is not a tensor dtype; use float, double, long or bool.");
    }

    // ---- filled factories ----


    /// <summary><c>torch.zeros(*shape)</c></summary>
    public static Tensor Zeros(ReadOnlySpan<int> shape, DType dtype = DType.Float32, bool requiresGrad = false) => Full(shape, 0, dtype, requiresGrad);


    /// <summary><c>torch.ones(*shape)</c></summary>
    public static Tensor Ones(ReadOnlySpan<int> shape, DType dtype = DType.Float32, bool requiresGrad = false) => Full(shape, 1, dtype, requiresGrad);

    public static Tensor ZerosLike(Tensor other, bool requiresGrad = false) => Full(other.Shape.AsSpan(), 0, other.DType, requiresGrad);

    public static Tensor OnesLike(Tensor other, bool requiresGrad = false) => Full(other.Shape.AsSpan(), 1, other.DType, requiresGrad);

    /// <summary><c>torch.full(shape, value)</c></summary>
    public static Tensor Full(ReadOnlySpan<int> shape, double value, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        TensorContext c = TensorContext.Current;
        int slot = c.NewTensor(dtype, shape, zero: value == 0 && !double.IsNegative(value));
        var t = new Tensor(c, slot);
        if (value != 0 || double.IsNegative(value)) Ops.Fill.Scalar(c, slot, value);
        if (requiresGrad) t.SetRequiresGrad(true, RequiresGradCall.Factory);
        return t;
    }

    // Shapes by rank, so `Tensor.Zeros(2, 1)` and `Tensor.Rand(1, requiresGrad: true)` read as in PyTorch.
    // Any rank: pass a collection, `Tensor.Zeros([2, 3, 4])`.

    /// <summary><c>torch.zeros(d0)</c></summary>
    public static Tensor Zeros(int d0, DType dtype = DType.Float32, bool requiresGrad = false) => Zeros([d0], dtype, requiresGrad);

    /// <summary><c>torch.zeros(d0, d1)</c></summary>
    public static Tensor Zeros(int d0, int d1, DType dtype = DType.Float32, bool requiresGrad = false) => Zeros([d0, d1], dtype, requiresGrad);

    /// <summary><c>torch.ones(d0)</c></summary>
    public static Tensor Ones(int d0, DType dtype = DType.Float32, bool requiresGrad = false) => Ones([d0], dtype, requiresGrad);

    /// <summary><c>torch.ones(d0, d1)</c></summary>
    public static Tensor Ones(int d0, int d1, DType dtype = DType.Float32, bool requiresGrad = false) => Ones([d0, d1], dtype, requiresGrad);

    /// <summary><c>torch.rand(d0)</c></summary>
    public static Tensor Rand(int d0, DType dtype = DType.Float32, bool requiresGrad = false) => Rand([d0], dtype, requiresGrad);

    /// <summary><c>torch.rand(d0, d1)</c></summary>
    public static Tensor Rand(int d0, int d1, DType dtype = DType.Float32, bool requiresGrad = false) => Rand([d0, d1], dtype, requiresGrad);

    /// <summary><c>torch.randn(d0)</c></summary>
    public static Tensor Randn(int d0, DType dtype = DType.Float32, bool requiresGrad = false) => Randn([d0], dtype, requiresGrad);

    /// <summary><c>torch.randn(d0, d1)</c></summary>
    public static Tensor Randn(int d0, int d1, DType dtype = DType.Float32, bool requiresGrad = false) => Randn([d0, d1], dtype, requiresGrad);

    // ---- ranges ----

    /// <summary><c>torch.arange(end)</c> with an integer end: int64 unless <paramref name="dtype"/> says otherwise.</summary>
    public static Tensor Arange(long end, DType dtype = DType.Int64, bool requiresGrad = false) => Arange(0, end, 1, dtype, requiresGrad);

    /// <summary><c>torch.arange(end)</c> with a floating end: float32, as in PyTorch.</summary>
    public static Tensor Arange(double end, DType dtype = DType.Float32, bool requiresGrad = false) => Arange(0, end, 1, dtype, requiresGrad);

    /// <summary><c>torch.arange(start, end, step)</c></summary>
    public static Tensor Arange(double start, double end, double step, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        if (step == 0) throw new ArgumentException("step must be nonzero", nameof(step));
        if ((end - start) / step < 0) throw new ArgumentException($"upper bound and larger bound inconsistent with step sign (start {start}, end {end}, step {step})");
        int n = checked((int)Math.Ceiling((end - start) / step));
        TensorContext c = TensorContext.Current;
        int slot = c.NewTensor(dtype, [n], zero: false);
        Ops.Fill.Range(c, slot, start, step);
        var t = new Tensor(c, slot);
        if (requiresGrad) t.SetRequiresGrad(true, RequiresGradCall.Factory);
        return t;
    }

    // ---- random ----


    public static Tensor Rand(ReadOnlySpan<int> shape, DType dtype = DType.Float32, bool requiresGrad = false)
        => Random(shape, dtype, requiresGrad, normal: false);


    public static Tensor Randn(ReadOnlySpan<int> shape, DType dtype = DType.Float32, bool requiresGrad = false)
        => Random(shape, dtype, requiresGrad, normal: true);

    private static Tensor Random(ReadOnlySpan<int> shape, DType dtype, bool requiresGrad, bool normal)
    {
        if (!dtype.IsFloatingPoint()) ThrowHelper.FloatingPointRequired(normal ? "randn" : "rand", dtype);
        TensorContext c = TensorContext.Current;
        int slot = c.NewTensor(dtype, shape, zero: false);
        Ops.Fill.Random(c, slot, normal);
        var t = new Tensor(c, slot);
        if (requiresGrad) t.SetRequiresGrad(true, RequiresGradCall.Factory);
        return t;
    }
}
