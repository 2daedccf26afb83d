using System.Globalization;

namespace AutogradFast.Tests.LayoutMatrix;

/// <summary>How an operand's elements sit in memory. Every layout holds the same logical values.</summary>
public enum Layout
{
    /// <summary>Row-major, offset 0.</summary>
    Contiguous,
    /// <summary>Every other element of a wider base along the last dimension, starting at element 1 (strided and misaligned).</summary>
    Strided,
    /// <summary>The last two dimensions of a contiguous base swapped (rank 2 and up).</summary>
    Transposed,
    /// <summary>A stride-0 view: the first dimension of size &gt; 1 repeats one row (its values are generated to repeat).</summary>
    Expanded,
    /// <summary>The second half of a contiguous base of twice the size (offset, contiguous).</summary>
    Offset,
}

/// <summary>
/// One operand of the layout matrix: its logical shape, dtype and layout. <see cref="Build"/> makes
/// the tensor under test and its dense twin (a fresh contiguous tensor of the same values, built from
/// the values themselves, never through a library copy), and poisons every base element the view
/// does not show, so an op that reads outside its operand shows up as a wrong value.
/// </summary>
public sealed record OperandSpec(int[] Shape, DType DType, Layout Layout)
{
    /// <summary>What the base holds outside the view (no op's result or pool value is ever 97).</summary>
    public const double Poison = 97;

    public override string ToString()
        => $"{DType}{Dims(Shape)}:{Layout}";

    private static string Dims(int[] shape) => "[" + string.Join(",", shape) + "]";

    /// <summary>Whether this layout exists for the shape (a transposed 1-D tensor or an expanded one without a dimension above 1 does not).</summary>
    public bool IsApplicable => Layout switch
    {
        Layout.Strided => Shape.Length >= 1 && Shape[^1] > 0,
        Layout.Transposed => Shape.Length >= 2,
        Layout.Expanded => ExpandedDim >= 0,
        _ => true,
    };

    private int ExpandedDim => Array.FindIndex(Shape, d => d > 1);

    public int NumEl => Shape.Aggregate(1, (a, b) => a * b);

    /// <summary>Logical values (row-major), drawn from a pool with ties, repeated along the expanded dimension for <see cref="Layout.Expanded"/>.</summary>
    public double[] Values(Random rng, Domain domain)
    {
        double[] values = new double[NumEl];
        for (int i = 0; i < values.Length; i++) values[i] = Draw(rng, domain);
        if (Layout != Layout.Expanded) return values;
        int dim = ExpandedDim;
        int inner = Shape.Skip(dim + 1).Aggregate(1, (a, b) => a * b);
        for (int i = 0; i < values.Length; i++)
        {
            int within = i / inner % Shape[dim];
            values[i] = values[i - within * inner];
        }
        return values;
    }

    private double Draw(Random rng, Domain domain)
    {
        switch (DType)
        {
            case DType.Bool: return rng.Next(2);
            case DType.Int64: return domain == Domain.Positive ? rng.Next(1, 4) : rng.Next(-3, 4);
            default:
                double[] pool = domain == Domain.Positive ? [0.5, 1, 1.5, 2, 3.25] : [-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3.25];
                return pool[rng.Next(pool.Length)];
        }
    }

    /// <summary>The operand in this layout, and its dense twin, both holding <paramref name="values"/>.</summary>
    public (Tensor Tested, Tensor Dense) Build(double[] values)
    {
        var (tested, dense, _) = BuildWithBase(values);
        return (tested, dense);
    }

    /// <summary>As <see cref="Build"/>, with the tensor whose storage the tested view shows (itself when contiguous).</summary>
    public (Tensor Tested, Tensor Dense, Tensor Base) BuildWithBase(double[] values)
    {
        Tensor dense = FromValues(values, Shape);
        Tensor baseTensor;
        switch (Layout)
        {
            case Layout.Contiguous:
                baseTensor = FromValues(values, Shape);
                break;
            case Layout.Strided:
            {
                // base[..., 1 + 2j] = value[..., j], poison elsewhere; the view is base[..., 1::2].
                int n = Shape[^1];
                int[] baseShape = [.. Shape[..^1], 2 * n + 1];
                double[] b = Filled(baseShape, Poison);
                for (int i = 0; i < values.Length; i++) b[i / n * (2 * n + 1) + 1 + 2 * (i % n)] = values[i];
                baseTensor = FromValues(b, baseShape);
                break;
            }
            case Layout.Transposed:
            {
                int r = Shape.Length;
                int[] baseShape = [.. Shape[..^2], Shape[^1], Shape[^2]];
                int rows = Shape[^2], cols = Shape[^1];
                double[] b = new double[values.Length];
                for (int i = 0; i < values.Length; i++)
                {
                    int batch = i / (rows * cols), row = i / cols % rows, col = i % cols;
                    b[batch * rows * cols + col * rows + row] = values[i];
                }
                baseTensor = FromValues(b, baseShape);
                break;
            }
            case Layout.Expanded:
            {
                int dim = ExpandedDim;
                int[] small = (int[])Shape.Clone();
                small[dim] = 1;
                int inner = Shape.Skip(dim + 1).Aggregate(1, (a, b) => a * b);
                int outer = Shape.Take(dim).Aggregate(1, (a, b) => a * b);
                double[] b = new double[outer * inner];
                for (int o = 0; o < outer; o++)
                    for (int k = 0; k < inner; k++) b[o * inner + k] = values[(o * Shape[dim]) * inner + k];
                baseTensor = FromValues(b, small);
                break;
            }
            default:
            {
                double[] b = [.. Filled(Shape, Poison), .. values];
                baseTensor = FromValues(b, [2, .. Shape]);
                break;
            }
        }
        return (ViewOf(baseTensor), dense, baseTensor);
    }

