using System.Globalization;
using System.Numerics;
using System.Text;

namespace AutogradFast;

/// <summary>
/// Builds the exact text of PyTorch 1.13's <c>repr(tensor)</c> (torch/_tensor_str.py) with the
/// default print options: precision 4, threshold 1000, edgeitems 3, linewidth 80, sci_mode auto.
/// </summary>
internal static class TensorFormatter
{
    private const int Precision = 4;
    private const int Threshold = 1000;
    private const int EdgeItems = 3;
    private const int LineWidth = 80;
    private const string Prefix = "tensor(";

    /// <summary>
    /// Formats a CPU tensor the way PyTorch's <c>repr</c> does.
    /// </summary>
    /// <param name="dtype">Element type.</param>
    /// <param name="shape">Sizes; empty for a 0-d tensor, may contain 0.</param>
    /// <param name="floats">Row-major values for Float32/Float64 (Float32 already widened to double).</param>
    /// <param name="ints">Row-major values for Int64, or 0/1 for Bool.</param>
    /// <param name="gradFnName">Backward node name, e.g. <c>MulBackward0</c>; null for leaves.</param>
    /// <param name="requiresGrad">Leaf requires grad; printed only when <paramref name="gradFnName"/> is null.</param>
    public static string Format(
        DType dtype,
        ReadOnlySpan<int> shape,
        ReadOnlySpan<double> floats,
        ReadOnlySpan<long> ints,
        string? gradFnName,
        bool requiresGrad)
    {
        long numel = 1;
        foreach (int size in shape)
        {
            if (size < 0) throw new ArgumentException("Sizes must be non-negative.", nameof(shape));
            numel = checked(numel * size);
        }

        bool floating = dtype.IsFloatingPoint();
        int supplied = floating ? floats.Length : ints.Length;
        if (supplied != numel)
        {
            throw new ArgumentException(
                $"Expected {numel} values for shape {ShapeTuple(shape)}, got {supplied}.",
                floating ? nameof(floats) : nameof(ints));
        }

        var suffixes = new List<string>(3);
        string body;
        if (numel == 0)
        {
            // PyTorch spells out the size unless it is (0,), as NumPy does, and always names a
            // non-default dtype because no elements hint at it.
            if (shape.Length != 1) suffixes.Add("size=" + ShapeTuple(shape));
            if (dtype != DType.Float32) suffixes.Add("dtype=" + dtype.TorchName());
            body = "[]";
        }
        else
        {
            // Int64 and Bool count as default dtypes (their elements show the type); Float64 does not.
            if (dtype == DType.Float64) suffixes.Add("dtype=" + dtype.TorchName());
            var data = new Data(dtype, floats, ints);
            body = TensorBody(data, shape, Prefix.Length);
        }

        if (gradFnName is not null) suffixes.Add("grad_fn=<" + gradFnName + ">");
        else if (requiresGrad) suffixes.Add("requires_grad=True");

        return AddSuffixes(Prefix + body, suffixes);
    }

