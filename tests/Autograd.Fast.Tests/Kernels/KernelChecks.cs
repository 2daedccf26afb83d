using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using AutogradFast.LinearAlgebra;
using AutogradFast.Ops;
using AutogradFast.Simd;
using AutogradFast.Storage;

namespace AutogradFast.Tests.Kernels;

/// <summary>One named group of kernel checks; <see cref="Run"/> returns its failures (empty when it passes).</summary>
public sealed class KernelCheck(string name, Func<IReadOnlyList<string>> run)
{
    public string Name { get; } = name;

    public IReadOnlyList<string> Run() => run();

    public override string ToString() => Name;
}

/// <summary>
/// Exhaustive checks of the SIMD kernels (elementwise driver and operators, reductions, comparisons,
/// GEMM, broadcasting executor and SumToShape) against scalar references. Plain methods returning
/// failure strings, so they run both inside xunit (<see cref="KernelTests"/>) and in a child process
/// started with some instruction sets disabled (<see cref="KernelCheckProgram"/>), which is how every
/// vector width's code path gets exercised on one machine.
/// <para>
/// Tolerances: every elementwise result must be bit-identical (NaN: any NaN) to the operator's own
/// scalar <c>Invoke&lt;T&gt;</c>, whatever width, alignment, operand kind or aliasing computed it.
/// Independently of the operator code, each result is also checked against a formula evaluated in
/// double: exact (after rounding to T) for add, subtract, multiply, divide, negate, copy, square,
/// relu and relu-backward (double rounding of one +,-,*,/ is innocuous since 53 &gt;= 2*24+2); within
/// 4 ulp(T) of the magnitude of the terms for composite formulas; exact (wrapping) for int64.
/// </para>
/// </summary>
public static unsafe class KernelChecks
{
    /// <summary>Lengths every elementwise, comparison and reduction check runs: all of 0..70 and a few large ones.</summary>
    public static readonly int[] Lengths = [.. Enumerable.Range(0, 71), 127, 128, 129, 1000, 4097];

    private const int MaxLength = 4097;

    /// <summary>Elements of guard before every operand and destination (at least one Vector512 of any T).</summary>
    private const int Guard = 64;

    private const int Capacity = Guard + 4 + MaxLength + Guard;

    private const int MaxFailuresListed = 25;

    private static readonly Lazy<IReadOnlyList<KernelCheck>> s_all = new(BuildAll);

    /// <summary>Every check group, in a stable order.</summary>
    public static IReadOnlyList<KernelCheck> All => s_all.Value;

    public static KernelCheck Get(string name) => All.First(c => c.Name == name);

    /// <summary>The accelerated widths of this process, as the child process reports them.</summary>
    public static string AcceleratedWidths() => string.Create(
        CultureInfo.InvariantCulture,
        $"Vector512={Vector512.IsHardwareAccelerated} Vector256={Vector256.IsHardwareAccelerated} Vector128={Vector128.IsHardwareAccelerated}");

    // ---- registry ------------------------------------------------------------------------------

    private sealed record OpSpec(
        Type Operator,
        string Name,
        Func<double, double, double, double> Formula,
        Func<double, double, double, double>? Magnitude, // null: exact after rounding to T
        Func<long, long, long, long>? Int64Formula);     // null: not integer-safe

    private static IReadOnlyList<OpSpec> Specs { get; } =
    [
        new(typeof(AddOperator), "Add", (x, y, _) => x + y, null, (x, y, _) => unchecked(x + y)),
        new(typeof(SubtractOperator), "Subtract", (x, y, _) => x - y, null, (x, y, _) => unchecked(x - y)),
        new(typeof(MultiplyOperator), "Multiply", (x, y, _) => x * y, null, (x, y, _) => unchecked(x * y)),
        new(typeof(DivideOperator), "Divide", (x, y, _) => x / y, null, null),
        new(typeof(NegateOperator), "Negate", (x, _, _) => -x, null, (x, _, _) => unchecked(0 - x)),
        new(typeof(MultiplyAddOperator), "MultiplyAdd", (x, y, z) => Math.FusedMultiplyAdd(x, y, z),
            (x, y, z) => Math.Abs(x * y) + Math.Abs(z), (x, y, z) => unchecked(x * y + z)),
        new(typeof(ReluOperator), "Relu", (x, _, _) => double.IsNaN(x) ? x : x > 0 ? x : 0.0, null, (x, _, _) => x > 0 ? x : 0),
        new(typeof(TanhGradOperator), "TanhGrad", (g, y, _) => g * (1 - y * y), (g, y, _) => Math.Abs(g) * (1 + y * y), null),
        new(typeof(SigmoidGradOperator), "SigmoidGrad", (g, y, _) => g * (1 - y) * y, (g, y, _) => Math.Abs(g) * (1 + Math.Abs(y)) * Math.Abs(y), null),
        new(typeof(ReluGradOperator), "ReluGrad", (g, y, _) => y > 0 ? g : 0.0, null, null),
        new(typeof(CopyOperator), "Copy", (x, _, _) => x, null, (x, _, _) => x),
        new(typeof(SelectOperator), "Select", (x, y, z) => x != 0 ? y : z, null, (x, y, z) => x != 0 ? y : z),
        new(typeof(GradTimesScaledOperator), "GradTimesScaled", (g, y, z) => g * (z * y), (g, y, z) => Math.Abs(g * y * z), null),
        new(typeof(SquareOperator), "Square", (x, _, _) => x * x, null, (x, _, _) => unchecked(x * x)),
        new(typeof(CubeOperator), "Cube", (x, _, _) => x * x * x, (x, _, _) => Math.Abs(x * x * x), (x, _, _) => unchecked(x * x * x)),
        new(typeof(ExpOperator), "Exp", (x, _, _) => Math.Exp(x), (x, _, _) => Math.Exp(x), null),
    ];

    private static IReadOnlyList<KernelCheck> BuildAll()
    {
        var all = new List<KernelCheck>();
        foreach (OpSpec spec in Specs)
        {
            // One generic instantiation per operator: the switch is the only place naming the structs.
            Action<List<KernelCheck>, OpSpec> add = spec.Name switch
            {
                "Add" => AddGroups<AddOperator>,
                "Subtract" => AddGroups<SubtractOperator>,
                "Multiply" => AddGroups<MultiplyOperator>,
                "Divide" => AddGroups<DivideOperator>,
                "Negate" => AddGroups<NegateOperator>,
                "MultiplyAdd" => AddGroups<MultiplyAddOperator>,
                "Relu" => AddGroups<ReluOperator>,
                "TanhGrad" => AddGroups<TanhGradOperator>,
                "SigmoidGrad" => AddGroups<SigmoidGradOperator>,
                "ReluGrad" => AddGroups<ReluGradOperator>,
                "Copy" => AddGroups<CopyOperator>,
                "Select" => AddGroups<SelectOperator>,
                "GradTimesScaled" => AddGroups<GradTimesScaledOperator>,
                "Square" => AddGroups<SquareOperator>,
                "Cube" => AddGroups<CubeOperator>,
                "Exp" => AddGroups<ExpOperator>,
                _ => throw new InvalidOperationException(spec.Name),
            };
            add(all, spec);
        }
        all.Add(new("Elementwise.EveryOperatorCovered", CheckEveryOperatorCovered));
        all.Add(new("Harness.DetectsBrokenKernels", CheckHarnessDetectsBrokenKernels));
        all.Add(new("Elementwise.Shortcuts.float", CheckShortcuts<float>));
        all.Add(new("Elementwise.Shortcuts.double", CheckShortcuts<double>));
        all.Add(new("Elementwise.Shortcuts.long", CheckShortcuts<long>));
        all.Add(new("Exp.Accuracy.float", CheckExpAccuracyFloat));
        all.Add(new("Exp.Accuracy.double", CheckExpAccuracyDouble));
        all.Add(new("Reductions.float", CheckReductions<float>));
        all.Add(new("Reductions.double", CheckReductions<double>));
        all.Add(new("Reductions.long", CheckReductions<long>));
        all.Add(new("Reductions.ChunkInPieces.float", CheckChunkInPieces<float>));
        all.Add(new("Reductions.ChunkInPieces.double", CheckChunkInPieces<double>));
        all.Add(new("StreamingStore.AddOnto.float", CheckStreamingAddOnto<float>));
        all.Add(new("StreamingStore.AddOnto.double", CheckStreamingAddOnto<double>));
        all.Add(new("Comparison.float", CheckComparisons<float>));
        all.Add(new("Comparison.double", CheckComparisons<double>));
        all.Add(new("Comparison.long", CheckComparisons<long>));
        all.Add(new("Gemm.float", CheckGemm<float>));
        all.Add(new("Gemm.double", CheckGemm<double>));
        all.Add(new("Gemm.long", CheckGemm<long>));
        all.Add(new("Broadcasting.SumToShape", CheckSumToShape));
        all.Add(new("Executor.Broadcasting", CheckExecutor));
        return all;
    }