    /// <summary>The view of <paramref name="baseTensor"/> (as <see cref="BuildWithBase"/> built it, or a tensor of its shape) that has this layout.</summary>
    public Tensor ViewOf(Tensor baseTensor) => Layout switch
    {
        Layout.Contiguous => baseTensor,
        Layout.Strided => baseTensor.Slice(-1, 1, 2 * Shape[^1] + 1, 2),
        Layout.Transposed => baseTensor.Transpose(Shape.Length - 2, Shape.Length - 1),
        Layout.Expanded => baseTensor.Expand(Shape),
        _ => baseTensor[1],
    };

    private static double[] Filled(int[] shape, double value) => Enumerable.Repeat(value, shape.Aggregate(1, (a, b) => a * b)).ToArray();

    private Tensor FromValues(double[] values, int[] shape) => DType switch
    {
        DType.Float32 => Tensor.FromSpan<float>(values.Select(v => (float)v).ToArray(), shape),
        DType.Float64 => Tensor.FromSpan<double>(values, shape),
        DType.Int64 => Tensor.FromSpan<long>(values.Select(v => (long)v).ToArray(), shape),
        _ => Tensor.FromSpan<bool>(values.Select(v => v != 0).ToArray(), shape),
    };

    /// <summary>Every layout of one shape and dtype that applies to it.</summary>
    public static IEnumerable<OperandSpec> AllLayouts(int[] shape, DType dtype)
        => Enum.GetValues<Layout>().Select(l => new OperandSpec(shape, dtype, l)).Where(s => s.IsApplicable);

    public static readonly DType[] DTypes = [DType.Bool, DType.Int64, DType.Float32, DType.Float64];
}

/// <summary>Where an op's inputs are drawn from: anywhere in a signed pool with ties, or positive only (log, fractional powers).</summary>
public enum Domain { Any, Positive }

/// <summary>What a tensor holds, as comparable values (NaN equal to NaN, -0.0 distinct from 0.0).</summary>
internal readonly record struct Observed(DType DType, int[] Shape, double[] Values, bool RequiresGrad, string? GradFn)
{
    public static Observed Of(Tensor t)
    {
        double[] values = t.DType switch
        {
            DType.Float32 => Array.ConvertAll(t.ToArray<float>(), v => (double)v),
            DType.Float64 => t.ToArray<double>(),
            DType.Int64 => Array.ConvertAll(t.ToArray<long>(), v => (double)v),
            _ => Array.ConvertAll(t.ToArray<bool>(), v => v ? 1.0 : 0.0),
        };
        return new Observed(t.DType, t.Shape.AsSpan().ToArray(), values, t.RequiresGrad, t.GradFn);
    }

    /// <summary>The first difference from <paramref name="expected"/>, or null when both hold the same bits.</summary>
    public string? Difference(Observed expected)
    {
        if (DType != expected.DType) return $"dtype {DType}, dense {expected.DType}";
        if (!Shape.SequenceEqual(expected.Shape)) return $"shape [{string.Join(",", Shape)}], dense [{string.Join(",", expected.Shape)}]";
        if (RequiresGrad != expected.RequiresGrad) return $"requires_grad {RequiresGrad}, dense {expected.RequiresGrad}";
        if (GradFn != expected.GradFn) return $"grad_fn {GradFn}, dense {expected.GradFn}";
        for (int i = 0; i < Values.Length; i++)
        {
            double a = Values[i], b = expected.Values[i];
            bool same = double.IsNaN(a) ? double.IsNaN(b) : BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b);
            if (!same)
                return string.Create(CultureInfo.InvariantCulture, $"[{i}] = {a:R}, dense {b:R} (values [{string.Join(", ", Values.Take(12))}], dense [{string.Join(", ", expected.Values.Take(12))}])");
        }
        return null;
    }
}