    /// <summary>Python's <c>str(tuple(shape))</c>: <c>(2, 0)</c>, <c>(0,)</c>, <c>()</c>.</summary>
    private static string ShapeTuple(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("(");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i].ToString(CultureInfo.InvariantCulture));
        }

        if (shape.Length == 1) sb.Append(',');
        return sb.Append(')').ToString();
    }

    /// <summary>
    /// Appends suffixes after the body, moving one to its own line when it would pass the line width.
    /// Mirrors <c>_add_suffixes</c>, including its quirk of counting the last line as 2 longer than
    /// it is when the body has no newline (Python's <c>rfind</c> returns -1).
    /// </summary>
    private static string AddSuffixes(string text, List<string> suffixes)
    {
        var sb = new StringBuilder(text);
        int lastLineLength = text.Length - text.LastIndexOf('\n') + 1;
        foreach (string suffix in suffixes)
        {
            if (lastLineLength + suffix.Length + 2 > LineWidth)
            {
                sb.Append(",\n").Append(' ', Prefix.Length).Append(suffix);
                lastLineLength = Prefix.Length + suffix.Length;
            }
            else
            {
                sb.Append(", ").Append(suffix);
                lastLineLength += suffix.Length + 2;
            }
        }

        return sb.Append(')').ToString();
    }

    /// <summary>The bracketed contents for a non-empty tensor (<c>_tensor_str</c>).</summary>
    private static string TensorBody(Data data, ReadOnlySpan<int> shape, int indent)
    {
        int[] strides = new int[shape.Length];
        int stride = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = stride;
            stride *= shape[d];
        }

        // Above the threshold only the edge items are printed, and only they decide the format.
        bool summarize = stride > Threshold;
        var layout = new Layout(shape.ToArray(), strides, summarize);
        var formatter = new ElementFormatter(data, layout.VisibleIndices());

        if (shape.Length == 0) return formatter.Format(0);

        var sb = new StringBuilder();
        AppendSlice(sb, layout, formatter, 0, 0, indent);
        return sb.ToString();
    }

    /// <summary>Writes the sub-tensor at <paramref name="offset"/> spanning dims <paramref name="dim"/>.. (<c>_tensor_str_with_formatter</c>).</summary>
    private static void AppendSlice(StringBuilder sb, Layout layout, ElementFormatter formatter, int dim, int offset, int indent)
    {
        if (dim == layout.Shape.Length - 1)
        {
            AppendVector(sb, layout, formatter, dim, offset, indent);
            return;
        }

        // Slices of a k-d block are separated by k-1 newlines, so 3-d and up get blank lines.
        int remainingDims = layout.Shape.Length - dim;
        string separator = "," + new string('\n', remainingDims - 1) + new string(' ', indent + 1);

        sb.Append('[');
        bool first = true;
        foreach (int i in layout.VisiblePositions(dim))
        {
            if (!first) sb.Append(separator);
            first = false;
            if (i < 0) sb.Append("...");
            else AppendSlice(sb, layout, formatter, dim + 1, offset + (i * layout.Strides[dim]), indent + 1);
        }

        sb.Append(']');
    }

    /// <summary>Writes a 1-d row, wrapping so that lines fit the line width (<c>_vector_str</c>).</summary>
    private static void AppendVector(StringBuilder sb, Layout layout, ElementFormatter formatter, int dim, int offset, int indent)
    {
        // Every element is padded to the common width and followed by ", ".
        int elementLength = formatter.Width + 2;
        int perLine = Math.Max(1, FloorDiv(LineWidth - indent, elementLength));
        string lineBreak = ",\n" + new string(' ', indent + 1);

        sb.Append('[');
        int column = 0;
        foreach (int i in layout.VisiblePositions(dim))
        {
            if (column == perLine)
            {
                sb.Append(lineBreak);
                column = 0;
            }
            else if (column > 0)
            {
                sb.Append(", ");
            }

            // The ellipsis takes a slot in the line like an element does.
            sb.Append(i < 0 ? " ..." : formatter.Format(offset + (i * layout.Strides[dim])));
            column++;
        }

        sb.Append(']');
    }

    // Python's int(math.floor(a / b)) for b > 0.
    private static int FloorDiv(int a, int b) => (int)Math.Floor((double)a / b);

    /// <summary>Read access to the values of either kind.</summary>
    private sealed class Data(DType dtype, ReadOnlySpan<double> floats, ReadOnlySpan<long> ints)
    {
        // Copied so the formatter can hold them across the recursion (spans cannot live in a class).
        private readonly double[] _floats = floats.ToArray();
        private readonly long[] _ints = ints.ToArray();

        public DType DType { get; } = dtype;

        public double Float(int index) => _floats[index];

        public long Int(int index) => _ints[index];
    }

    /// <summary>Shape plus which positions of each dim are printed when summarizing.</summary>
    private sealed class Layout(int[] shape, int[] strides, bool summarize)
    {
        public int[] Shape { get; } = shape;

        public int[] Strides { get; } = strides;

        /// <summary>Positions along <paramref name="dim"/> in print order; -1 marks the ellipsis.</summary>
        public IEnumerable<int> VisiblePositions(int dim)
        {
            int size = Shape[dim];
            if (summarize && size > 2 * EdgeItems)
            {
                for (int i = 0; i < EdgeItems; i++) yield return i;
                yield return -1;
                for (int i = size - EdgeItems; i < size; i++) yield return i;
            }
            else
            {
                for (int i = 0; i < size; i++) yield return i;
            }
        }

        /// <summary>Flat indices of every printed element (<c>get_summarized_data</c>).</summary>
        public List<int> VisibleIndices()
        {
            var result = new List<int>();
            Collect(0, 0, result);
            return result;
        }

        private void Collect(int dim, int offset, List<int> result)
        {
            if (dim == Shape.Length)
            {
                result.Add(offset);
                return;
            }

            foreach (int i in VisiblePositions(dim))
            {
                if (i >= 0) Collect(dim + 1, offset + (i * Strides[dim]), result);
            }
        }
    }

    /// <summary>
    /// PyTorch's <c>_Formatter</c>: picks one style and width for all printed elements.
    /// Floats print as integers with a trailing dot when every finite value is integral
    /// (<c>int_mode</c>), in scientific notation when magnitudes span too wide a range
    /// (<c>sci_mode</c>), and otherwise with 4 decimals.
    /// </summary>
    private sealed class ElementFormatter
    {
        private readonly Data _data;
        private readonly bool _intMode = true;
        private readonly bool _sciMode;

        public ElementFormatter(Data data, List<int> indices)
        {
            _data = data;
            Width = 1;

            if (!data.DType.IsFloatingPoint())
            {
                foreach (int index in indices) Width = Math.Max(Width, Text(index).Length);
                return;
            }

            // Zeros and non-finite values take no part in choosing the style or the width.
            var values = new List<double>();
            foreach (int index in indices)
            {
                double v = data.Float(index);
                if (double.IsFinite(v) && v != 0) values.Add(v);
            }

            if (values.Count == 0) return;

            double min = double.PositiveInfinity, max = 0;
            foreach (double v in values)
            {
                double abs = Math.Abs(v);
                min = Math.Min(min, abs);
                max = Math.Max(max, abs);
                if (v != Math.Ceiling(v)) _intMode = false;
            }

            // int_mode has no small-magnitude trigger: integers are never below 1.
            _sciMode = max / min > 1000.0 || max > 1.0e8 || (!_intMode && min < 1.0e-4);

            foreach (double v in values)
            {
                int length = _sciMode ? Scientific(v).Length
                    : _intMode ? Fixed(v, 0).Length + 1 // + 1 for the trailing "."
                    : Fixed(v, Precision).Length;
                Width = Math.Max(Width, length);
            }
        }

        public int Width { get; }

        /// <summary>The element at flat <paramref name="index"/>, right-aligned to <see cref="Width"/>.</summary>
        public string Format(int index)
        {
            // A value wider than Width (e.g. "-0." beside "1.") is left unpadded, as in Python.
            string text = Text(index);
            return text.Length >= Width ? text : text.PadLeft(Width);
        }

        private string Text(int index)
        {
            switch (_data.DType)
            {
                case DType.Bool:
                    return _data.Int(index) != 0 ? "True" : "False";
                case DType.Int64:
                    return _data.Int(index).ToString(CultureInfo.InvariantCulture);
                default:
                    double v = _data.Float(index);
                    if (!double.IsFinite(v)) return NonFinite(v); // never gets the int-mode dot
                    if (_sciMode) return Scientific(v);
                    return _intMode ? Fixed(v, 0) + "." : Fixed(v, Precision);
            }
        }
    }

    /// <summary>Python's text for nan and infinities; the sign of a NaN is not printed.</summary>
    private static string NonFinite(double v) =>
        double.IsNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";

    /// <summary>
    /// Python's <c>'{:.Nf}'.format(v)</c> for finite v: exact value, rounded half to even, with the
    /// sign kept for negative values that round to zero (<c>-0.0000</c>).
    /// Done with exact arithmetic because runtime formatting of exact ties differs between .NET versions.
    /// </summary>
    private static string Fixed(double v, int digits)
    {
        var (num, den) = ExactRatio(Math.Abs(v));
        BigInteger scaled = RoundHalfEven(num * BigInteger.Pow(10, digits), den);
        string text = scaled.ToString(CultureInfo.InvariantCulture).PadLeft(digits + 1, '0');
        if (digits > 0) text = text.Insert(text.Length - digits, ".");
        return double.IsNegative(v) ? "-" + text : text;
    }

    /// <summary>
    /// Python's <c>'{:.4e}'.format(v)</c> for finite v: <c>d.dddde+XX</c> with at least two exponent
    /// digits (.NET's "E4" would give three), rounded half to even on the exact value.
    /// </summary>
    private static string Scientific(double v)
    {
        string sign = double.IsNegative(v) ? "-" : "";
        double abs = Math.Abs(v);
        if (abs == 0) return sign + "0." + new string('0', Precision) + "e+00";

        var (num, den) = ExactRatio(abs);

        // Find the decimal exponent e with 10^e <= abs < 10^(e+1); the estimate can be off by one.
        int exponent = (int)Math.Floor(Math.Log10(abs));
        while (Compare(num, den, exponent) < 0) exponent--;
        while (Compare(num, den, exponent + 1) >= 0) exponent++;

        // Scale to Precision+1 significant digits as an integer.
        int shift = Precision - exponent;
        BigInteger mantissa = shift >= 0
            ? RoundHalfEven(num * BigInteger.Pow(10, shift), den)
            : RoundHalfEven(num, den * BigInteger.Pow(10, -shift));
        if (mantissa == BigInteger.Pow(10, Precision + 1))
        {
            // Rounded up to the next power of ten (9.99996 -> 10.0000): renormalize.
            mantissa /= 10;
            exponent++;
        }

        string digits = mantissa.ToString(CultureInfo.InvariantCulture);
        return sign + digits[..1] + "." + digits[1..] + "e" + (exponent < 0 ? "-" : "+")
            + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);
    }

    /// <summary>Sign of num/den - 10^exponent.</summary>
    private static int Compare(BigInteger num, BigInteger den, int exponent) => exponent >= 0
        ? num.CompareTo(den * BigInteger.Pow(10, exponent))
        : (num * BigInteger.Pow(10, -exponent)).CompareTo(den);

    /// <summary>The exact value of a finite non-negative double as num/den with den a power of two.</summary>
    private static (BigInteger Num, BigInteger Den) ExactRatio(double abs)
    {
        long bits = BitConverter.DoubleToInt64Bits(abs);
        int biasedExponent = (int)((bits >> 52) & 0x7FF);
        long fraction = bits & ((1L << 52) - 1);

        // Subnormals have no implicit leading bit and the minimum exponent.
        long significand = biasedExponent == 0 ? fraction : fraction | (1L << 52);
        int exponent = (biasedExponent == 0 ? 1 : biasedExponent) - 1075;

        return exponent >= 0
            ? (new BigInteger(significand) << exponent, BigInteger.One)
            : (new BigInteger(significand), BigInteger.One << -exponent);
    }

    private static BigInteger RoundHalfEven(BigInteger num, BigInteger den)
    {
        BigInteger quotient = BigInteger.DivRem(num, den, out BigInteger remainder);
        int half = (remainder * 2).CompareTo(den);
        return half > 0 || (half == 0 && !quotient.IsEven) ? quotient + 1 : quotient;
    }
}