    private static void AddGroups<TOp>(List<KernelCheck> all, OpSpec spec) where TOp : struct, IElementwiseOperator
    {
        if (typeof(TOp) != spec.Operator) throw new InvalidOperationException($"{spec.Name} is registered with {typeof(TOp).Name}");
        all.Add(new($"Elementwise.{spec.Name}.float", () => CheckOperator<float, TOp>(spec)));
        all.Add(new($"Elementwise.{spec.Name}.double", () => CheckOperator<double, TOp>(spec)));
        if (spec.Int64Formula is not null) all.Add(new($"Elementwise.{spec.Name}.long", () => CheckOperator<long, TOp>(spec)));
    }

    /// <summary>Every <see cref="IElementwiseOperator"/> in the library has a check (a new operator must be added above).</summary>
    private static List<string> CheckEveryOperatorCovered()
    {
        var log = new FailureLog();
        Type[] operators = typeof(IElementwiseOperator).Assembly.GetTypes()
            .Where(t => t.IsValueType && typeof(IElementwiseOperator).IsAssignableFrom(t)).ToArray();
        foreach (Type t in operators)
            if (!Specs.Any(s => s.Operator == t)) log.Add($"operator {t.FullName} has no kernel check");
        if (operators.Length < 16) log.Add($"found only {operators.Length} operator structs by reflection");
        return log.ToList();
    }

    // ---- helpers -------------------------------------------------------------------------------

    private sealed class FailureLog
    {
        private readonly List<string> _items = [];
        private int _total;

        public bool Any => _total > 0;

        public void Add(string message)
        {
            if (_total++ < MaxFailuresListed) _items.Add(message);
        }

        public List<string> ToList()
        {
            var list = new List<string>(_items);
            if (_total > MaxFailuresListed) list.Add($"... and {_total - MaxFailuresListed} more failures");
            return list;
        }
    }

    /// <summary>A 64-byte aligned native block of <see cref="Capacity"/> elements (or more).</summary>
    private sealed class NativeBlock<T> : IDisposable where T : unmanaged
    {
        public readonly T* Base;
        public readonly int Length;

        public NativeBlock(int length = Capacity)
        {
            Length = length;
            Base = (T*)NativeMemory.AlignedAlloc((nuint)(length * sizeof(T)), 64);
            if (((nint)Base & 63) != 0) throw new InvalidOperationException("not 64-byte aligned");
        }

        public Span<T> Span => new(Base, Length);

        public void Dispose() => NativeMemory.AlignedFree(Base);
    }

    /// <summary>The guard pattern: a NaN with a payload for floating types, 0x5A.. for int64, 0xA5 for bool bytes.</summary>
    private static T Poison<T>() where T : unmanaged
    {
        ulong bits = sizeof(T) switch
        {
            1 => 0xA5UL,
            4 => 0x7FC5A5A5UL,
            _ => typeof(T) == typeof(long) ? 0x5A5A5A5A5A5A5A5AUL : 0x7FF8A5A5A5A5A5A5UL,
        };
        return *(T*)&bits;
    }

    private static bool SameBits<T>(T a, T b) where T : unmanaged => sizeof(T) switch
    {
        1 => *(byte*)&a == *(byte*)&b,
        4 => *(uint*)&a == *(uint*)&b,
        _ => *(ulong*)&a == *(ulong*)&b,
    };

    /// <summary>Bit-identical, or both NaN.</summary>
    private static bool Equivalent<T>(T a, T b) where T : unmanaged, INumber<T> => SameBits(a, b) || (T.IsNaN(a) && T.IsNaN(b));

    private static string Show<T>(T v) where T : unmanaged
    {
        string bits = sizeof(T) == 4 ? (*(uint*)&v).ToString("X8", CultureInfo.InvariantCulture) : (*(ulong*)&v).ToString("X16", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"{v:R}[0x{bits}]");
    }

    private static long AsInt64<T>(T v) where T : unmanaged => *(long*)&v;

    private static string TypeName<T>() => typeof(T) == typeof(float) ? "float" : typeof(T) == typeof(double) ? "double" : "long";

    private static double Epsilon<T>() => typeof(T) == typeof(float) ? Math.Pow(2, -23) : Math.Pow(2, -52);

    /// <summary>Unit roundoff of T (half an ulp of 1).</summary>
    private static double Roundoff<T>() => Epsilon<T>() / 2;

    /// <summary>Checks guard elements [0, start) and [start + n, start + n + Guard) of a block still hold the poison.</summary>
    private static bool GuardsIntact<T>(T* block, int start, int n, out int badIndex) where T : unmanaged
    {
        T poison = Poison<T>();
        for (int i = 0; i < start; i++)
            if (!SameBits(block[i], poison)) { badIndex = i - start; return false; }
        for (int i = start + n; i < start + n + Guard; i++)
            if (!SameBits(block[i], poison)) { badIndex = i - start; return false; }
        badIndex = 0;
        return true;
    }

    /// <summary>Random inputs for floating checks: mostly magnitudes in [0.25, 4] of either sign, with ±0, NaN and ±inf sprinkled in.</summary>
    private static T[] FloatingInputs<T>(Random rng, int length, bool specials) where T : unmanaged, INumber<T>
    {
        var values = new T[length];
        for (int i = 0; i < length; i++)
        {
            double u = rng.NextDouble();
            double v = (0.25 + 3.75 * rng.NextDouble()) * (rng.Next(2) == 0 ? 1 : -1);
            if (specials)
            {
                if (u < 0.02) v = 0.0;
                else if (u < 0.04) v = -0.0;
                else if (u < 0.055) v = double.NaN;
                else if (u < 0.065) v = double.PositiveInfinity;
                else if (u < 0.075) v = double.NegativeInfinity;
            }
            values[i] = T.CreateTruncating(v);
        }
        return values;
    }

    private static readonly long[] s_int64Specials =
    [
        long.MinValue, long.MaxValue, -1, 0, 1, 1L << 32, (1L << 32) + 7, -(1L << 33) + 3, 0x7FFFFFFF, 0xFFFFFFFF, 0x1_0000_0001, -0x7FFF_FFFF_FFFF,
    ];

    /// <summary>int64 inputs: small values and values that exercise the high halves of emulated 64-bit multiplies.</summary>
    private static long[] Int64Inputs(Random rng, int length)
    {
        var values = new long[length];
        for (int i = 0; i < length; i++)
        {
            double u = rng.NextDouble();
            values[i] = u < 0.7 ? rng.Next(-1000, 1001)
                : u < 0.85 ? s_int64Specials[rng.Next(s_int64Specials.Length)]
                : rng.NextInt64(long.MinValue, long.MaxValue);
        }
        return values;
    }

    private static T[] Inputs<T>(Random rng, int length) where T : unmanaged, INumber<T>
        => typeof(T) == typeof(long) ? (T[])(object)Int64Inputs(rng, length) : FloatingInputs<T>(rng, length, specials: true);

    // ---- exp accuracy --------------------------------------------------------------------------

    /// <summary>
    /// ExpOperator over its whole float32 range (step 2^-10 from -104 to 89, and the specials), through the
    /// driver at this process's widths: within 2 ulp of the correctly rounded exp (Math.Exp in double,
    /// rounded once), subnormal results included; exp(0) = 1 exactly; overflow +inf; NaN stays NaN.
    /// </summary>
    private static List<string> CheckExpAccuracyFloat() => CheckExpAccuracy<float>(
        [0, -0d, 1, -1, double.PositiveInfinity, double.NegativeInfinity, double.NaN, 88.72283f, 88.72284f, 89, 1000,
         -87.33654f, -87.3366f, -100, -103.27893f, -103.97208f, -104, -1000, float.Epsilon, -float.Epsilon, 1e-30f,
         .. Enumerable.Range(-104 * 1024, 193 * 1024 + 1).Select(i => i / 1024d)],
        expected: x => (float)Math.Exp(x));

    /// <summary>The same for float64: step 2^-6 from -746 to 710, within 2 ulp of Math.Exp.</summary>
    private static List<string> CheckExpAccuracyDouble() => CheckExpAccuracy<double>(
        [0, -0d, 1, -1, double.PositiveInfinity, double.NegativeInfinity, double.NaN, 709.782712893384, 709.7827128933841, 710, 1e5,
         -708.3964185322641, -708.4, -744.4400719213812, -745.1332191019411, -746, -1e5, double.Epsilon, 1e-300,
         .. Enumerable.Range(-746 * 64, 1456 * 64 + 1).Select(i => i / 64d)],
        expected: Math.Exp);

    private static List<string> CheckExpAccuracy<T>(double[] inputs, Func<double, T> expected) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T[] x = Array.ConvertAll(inputs, T.CreateTruncating);
        T[] d = new T[x.Length];
        fixed (T* px = x, pd = d)
        {
            T zero = T.Zero;
            Executor.RunFlatSerial<T, ExpOperator>(6, px, &zero, &zero, pd, x.Length);
        }
        var log = new FailureLog();
        for (int i = 0; i < x.Length; i++)
        {
            T want = expected(double.CreateTruncating(x[i]));
            if (T.IsNaN(want) ? !T.IsNaN(d[i]) : UlpDistance(d[i], want) > 2)
                log.Add($"exp({x[i]}) = {d[i]}, expected {want}");
        }
        return log.ToList();
    }

    /// <summary>Representable values between a and b (same sign assumed; exp is never negative).</summary>
    private static long UlpDistance<T>(T a, T b) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (a == b) return 0;
        if (typeof(T) == typeof(float)) return Math.Abs((long)BitConverter.SingleToInt32Bits((float)(object)a) - BitConverter.SingleToInt32Bits((float)(object)b));
        return Math.Abs(BitConverter.DoubleToInt64Bits((double)(object)a) - BitConverter.DoubleToInt64Bits((double)(object)b));
    }

    // ---- elementwise driver --------------------------------------------------------------------

    /// <summary>Operand offsets (x, y, z, destination) in elements from a 64-byte boundary.</summary>
    private static readonly (int X, int Y, int Z, int D)[] s_offsetConfigs = [(0, 0, 0, 0), (1, 1, 1, 1), (2, 2, 2, 2), (3, 3, 3, 3), (1, 2, 3, 0), (3, 0, 1, 2)];

    private delegate void Kernel<T>(T* x, T* y, T* z, T sx, T sy, T sz, T* d, nint n) where T : unmanaged;

    /// <summary>The driver with each operand streamed or broadcast: bit k of <paramref name="kinds"/> set means operand k is a broadcast value.</summary>
    private static void Dispatch<T, TOp>(int kinds, T* x, T* y, T* z, T sx, T sy, T sz, T* d, nint n)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
    {
        switch (kinds)
        {
            case 0: ElementwiseDriver.Apply<T, TOp, Elements<T>, Elements<T>, Elements<T>>(new(x), new(y), new(z), d, n); break;
            case 1: ElementwiseDriver.Apply<T, TOp, Broadcast<T>, Elements<T>, Elements<T>>(new(sx), new(y), new(z), d, n); break;
            case 2: ElementwiseDriver.Apply<T, TOp, Elements<T>, Broadcast<T>, Elements<T>>(new(x), new(sy), new(z), d, n); break;
            case 3: ElementwiseDriver.Apply<T, TOp, Broadcast<T>, Broadcast<T>, Elements<T>>(new(sx), new(sy), new(z), d, n); break;
            case 4: ElementwiseDriver.Apply<T, TOp, Elements<T>, Elements<T>, Broadcast<T>>(new(x), new(y), new(sz), d, n); break;
            case 5: ElementwiseDriver.Apply<T, TOp, Broadcast<T>, Elements<T>, Broadcast<T>>(new(sx), new(y), new(sz), d, n); break;
            case 6: ElementwiseDriver.Apply<T, TOp, Elements<T>, Broadcast<T>, Broadcast<T>>(new(x), new(sy), new(sz), d, n); break;
            default: ElementwiseDriver.Apply<T, TOp, Broadcast<T>, Broadcast<T>, Broadcast<T>>(new(sx), new(sy), new(sz), d, n); break;
        }
    }

    /// <summary>e.g. <c>[x:stream y:bcast z:bcast]</c></summary>
    private static string KindsText(int kinds) => string.Create(CultureInfo.InvariantCulture,
        $"[x:{((kinds & 1) != 0 ? "bcast" : "stream")} y:{((kinds & 2) != 0 ? "bcast" : "stream")} z:{((kinds & 4) != 0 ? "bcast" : "stream")}]");

    /// <summary>Per-element reference check; null spec means only the scalar-Invoke comparison.</summary>
    private static string? CheckElement<T, TOp>(OpSpec? spec, T x, T y, T z, T got)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
    {
        T want = TOp.Invoke(x, y, z);
        if (!Equivalent(got, want)) return $"got {Show(got)}, scalar Invoke gives {Show(want)}";
        if (spec is null) return null;
        if (typeof(T) == typeof(long))
        {
            long r = spec.Int64Formula!(AsInt64(x), AsInt64(y), AsInt64(z));
            return AsInt64(got) == r ? null : $"got {Show(got)}, formula gives {r}";
        }
        double dx = double.CreateTruncating(x), dy = double.CreateTruncating(y), dz = double.CreateTruncating(z);
        double exact = spec.Formula(dx, dy, dz);
        double rounded = double.CreateTruncating(T.CreateTruncating(exact));
        double g = double.CreateTruncating(got);
        if (!double.IsFinite(rounded) || !double.IsFinite(g))
            return g == rounded || (double.IsNaN(g) && double.IsNaN(rounded)) ? null : $"got {Show(got)}, formula gives {rounded:R}";
        if (spec.Magnitude is null)
            return g == rounded ? null : $"got {Show(got)}, formula gives exactly {rounded:R}";
        double magnitude = spec.Magnitude(dx, dy, dz);
        double tolerance = 4 * Epsilon<T>() * magnitude;
        if (!double.IsFinite(tolerance)) return g == rounded ? null : $"got {Show(got)}, formula gives {rounded:R} (infinite magnitude)";
        return Math.Abs(g - exact) <= tolerance ? null : $"got {Show(got)}, formula gives {exact:R} ± {tolerance:R}";
    }

    private static List<string> CheckOperator<T, TOp>(OpSpec spec) where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
    {
        var log = new FailureLog();
        var rng = new Random(StableSeed(spec.Name) + sizeof(T));
        T[] xs = Inputs<T>(rng, MaxLength), ys = Inputs<T>(rng, MaxLength), zs = Inputs<T>(rng, MaxLength);
        string label = $"{spec.Name}<{TypeName<T>()}>";
        // Broadcast values vary with length and offsets, so NaN, ±0 and ±inf all appear as broadcast scalars too.
        (T, T, T) Scalars(int n, int config) => (xs[(n * 7 + config + 1) % MaxLength], ys[(n * 11 + config + 2) % MaxLength], zs[(n * 13 + config + 3) % MaxLength]);
        for (int kinds = 0; kinds < 8; kinds++)
        {
            int k = kinds;
            RunElementwise<T, TOp>(log, label, spec, kinds, xs, ys, zs, Scalars,
                (x, y, z, sx, sy, sz, d, n) => Dispatch<T, TOp>(k, x, y, z, sx, sy, sz, d, n));
        }
        return log.ToList();
    }

    private static int StableSeed(string name)
    {
        int h = 17;
        foreach (char ch in name) h = unchecked(h * 31 + ch);
        return h & 0xFFFFFF;
    }

    /// <summary>
    /// Runs one operand-kind combination over every length and offset configuration, out of place and
    /// in place on each streamed operand, checking every element, the destination's guards, and that
    /// inputs (and their guards) are unchanged. Input guards hold NaN/odd values, so a read outside an
    /// operand shows up in the results.
    /// </summary>
    private static void RunElementwise<T, TOp>(FailureLog log, string label, OpSpec? spec, int kinds, T[] xs, T[] ys, T[] zs,
        Func<int, int, (T X, T Y, T Z)> scalars, Kernel<T> kernel)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
    {
        using var bx = new NativeBlock<T>();
        using var by = new NativeBlock<T>();
        using var bz = new NativeBlock<T>();
        using var bd = new NativeBlock<T>();
        NativeBlock<T>[] operands = [bx, by, bz];
        T[][] values = [xs, ys, zs];
        T poison = Poison<T>();
        foreach (int n in Lengths)
        {
            for (int config = 0; config < s_offsetConfigs.Length; config++)
            {
                // Large lengths run at two offset configurations (aligned and all-different); small ones at all.
                if (n > 70 && config != 0 && config != 4) continue;
                var (ox, oy, oz, od) = s_offsetConfigs[config];
                int[] offsets = [ox, oy, oz];
                var (sx, sy, sz) = scalars(n, config);
                // -1: out of place; 0..2: the destination is that (streamed) operand.
                for (int place = -1; place < 3; place++)
                {
                    if (place >= 0 && (kinds & (1 << place)) != 0) continue;
                    for (int k = 0; k < 3; k++)
                    {
                        T* b = operands[k].Base;
                        new Span<T>(b, Guard + offsets[k] + n + Guard).Fill(poison);
                        if ((kinds & (1 << k)) == 0) values[k].AsSpan(0, n).CopyTo(new Span<T>(b + Guard + offsets[k], n));
                    }
                    T* x = bx.Base + Guard + ox, y = by.Base + Guard + oy, z = bz.Base + Guard + oz;
                    T* dBlock = place < 0 ? bd.Base : operands[place].Base;
                    int dStart = Guard + (place < 0 ? od : offsets[place]);
                    if (place < 0) new Span<T>(bd.Base, dStart + n + Guard).Fill(poison);
                    T* d = dBlock + dStart;

                    kernel(x, y, z, sx, sy, sz, d, n);

                    string Where() => $"{label} {KindsText(kinds)} n={n} offsets=({ox},{oy},{oz},{od}) {(place < 0 ? "out-of-place" : $"in-place on {"xyz"[place]}")}";
                    for (int i = 0; i < n; i++)
                    {
                        T xv = (kinds & 1) != 0 ? sx : xs[i], yv = (kinds & 2) != 0 ? sy : ys[i], zv = (kinds & 4) != 0 ? sz : zs[i];
                        string? problem = CheckElement<T, TOp>(spec, xv, yv, zv, d[i]);
                        if (problem is not null)
                        {
                            log.Add($"{Where()}: [{i}] x={Show(xv)} y={Show(yv)} z={Show(zv)}: {problem}");
                            break;
                        }
                    }
                    if (!GuardsIntact(dBlock, dStart, n, out int bad))
                        log.Add($"{Where()}: destination element {bad} outside [0, {n}) was written ({Show(d[bad])})");
                    for (int k = 0; k < 3; k++)
                    {
                        if ((kinds & (1 << k)) != 0 || k == place) continue;
                        T* start = operands[k].Base + Guard + offsets[k];
                        if (!GuardsIntact(operands[k].Base, Guard + offsets[k], n, out bad))
                            log.Add($"{Where()}: guard {bad} of input {"xyz"[k]} was written");
                        for (int i = 0; i < n; i++)
                            if (!SameBits(start[i], values[k][i])) { log.Add($"{Where()}: input {"xyz"[k]}[{i}] was modified"); break; }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Each <see cref="Elementwise"/> shortcut passes its operands in the documented roles (checked with
    /// non-commutative operators), out of place and in place. Operands a shortcut does not take are the
    /// driver's default broadcast zero, so the reference sees zero there.
    /// </summary>
    private static List<string> CheckShortcuts<T>() where T : unmanaged, INumber<T>
    {
        var log = new FailureLog();
        var rng = new Random(12345 + sizeof(T));
        T[] xs = Inputs<T>(rng, MaxLength), ys = Inputs<T>(rng, MaxLength), zs = Inputs<T>(rng, MaxLength);
        string t = TypeName<T>();
        T s = T.CreateTruncating(3);
        (T, T, T) Zeros(int n, int config) => (T.Zero, T.Zero, T.Zero);
        (T, T, T) X(int n, int config) => (s, T.Zero, T.Zero);
        (T, T, T) Y(int n, int config) => (T.Zero, s, T.Zero);
        (T, T, T) Z(int n, int config) => (T.Zero, T.Zero, s);
        RunElementwise<T, NegateOperator>(log, $"Elementwise.Unary<{t}, Negate>", null, 0b110, xs, ys, zs, Zeros,
            (x, y, z, sx, sy, sz, d, n) => Elementwise.Unary<T, NegateOperator>(x, d, n));
        RunElementwise<T, SubtractOperator>(log, $"Elementwise.Binary<{t}, Subtract>", null, 0b100, xs, ys, zs, Zeros,
            (x, y, z, sx, sy, sz, d, n) => Elementwise.Binary<T, SubtractOperator>(x, y, d, n));
        RunElementwise<T, SubtractOperator>(log, $"Elementwise.BinaryScalar<{t}, Subtract>", null, 0b110, xs, ys, zs, Y,
            (x, y, z, sx, sy, sz, d, n) => Elementwise.BinaryScalar<T, SubtractOperator>(x, sy, d, n));
        RunElementwise<T, SubtractOperator>(log, $"Elementwise.ScalarBinary<{t}, Subtract>", null, 0b101, xs, ys, zs, X,
            (x, y, z, sx, sy, sz, d, n) => Elementwise.ScalarBinary<T, SubtractOperator>(sx, y, d, n));
        RunElementwise<T, MultiplyAddOperator>(log, $"Elementwise.Ternary<{t}, MultiplyAdd>", null, 0b000, xs, ys, zs, Zeros,
            (x, y, z, sx, sy, sz, d, n) => Elementwise.Ternary<T, MultiplyAddOperator>(x, y, z, d, n));
        RunElementwise<T, MultiplyAddOperator>(log, $"Elementwise.TernaryScalar<{t}, MultiplyAdd>", null, 0b100, xs, ys, zs, Z,
            (x, y, z, sx, sy, sz, d, n) => Elementwise.TernaryScalar<T, MultiplyAddOperator>(x, y, sz, d, n));
        RunElementwise<T, MultiplyAddOperator>(log, $"Elementwise.TernaryMiddleScalar<{t}, MultiplyAdd>", null, 0b010, xs, ys, zs, Y,
            (x, y, z, sx, sy, sz, d, n) => Elementwise.TernaryMiddleScalar<T, MultiplyAddOperator>(x, sy, z, d, n));
        return log.ToList();
    }

    /// <summary>
    /// The harness itself: deliberately broken kernels must be reported (a checker that cannot fail
    /// proves nothing). Each entry must produce at least one failure.
    /// </summary>
    private static List<string> CheckHarnessDetectsBrokenKernels()
    {
        var log = new FailureLog();
        var rng = new Random(2024);
        float[] xs = Inputs<float>(rng, MaxLength), ys = Inputs<float>(rng, MaxLength), zs = Inputs<float>(rng, MaxLength);
        (float, float, float) Scalars(int n, int config) => (xs[(n + 5) % MaxLength], ys[(n + 6) % MaxLength], zs[(n + 7) % MaxLength]);
        OpSpec negate = Specs.First(s => s.Name == "Negate"), subtract = Specs.First(s => s.Name == "Subtract");

        void Negate(float* x, float* d, nint n) => Elementwise.Unary<float, NegateOperator>(x, d, n);
        // A driver that stores its overlapping last vector after re-reading the operand (not in-place safe).
        static void NotAliasSafe(float* x, float* d, nint n)
        {
            const int w = 8;
            if (n < w) { for (nint i = 0; i < n; i++) d[i] = -x[i]; return; }
            nint j = 0;
            for (; j <= n - w; j += w) for (nint l = 0; l < w; l++) d[j + l] = -x[j + l];
            for (nint l = 0; l < w; l++) d[n - w + l] = -x[n - w + l];
        }
        var broken = new (string Name, OpSpec Spec, int Kinds, Kernel<float> Kernel, bool Subtract)[]
        {
            ("writes one element past the end", negate, 0b110, (x, y, z, sx, sy, sz, d, n) => { Negate(x, d, n); if (n > 0) d[n] = 0; }, false),
            ("writes one element before the start", negate, 0b110, (x, y, z, sx, sy, sz, d, n) => { Negate(x, d, n); if (n > 0) d[-1] = 0; }, false),
            ("skips the last element", negate, 0b110, (x, y, z, sx, sy, sz, d, n) => Negate(x, d, Math.Max(n - 1, 0)), false),
            ("reads one element past the end", negate, 0b110, (x, y, z, sx, sy, sz, d, n) => { Negate(x, d, n); if (n > 1) d[n - 1] = -x[n]; }, false),
            ("recomputes the overlapping tail from the destination", negate, 0b110, (x, y, z, sx, sy, sz, d, n) => NotAliasSafe(x, d, n), false),
            ("swaps the operands", subtract, 0b100, (x, y, z, sx, sy, sz, d, n) => Elementwise.Binary<float, SubtractOperator>(y, x, d, n), true),
            ("reads memory instead of the broadcast value", subtract, 0b101, (x, y, z, sx, sy, sz, d, n) => Elementwise.Binary<float, SubtractOperator>(x, y, d, n), true),
            ("modifies an input", subtract, 0b100, (x, y, z, sx, sy, sz, d, n) => { Elementwise.Binary<float, SubtractOperator>(x, y, d, n); if (n > 2) y[2] += 1; }, true),
        };
        foreach (var (name, spec, kinds, kernel, isSubtract) in broken)
        {
            var caught = new FailureLog();
            if (isSubtract) RunElementwise<float, SubtractOperator>(caught, name, spec, kinds, xs, ys, zs, Scalars, kernel);
            else RunElementwise<float, NegateOperator>(caught, name, spec, kinds, xs, ys, zs, Scalars, kernel);
            if (!caught.Any) log.Add($"a kernel that {name} was not detected");
        }

        // Reductions and comparisons: a sum missing its last element, a comparison with a wrong answer.
        var sumLog = new FailureLog();
        float[] ints = Enumerable.Range(0, 100).Select(i => (float)(i % 7 + 1)).ToArray();
        fixed (float* p = ints)
        {
            foreach (int n in new[] { 1, 17, 100 })
                CheckSum(sumLog, $"Sum n={n}", Reductions.Sum(p, n - 1), n, i => ints[i], integer: true);
        }
        if (!sumLog.Any) log.Add("a sum missing its last element was not detected");
        if (ReferenceCompare(Comparison.Less, float.NaN, 1f) || !ReferenceCompare(Comparison.NotEqual, float.NaN, float.NaN)
            || !ReferenceCompare(Comparison.GreaterOrEqual, -0.0f, 0.0f) || ReferenceCompare(Comparison.Less, long.MaxValue, long.MaxValue - 1))
            log.Add("the comparison reference is wrong");
        return log.ToList();
    }

    // ---- reductions ----------------------------------------------------------------------------

    private static readonly int[] s_reductionLengths =
        [.. Enumerable.Range(0, 71), 127, 128, 129, 255, 256, 257, 1000, 4095, 4096, 4097, 8191, 8192, 8193, 12345, 100_003];

    /// <summary>Neumaier-compensated sum (the reference for double inputs is then accurate to about one rounding).</summary>
    private struct CompensatedSum
    {
        private double _sum, _compensation;

        public void Add(double v)
        {
            double t = _sum + v;
            _compensation += Math.Abs(_sum) >= Math.Abs(v) ? (_sum - t) + v : (v - t) + _sum;
            _sum = t;
        }

        public readonly double Value => _sum + _compensation;
    }

    private static List<string> CheckReductions<T>() where T : unmanaged, INumber<T>
    {
        var log = new FailureLog();
        int max = s_reductionLengths.Max();
        using var bx = new NativeBlock<T>(Guard + 4 + max + Guard);
        using var by = new NativeBlock<T>(Guard + 4 + max + Guard);
        var rng = new Random(777 + sizeof(T));
        bool isLong = typeof(T) == typeof(long);
        // Integer-valued data: every summation order is exact, so the result must equal the reference exactly.
        // int64 with full-range values: wrapping sums are exact in any order too.
        T[] ix = new T[max], iy = new T[max];
        for (int i = 0; i < max; i++)
        {
            ix[i] = isLong && i % 5 == 0 ? T.CreateTruncating(rng.NextInt64()) : T.CreateTruncating(rng.Next(-8, 9));
            iy[i] = T.CreateTruncating(rng.Next(-8, 9));
        }
        T[] rx = new T[max], ry = new T[max];
        for (int i = 0; i < max; i++)
        {
            rx[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
            ry[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        }
        T poison = Poison<T>();
        string t = TypeName<T>();
        foreach (int n in s_reductionLengths)
        {
            for (int o = 0; o < 4; o++)
            {
                if (n > 4097 && o is 1 or 2) continue;
                int oy = (o + 1) & 3;
                foreach (bool integer in isLong ? [true] : new[] { true, false })
                {
                    T[] xs = integer ? ix : rx, ys = integer ? iy : ry;
                    bx.Span[..(Guard + o + n + Guard)].Fill(poison);
                    by.Span[..(Guard + oy + n + Guard)].Fill(poison);
                    T* x = bx.Base + Guard + o, y = by.Base + Guard + oy;
                    xs.AsSpan(0, n).CopyTo(new Span<T>(x, n));
                    ys.AsSpan(0, n).CopyTo(new Span<T>(y, n));
                    string where = $"<{t}> n={n} offsets=({o},{oy}) {(integer ? "integer data" : "real data")}";
                    T s = integer ? T.CreateTruncating(3) : T.CreateTruncating(0.7);

                    CheckSum(log, $"Sum{where}", Reductions.Sum(x, n), n, i => xs[i], integer);
                    CheckSum(log, $"Dot{where}", Reductions.Dot(x, y, n), n, i => xs[i] * ys[i], integer, i => (xs[i], ys[i]));
                    CheckSum(log, $"Sum<Add, Elements, Elements>{where}",
                        ReductionDriver.Sum<T, AddOperator, Elements<T>, Elements<T>>(new(x), new(y), n), n, i => xs[i] + ys[i], integer,
                        i => (xs[i], T.One), i => (ys[i], T.One));
                    CheckSum(log, $"Sum<Multiply, Elements, Broadcast>{where}",
                        ReductionDriver.Sum<T, MultiplyOperator, Elements<T>, Broadcast<T>>(new(x), new(s), n), n, i => xs[i] * s, integer, i => (xs[i], s));
                    CheckSum(log, $"Sum<Subtract, Broadcast, Elements>{where}",
                        ReductionDriver.Sum<T, SubtractOperator, Broadcast<T>, Elements<T>>(new(s), new(y), n), n, i => s - ys[i], integer,
                        i => (s, T.One), i => (-ys[i], T.One));
                    if (!GuardsIntact(bx.Base, Guard + o, n, out _) || !GuardsIntact(by.Base, Guard + oy, n, out _))
                        log.Add($"Reductions{where}: an input guard was written");
                }
            }
        }
        if (!isLong)
        {
            // A NaN or infinity anywhere (vector body, unrolled block, tail) reaches the result.
            T[] ones = Enumerable.Repeat(T.One, MaxLength).ToArray();
            foreach (int n in Lengths)
            {
                foreach (int p in new[] { 0, n / 2, n - 1 }.Where(p => p >= 0 && p < n).Distinct())
                {
                    bx.Span[..(Guard + 1 + n + Guard)].Fill(poison);
                    T* x = bx.Base + Guard + 1;
                    ones.AsSpan(0, n).CopyTo(new Span<T>(x, n));
                    x[p] = T.CreateTruncating(double.NaN);
                    T sum = Reductions.Sum(x, n);
                    if (!T.IsNaN(sum)) log.Add($"Sum<{t}> n={n}: NaN at {p} gave {Show(sum)}");
                    x[p] = T.CreateTruncating(double.PositiveInfinity);
                    sum = Reductions.Dot(x, x, n);
                    if (!T.IsPositiveInfinity(sum)) log.Add($"Dot<{t}> n={n}: +inf at {p} gave {Show(sum)}");
                }
            }
        }
        return log.ToList();
    }

    /// <summary>
    /// Compares a reduction with a reference. Integer data: exact. Real data: within
    /// (min(n, chunk) + 2)·u(T)·Σ|terms| + (n/chunk + 2)·u(double)·Σ|terms| (each 4096-chunk is summed
    /// in T, chunk results combined in double for float, in T for double).
    /// </summary>
    private static void CheckSum<T>(FailureLog log, string where, T got, int n, Func<int, T> term, bool integer,
        Func<int, (T A, T B)>? product = null, Func<int, (T A, T B)>? product2 = null) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(long))
        {
            long want = 0;
            for (int i = 0; i < n; i++) want = unchecked(want + AsInt64(term(i)));
            if (AsInt64(got) != want) log.Add($"{where}: got {got}, expected {want}");
            return;
        }
        var sum = new CompensatedSum();
        double absSum = 0;
        void AddProduct(ref CompensatedSum sum, ref double absSum, T a, T b)
        {
            // Products of T values: exact in double for float; for double, the two-product split keeps the error term.
            double da = double.CreateTruncating(a), db = double.CreateTruncating(b);
            double prod = da * db;
            sum.Add(prod);
            sum.Add(Math.FusedMultiplyAdd(da, db, -prod));
            absSum += Math.Abs(prod);
        }
        for (int i = 0; i < n; i++)
        {
            if (product is null)
            {
                double v = double.CreateTruncating(term(i));
                sum.Add(v);
                absSum += Math.Abs(v);
                continue;
            }
            var (a1, b1) = product(i);
            AddProduct(ref sum, ref absSum, a1, b1);
            if (product2 is not null)
            {
                var (a2, b2) = product2(i);
                AddProduct(ref sum, ref absSum, a2, b2);
            }
        }
        double reference = sum.Value, g = double.CreateTruncating(got);
        if (integer)
        {
            if (g != reference) log.Add($"{where}: got {g:R}, expected exactly {reference:R}");
            return;
        }
        int chunk = ReductionDriver.ChunkLength;
        double tolerance = ((Math.Min(n, chunk) + 2) * Roundoff<T>() + (n / chunk + 2) * Roundoff<double>()) * absSum;
        if (!(Math.Abs(g - reference) <= tolerance))
            log.Add($"{where}: got {g:R}, expected {reference:R} ± {tolerance:R}");
    }

    /// <summary>
    /// A chunk summed in pieces (as a fused program sums a block stage by stage: every piece but the
    /// last a multiple of 64 elements) gives the bits of one call over the chunk, and one call gives
    /// the reduction driver's sum of that chunk: lengths 0..70 and around the vector and stage sizes,
    /// real data, misaligned, at this process's widths.
    /// </summary>
    private static List<string> CheckChunkInPieces<T>() where T : unmanaged, INumber<T>
    {
        var log = new FailureLog();
        int[] lengths = [.. Enumerable.Range(0, 71), 127, 128, 129, 511, 512, 513, 1000, 1004, 4095, 4096];
        using var block = new NativeBlock<T>(Guard + 1 + ReductionDriver.ChunkLength + Guard);
        var rng = new Random(4242 + sizeof(T));
        T* x = block.Base + Guard + 1; // misaligned by one element
        for (int i = 0; i < ReductionDriver.ChunkLength; i++) x[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        foreach (int n in lengths)
        {
            T whole = new ChunkSum<T>(n).Finish<AddOperator, Elements<T>, Broadcast<T>>(new(x), default, 0, n);
            T driver = ReductionDriver.Sum<T, AddOperator, Elements<T>, Broadcast<T>>(new(x), default, n);
            if (!SameBits(whole, driver)) log.Add($"ChunkSum<{TypeName<T>()}> n={n}: one call gave {Show(whole)}, the reduction driver {Show(driver)}");
            foreach (int piece in new[] { 64, 128, 512, 1024 })
            {
                var sum = new ChunkSum<T>(n);
                int start = 0;
                for (; n - start > piece; start += piece) sum.Add<AddOperator, Elements<T>, Broadcast<T>>(new(x), default, start, piece);
                T pieces = sum.Finish<AddOperator, Elements<T>, Broadcast<T>>(new(x), default, start, n - start);
                if (!SameBits(pieces, whole))
                    log.Add($"ChunkSum<{TypeName<T>()}> n={n} in pieces of {piece}: {Show(pieces)}, one call {Show(whole)}");
            }
        }
        return log.ToList();
    }

    /// <summary>
    /// Streaming stores (a large .grad written onto its deferred zero): c + s[i] with the bits of the
    /// plain scalar sum, ±0 and specials included, on destinations aligned to 64, 32 and 16 bytes (the
    /// streaming widths) and misaligned (plain stores), lengths 0..70 and a few large ones; nothing
    /// outside the destination is written.
    /// </summary>
    private static List<string> CheckStreamingAddOnto<T>() where T : unmanaged, INumber<T>
    {
        var log = new FailureLog();
        var rng = new Random(99 + sizeof(T));
        T[] source = FloatingInputs<T>(rng, MaxLength, specials: true);
        using var bs = new NativeBlock<T>(Guard + 1 + MaxLength + Guard);
        using var bd = new NativeBlock<T>(Guard + 64 + MaxLength + Guard);
        T* s = bs.Base + Guard + 1;
        source.AsSpan().CopyTo(new Span<T>(s, MaxLength));
        T poison = Poison<T>();
        foreach (int n in Lengths)
        {
            foreach (int bytes in new[] { 0, 32, 16, sizeof(T) })
            {
                int o = bytes / sizeof(T);
                foreach (T c in new[] { T.Zero, T.CreateTruncating(-0.0), T.CreateTruncating(1.5) })
                {
                    bd.Span.Fill(poison);
                    T* d = bd.Base + Guard + o; // Guard elements keep 64-byte alignment
                    StreamingStore.AddOnto(c, s, d, n);
                    StreamingStore.Fence();
                    for (int i = 0; i < n; i++)
                    {
                        T want = c + s[i];
                        if (!SameBits(d[i], want)) { log.Add($"StreamingStore.AddOnto<{TypeName<T>()}> n={n} destination +{bytes} B c={Show(c)}: [{i}] = {Show(d[i])}, expected {Show(want)}"); break; }
                    }
                    if (!GuardsIntact(bd.Base, Guard + o, n, out int bad))
                        log.Add($"StreamingStore.AddOnto<{TypeName<T>()}> n={n} destination +{bytes} B: wrote outside the destination at {bad}");
                }
            }
        }
        return log.ToList();
    }

    // ---- comparisons ---------------------------------------------------------------------------

    private static T[] ComparisonValues<T>() where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(long))
            return (T[])(object)new long[] { long.MinValue, long.MinValue + 1, -(1L << 32), -2, -1, 0, 1, 2, 1L << 32, (1L << 32) + 1, long.MaxValue - 1, long.MaxValue };
        double[] v = [double.NegativeInfinity, -2, -1, -0.0, 0.0, 0.5, 1, 2, double.PositiveInfinity, double.NaN, double.Epsilon, -double.MaxValue];
        return v.Select(T.CreateTruncating).ToArray();
    }

    private static bool ReferenceCompare<T>(Comparison op, T a, T b) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(long))
        {
            long x = AsInt64(a), y = AsInt64(b);
            int c = x.CompareTo(y);
            return op switch
            {
                Comparison.Equal => c == 0,
                Comparison.NotEqual => c != 0,
                Comparison.Less => c < 0,
                Comparison.LessOrEqual => c <= 0,
                Comparison.Greater => c > 0,
                _ => c >= 0,
            };
        }
        // In double (exact for float inputs); IEEE: every ordered comparison with NaN is false, != is true, -0 == +0.
        double p = double.CreateTruncating(a), q = double.CreateTruncating(b);
        return op switch
        {
            Comparison.Equal => p == q,
            Comparison.NotEqual => !(p == q),
            Comparison.Less => p < q,
            Comparison.LessOrEqual => p < q || p == q,
            Comparison.Greater => q < p,
            _ => q < p || p == q,
        };
    }

    private static List<string> CheckComparisons<T>() where T : unmanaged, INumber<T>
    {
        var log = new FailureLog();
        T[] pool = ComparisonValues<T>();
        var rng = new Random(4242 + sizeof(T));
        T[] xs = new T[MaxLength], ys = new T[MaxLength];
        for (int i = 0; i < MaxLength; i++)
        {
            xs[i] = pool[rng.Next(pool.Length)];
            ys[i] = rng.Next(4) == 0 ? xs[i] : pool[rng.Next(pool.Length)]; // plenty of ties
        }
        using var bx = new NativeBlock<T>();
        using var by = new NativeBlock<T>();
        using var bd = new NativeBlock<byte>();
        T poison = Poison<T>();
        string t = TypeName<T>();
        foreach (int n in Lengths)
        {
            for (int o = 0; o < 4; o++)
            {
                int oy = (o + 1) & 3, od = (o + 2) & 3;
                bx.Span[..(Guard + o + n + Guard)].Fill(poison);
                by.Span[..(Guard + oy + n + Guard)].Fill(poison);
                T* x = bx.Base + Guard + o, y = by.Base + Guard + oy;
                xs.AsSpan(0, n).CopyTo(new Span<T>(x, n));
                ys.AsSpan(0, n).CopyTo(new Span<T>(y, n));
                for (int scalars = 0; scalars < 4; scalars++)
                {
                    bool xScalar = (scalars & 1) != 0, yScalar = (scalars & 2) != 0;
                    // Scalar operands: every pool value (NaN included) in turn across lengths and offsets.
                    T sx = pool[(n + o) % pool.Length], sy = pool[(n * 5 + o + 3) % pool.Length];
                    T* px = xScalar ? &sx : x, py = yScalar ? &sy : y;
                    for (Comparison op = Comparison.Equal; op <= Comparison.GreaterOrEqual; op++)
                    {
                        bd.Span[..(Guard + od + n + Guard)].Fill(0xA5);
                        bool* d = (bool*)(bd.Base + Guard + od);
                        ComparisonDriver.Compare(op, px, xScalar, py, yScalar, d, n);
                        string where = $"Compare<{t}>({op}) n={n} offsets=({o},{oy},{od}) x {(xScalar ? "scalar" : "streamed")}, y {(yScalar ? "scalar" : "streamed")}";
                        for (int i = 0; i < n; i++)
                        {
                            T a = xScalar ? sx : xs[i], b = yScalar ? sy : ys[i];
                            byte got = ((byte*)d)[i];
                            byte want = ReferenceCompare(op, a, b) ? (byte)1 : (byte)0;
                            if (got != want)
                            {
                                log.Add($"{where}: [{i}] {Show(a)} vs {Show(b)} gave byte {got}, expected {want}");
                                break;
                            }
                        }
                        if (!GuardsIntact(bd.Base, Guard + od, n, out int bad)) log.Add($"{where}: bool byte {bad} outside [0, {n}) was written");
                    }
                }
            }
        }
        return log.ToList();
    }

    // ---- gemm ----------------------------------------------------------------------------------

    private enum Layout { NN, NT, TN }

    private static List<string> CheckGemm<T>() where T : unmanaged, INumber<T>
    {
        var log = new FailureLog();
        var sizes = new List<(int M, int K, int N)>();
        for (int m = 0; m <= 9; m++)
            for (int k = 0; k <= 9; k++)
                for (int n = 0; n <= 9; n++)
                    sizes.Add((m, k, n));
        sizes.AddRange([(17, 33, 65), (65, 17, 33), (33, 65, 17), (16, 16, 16), (64, 64, 64), (1, 4097, 1), (3, 1000, 5), (2, 5, 129), (129, 3, 2), (31, 70, 33),
            (64, 40, 3), (3, 40, 64), (1, 300, 77), (77, 300, 1)]);
        // Sizes that cross blocked-GEMM boundaries (depth blocks of 256, row blocks of 168, column blocks of 512)
        // and are large enough (> 3M flops) to be split across worker threads.
        (int, int, int)[] huge = [(169, 257, 35), (9, 513, 515), (200, 300, 60)];
        sizes.AddRange(huge);
        int maxA = sizes.Max(s => s.M * s.K), maxB = sizes.Max(s => s.K * s.N), maxC = sizes.Max(s => s.M * s.N);
        using var ba = new NativeBlock<T>(Guard + 4 + maxA + Guard);
        using var bb = new NativeBlock<T>(Guard + 4 + maxB + Guard);
        using var bc = new NativeBlock<T>(Guard + 4 + maxC + Guard);
        var rng = new Random(99 + sizeof(T));
        T poison = Poison<T>();
        string t = TypeName<T>();
        bool isLong = typeof(T) == typeof(long);
        foreach (var (m, k, n) in sizes)
        {
            foreach (bool integer in isLong ? [true] : new[] { true, false })
            {
                // Integer data checks indexing exactly; real data checks rounding. Real data for a subset of
                // the small sizes; the huge sizes run one kind of data per type to keep the naive reference cheap.
                if (!integer && m <= 9 && k <= 9 && n <= 9 && (m * 100 + k * 10 + n) % 7 != 0) continue;
                if (huge.Contains((m, k, n)) && integer != (isLong || typeof(T) == typeof(double))) continue;
                T[] a = new T[m * k], b = new T[k * n];
                for (int i = 0; i < a.Length; i++) a[i] = integer ? T.CreateTruncating(rng.Next(-4, 5)) : T.CreateTruncating(rng.NextDouble() * 2 - 1);
                for (int i = 0; i < b.Length; i++) b[i] = integer ? T.CreateTruncating(rng.Next(-4, 5)) : T.CreateTruncating(rng.NextDouble() * 2 - 1);
                // The naive reference, once for all layouts: in double (exact products of float inputs) or wrapping int64.
                var reference = new double[m * n];
                var absolute = new double[m * n];
                var referenceInt64 = isLong ? new long[m * n] : [];
                for (int i = 0; i < m; i++)
                {
                    for (int p = 0; p < k; p++)
                    {
                        T aip = a[i * k + p];
                        double da = double.CreateTruncating(aip);
                        for (int j = 0; j < n; j++)
                        {
                            if (isLong)
                            {
                                referenceInt64[i * n + j] += AsInt64(aip) * AsInt64(b[p * n + j]);
                                continue;
                            }
                            double term = da * double.CreateTruncating(b[p * n + j]);
                            reference[i * n + j] += term;
                            absolute[i * n + j] += Math.Abs(term);
                        }
                    }
                }
                // a is logical A[m,k], b is logical B[k,n]; each layout stores them as it expects.
                foreach (Layout layout in new[] { Layout.NN, Layout.NT, Layout.TN })
                {
                    int oa = (m + k) & 3, ob = (k + n + 1) & 3, oc = (m + n + 2) & 3;
                    ba.Span[..(Guard + oa + m * k + Guard)].Fill(poison);
                    bb.Span[..(Guard + ob + k * n + Guard)].Fill(poison);
                    bc.Span[..(Guard + oc + m * n + Guard)].Fill(poison); // the output itself starts as garbage too
                    T* pa = ba.Base + Guard + oa, pb = bb.Base + Guard + ob, pc = bc.Base + Guard + oc;
                    for (int i = 0; i < m; i++)
                        for (int p = 0; p < k; p++)
                            pa[layout == Layout.TN ? p * m + i : i * k + p] = a[i * k + p];
                    for (int p = 0; p < k; p++)
                        for (int j = 0; j < n; j++)
                            pb[layout == Layout.NT ? j * k + p : p * n + j] = b[p * n + j];
                    switch (layout)
                    {
                        case Layout.NN: Gemm.NN(pa, pb, pc, m, k, n); break;
                        case Layout.NT: Gemm.NT(pa, pb, pc, m, k, n); break;
                        default: Gemm.TN(pa, pb, pc, m, k, n); break;
                    }
                    string where = $"Gemm.{layout}<{t}> m={m} k={k} n={n} offsets=({oa},{ob},{oc}) {(integer ? "integer data" : "real data")}";
                    for (int e = 0; e < m * n; e++)
                    {
                        T got = pc[e];
                        if (isLong)
                        {
                            if (AsInt64(got) == referenceInt64[e]) continue;
                            log.Add($"{where}: C[{e / n},{e % n}] = {got}, expected {referenceInt64[e]}");
                            break;
                        }
                        double g = double.CreateTruncating(got);
                        // Integer data: every partial sum is exact. Real data: recursive-summation bound (k+2)·u·Σ|a·b|
                        // (FMA chains and blocked orders stay within it), plus the reference's own error.
                        double tolerance = integer ? 0 : (k + 2) * Roundoff<T>() * absolute[e] + 2 * k * Roundoff<double>() * absolute[e];
                        if (Math.Abs(g - reference[e]) <= tolerance) continue;
                        log.Add($"{where}: C[{e / n},{e % n}] = {Show(got)}, expected {reference[e]:R} ± {tolerance:R}");
                        break;
                    }
                    if (!GuardsIntact(bc.Base, Guard + oc, m * n, out int bad)) log.Add($"{where}: C element {bad} outside [0, {m * n}) was written");
                }
            }
        }
        return log.ToList();
    }

    // ---- broadcasting: SumToShape and the executor ------------------------------------------------

    private static int[] Strides(int[] shape)
    {
        var s = new int[shape.Length];
        int stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = stride; stride *= shape[i]; }
        return s;
    }

    private static int NumEl(int[] shape) => shape.Aggregate(1, (a, b) => a * b);

    /// <summary>Flat index into an operand of <paramref name="shape"/> broadcast to the multi-index <paramref name="index"/> of a larger shape.</summary>
    private static int BroadcastIndex(int[] index, int[] shape)
    {
        int lead = index.Length - shape.Length, flat = 0;
        int[] strides = Strides(shape);
        for (int i = 0; i < shape.Length; i++) flat += (shape[i] == 1 ? 0 : index[lead + i]) * strides[i];
        return flat;
    }

    private static int[] Unflatten(int flat, int[] shape)
    {
        var index = new int[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--) { index[i] = flat % shape[i]; flat /= shape[i]; }
        return index;
    }

    private static string ShapeText(int[] shape) => "(" + string.Join(",", shape) + ")";

    private static List<string> CheckSumToShape()
    {
        var log = new FailureLog();
        (int[] Grad, int[][] Targets)[] cases =
        [
            ([2, 3, 4], [[2, 3, 4], [3, 4], [4], [3, 1], [1, 4], [2, 1, 4], [2, 1, 1], [1, 1, 1], [], [1], [1, 3, 1], [2, 3, 1]]),
            ([5, 70], [[70], [5, 1], [1, 70], [], [1, 1]]),
            ([129], [[129], [1], []]),
            ([3, 1], [[3, 1], [1], [1, 1], []]),
            ([], [[]]),
            ([4, 4097], [[1, 4097], [4, 1], [4097], []]),
            ([2, 1, 3, 17], [[1, 1, 3, 17], [2, 1, 1, 17], [2, 1, 3, 1], [3, 1], [17]]),
        ];
        foreach (DType dtype in new[] { DType.Float32, DType.Float64, DType.Int64 })
        {
            foreach (var (grad, targets) in cases)
            {
                foreach (int[] target in targets)
                {
                    switch (dtype)
                    {
                        case DType.Float32: SumToShapeCase<float>(log, grad, target); break;
                        case DType.Float64: SumToShapeCase<double>(log, grad, target); break;
                        default: SumToShapeCase<long>(log, grad, target); break;
                    }
                }
            }
        }
        return log.ToList();
    }

    private static void SumToShapeCase<T>(FailureLog log, int[] gradShape, int[] target) where T : unmanaged, INumber<T>
    {
        var rng = new Random(gradShape.Length * 31 + target.Length);
        // Integer-valued data: sums are exact in any order, so the comparison is exact.
        T[] g = new T[NumEl(gradShape)];
        for (int i = 0; i < g.Length; i++) g[i] = T.CreateTruncating(rng.Next(-9, 10));
        using (Autograd.NoGrad())
        using (Autograd.Scope())
        {
            Tensor gt = Tensor.FromSpan<T>(g, gradShape);
            TensorContext c = gt.Ctx;
            int result = Broadcasting.SumToShape(c, gt.Slot, Dims.From(target), target.Length);
            T[] got = new Tensor(c, result).ToArray<T>();
            c.ReleaseTemporary(result);
            var want = new double[NumEl(target)];
            for (int f = 0; f < g.Length; f++)
                want[BroadcastIndex(Unflatten(f, gradShape), target)] += double.CreateTruncating(g[f]);
            string where = $"SumToShape<{TypeName<T>()}> grad {ShapeText(gradShape)} -> {ShapeText(target)}";
            if (got.Length != want.Length) { log.Add($"{where}: {got.Length} elements, expected {want.Length}"); return; }
            for (int i = 0; i < want.Length; i++)
            {
                if (double.CreateTruncating(got[i]) != want[i])
                {
                    log.Add($"{where}: [{i}] = {got[i]}, expected {want[i]}");
                    return;
                }
            }
        }
    }

    /// <summary>
    /// An executor operand: a scalar (null shape), or a tensor of a shape, optionally built as a
    /// transposed view (inner stride &gt; 1: copied contiguous first), a column slice of a wider
    /// tensor (inner stride 1, real outer strides and an offset), or stored in another dtype (cast first).
    /// </summary>
    private sealed record ExecOperand(int[]? Shape, double Scalar = 0, bool Transposed = false, bool Sliced = false, bool OtherDType = false)
    {
        public bool Plain => Shape is not null && !Transposed && !Sliced && !OtherDType;

        public override string ToString() => Shape is null
            ? string.Create(CultureInfo.InvariantCulture, $"scalar {Scalar}")
            : ShapeText(Shape) + (Transposed ? " transposed view" : "") + (Sliced ? " column slice" : "") + (OtherDType ? " other dtype" : "");
    }

    private static List<string> CheckExecutor()
    {
        var log = new FailureLog();
        (int[] Result, ExecOperand X, ExecOperand Y, ExecOperand Z)[] cases =
        [
            ([3, 5], new([3, 5]), new([5]), new([3, 1])),
            ([4, 5], new([1, 5]), new([4, 1]), new([])),
            ([2, 3, 4], new([2, 3, 4]), new([3, 1]), new([2, 1, 4])),
            ([4, 5, 6], new([4, 1, 6]), new([1, 5, 1]), new([6])),
            ([7], new([7]), new(null, 2.5), new([7])),
            ([3, 70], new([3, 70]), new([70]), new(null, -1.5)),
            ([2, 129], new([2, 129]), new([2, 1]), new([1, 129])),
            ([3, 5], new([3, 5], Transposed: true), new([5]), new([3, 5])),
            ([17, 9], new([17, 9]), new([17, 9], Transposed: true), new([17, 1])),
            ([0, 5], new([0, 5]), new([5]), new([0, 1])),
            ([], new([]), new([]), new(null, 4)),
            ([6, 33], new([6, 33]), new([6, 33]), new([6, 33])),
            ([2, 2, 3, 16], new([2, 1, 3, 16]), new([2, 1, 16]), new([1, 2, 1, 1])),
            ([4, 6], new([4, 6], Sliced: true), new([6], OtherDType: true), new([4, 1])),
            ([3, 70], new([3, 70]), new([3, 70], Sliced: true), new([70], OtherDType: true)),
            ([5, 19], new([5, 19], OtherDType: true), new([5, 19]), new([5, 19], Sliced: true)),
            ([1000], new([1000]), new([1000], OtherDType: true), new([1])),
        ];
        foreach (var (result, x, y, z) in cases)
        {
            foreach (bool inPlace in new[] { false, true })
            {
                // In place: the result is x's own storage (as for add_), so x must be a plain tensor of the result's shape.
                if (inPlace && !(x.Plain && x.Shape!.SequenceEqual(result))) continue;
                ExecutorCase<float, MultiplyAddOperator>(log, "MultiplyAdd", result, x, y, z, inPlace);
                ExecutorCase<double, MultiplyAddOperator>(log, "MultiplyAdd", result, x, y, z, inPlace);
                ExecutorCase<long, MultiplyAddOperator>(log, "MultiplyAdd", result, x, y, z, inPlace);
                ExecutorCase<float, SubtractOperator>(log, "Subtract", result, x, y, z, inPlace);
                ExecutorCase<double, DivideOperator>(log, "Divide", result, x, y, z, inPlace);
                if (!inPlace) ExecutorCase<double, CopyOperator>(log, "Copy", result, y, x, z, inPlace);
            }
        }
        return log.ToList();
    }

    private static Tensor MakeOperand<T, TStore>(ExecOperand s, T[] values)
        where T : unmanaged, INumber<T> where TStore : unmanaged, INumber<TStore>
    {
        int[] shape = s.Shape!;
        TStore[] v = values.Select(TStore.CreateTruncating).ToArray();
        if (s.Transposed)
        {
            // Store the transpose contiguously, then view it back: the operand holds the logical values, strided.
            int rows = shape[0], cols = shape[1];
            var stored = new TStore[v.Length];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    stored[j * rows + i] = v[i * cols + j];
            return Tensor.FromSpan<TStore>(stored, [cols, rows]).T();
        }
        if (s.Sliced)
        {
            // Columns 1..cols of a [rows, cols + 3] tensor filled with 1000s elsewhere.
            int rows = shape[0], cols = shape[1], wide = cols + 3;
            var stored = Enumerable.Repeat(TStore.CreateTruncating(1000), rows * wide).ToArray();
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    stored[i * wide + 1 + j] = v[i * cols + j];
            return Tensor.FromSpan<TStore>(stored, [rows, wide]).Slice(1, 1, 1 + cols);
        }
        return Tensor.FromSpan<TStore>(v, shape);
    }

    private static void ExecutorCase<T, TOp>(FailureLog log, string name, int[] resultShape, ExecOperand x, ExecOperand y, ExecOperand z, bool inPlace)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
    {
        var rng = new Random(resultShape.Length * 7 + (x.Shape?.Length ?? 9));
        string where = $"Executor.Run<{name}><{TypeName<T>()}> result {ShapeText(resultShape)} from {x}, {y}, {z}{(inPlace ? " in place on x" : "")}";
        using (Autograd.NoGrad())
        using (Autograd.Scope())
        {
            ExecOperand[] specs = [x, y, z];
            var logical = new T[3][];
            var operands = new Operand[3];
            var slots = new int[3];
            TensorContext c = TensorContext.Current;
            for (int k = 0; k < 3; k++)
            {
                ExecOperand s = specs[k];
                if (s.Shape is null)
                {
                    logical[k] = [T.CreateTruncating(s.Scalar)];
                    operands[k] = Operand.Of(s.Scalar);
                    continue;
                }
                // Values exactly representable in float, double and (truncated) int64, and never zero (divisor).
                T[] values = new T[NumEl(s.Shape)];
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = T.CreateTruncating(rng.Next(1, 17) * (rng.Next(2) == 0 ? 0.5 : -0.25));
                    if (values[i] == T.Zero) values[i] = T.One;
                }
                logical[k] = values;
                Tensor tensor = !s.OtherDType ? MakeOperand<T, T>(s, values)
                    : typeof(T) == typeof(double) ? MakeOperand<T, float>(s, values) : MakeOperand<T, double>(s, values);
                if (s.Transposed && tensor.Record.IsContiguous && s.Shape[0] > 1 && s.Shape[1] > 1) log.Add($"{where}: test setup: transposed view is contiguous");
                if (s.Sliced && (tensor.Record.IsContiguous || tensor.Record.Offset != 1)) log.Add($"{where}: test setup: slice is not a strided view at offset 1");
                c = tensor.Ctx;
                operands[k] = Operand.Of(tensor.Slot);
                slots[k] = tensor.Slot;
            }
            int result = inPlace ? slots[0] : c.NewTensor(Tensor.DTypeOf<T>(), resultShape, zero: false);
            Executor.Run<TOp>(c, operands[0], operands[1], operands[2], result);
            T[] got = new Tensor(c, result).ToArray<T>();
            int count = NumEl(resultShape);
            if (got.Length != count) { log.Add($"{where}: {got.Length} elements, expected {count}"); return; }
            for (int f = 0; f < count; f++)
            {
                int[] index = Unflatten(f, resultShape);
                T xv = logical[0][specs[0].Shape is null ? 0 : BroadcastIndex(index, specs[0].Shape!)];
                T yv = logical[1][specs[1].Shape is null ? 0 : BroadcastIndex(index, specs[1].Shape!)];
                T zv = logical[2][specs[2].Shape is null ? 0 : BroadcastIndex(index, specs[2].Shape!)];
                T want = TOp.Invoke(xv, yv, zv);
                if (!Equivalent(got[f], want))
                {
                    log.Add($"{where}: [{string.Join(",", index)}] = {Show(got[f])}, expected {Show(want)} from x={Show(xv)} y={Show(yv)} z={Show(zv)}");
                    return;
                }
            }
        }
    }
}
