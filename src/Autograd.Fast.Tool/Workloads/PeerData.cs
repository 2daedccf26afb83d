namespace AutogradFast.Tool.Workloads;

/// <summary>
/// workloads.md's data: the counter-based SplitMix64 generator, so that C#, Python and C++ get
/// bit-identical inputs without sharing an RNG. Element i is the row-major flat index.
/// </summary>
internal static class PeerData
{
    /// <summary>The i-th output (i = 0, 1, ...) of SplitMix64 started at <paramref name="seed"/>; all arithmetic mod 2^64.</summary>
    public static ulong Sm64(ulong seed, ulong i)
    {
        ulong z = unchecked(seed + (i + 1) * 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>(sm64 &gt;&gt; 40) * 2^-24: exactly k / 2^24.</summary>
    public static double U01(ulong seed, ulong i) => (Sm64(seed, i) >> 40) * (1.0 / (1 << 24));

    /// <summary><c>uniform(seed, shape, lo, hi)</c>'s values: lo + (hi - lo) * u01 in double, rounded once to float.</summary>
    public static float[] UniformValues(ulong seed, int count, double lo, double hi)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float)(lo + (hi - lo) * U01(seed, (ulong)i));
        return v;
    }

    /// <summary><c>normal(seed, shape, std)</c>'s values: Box-Muller on u01(seed, 2i) and u01(seed, 2i + 1), in double.</summary>
    public static float[] NormalValues(ulong seed, int count, double std)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            double a = U01(seed, 2 * (ulong)i), b = U01(seed, 2 * (ulong)i + 1);
            v[i] = (float)(std * Math.Sqrt(-2 * Math.Log(1 - a)) * Math.Cos(2 * Math.PI * b));
        }
        return v;
    }

    /// <summary><c>uniform(seed, shape, lo, hi)</c> as a float32 tensor (no grad).</summary>
    public static Tensor Uniform(ulong seed, int[] shape, double lo, double hi)
        => Tensor.FromSpan<float>(UniformValues(seed, NumEl(shape), lo, hi), shape);

    /// <summary><c>normal(seed, shape, std)</c> as a float32 tensor (no grad).</summary>
    public static Tensor Normal(ulong seed, int[] shape, double std)
        => Tensor.FromSpan<float>(NormalValues(seed, NumEl(shape), std), shape);

    private static int NumEl(int[] shape)
    {
        int n = 1;
        foreach (int d in shape) n = checked(n * d);
        return n;
    }

    /// <summary>Neumaier-compensated sum in double (the input sums are compared to about 1e-12).</summary>
    public static double ExactSum(ReadOnlySpan<float> values)
    {
        double s = 0, c = 0;
        foreach (float f in values)
        {
            double x = f, t = s + x;
            c += Math.Abs(s) >= Math.Abs(x) ? (s - t) + x : (x - t) + s;
            s = t;
        }
        return s + c;
    }

    // ---- workloads.md's reference values ----------------------------------------------------------

    public static readonly ulong[] Sm64Reference41 = [0x118e846ea93bc949UL, 0x992ffac69a7acd4cUL, 0x1b9ec6ebbda97281UL];
    public const ulong Sm64ReferenceSeed0 = 0xe220a8397b1dcdafUL;
    public static readonly double[] UniformReference = [-0.8628382682800293, 0.1967766284942627, -0.784217119216919];
    public static readonly double[] NormalReference = [0.07410642504692078, 0.0503920316696167, -0.0904509648680687];

    private static readonly double S32 = 1 / Math.Sqrt(32);

    /// <summary>Every generated tensor of W4-W7 with workloads.md's input sum.</summary>
    public static IReadOnlyList<(string Name, Func<float[]> Values, double Expected)> InputSums { get; } =
    [
        ("W4 X", () => UniformValues(41, 1 * 16, -1, 1), -2.074571132659912),
        ("W4 W1", () => UniformValues(42, 16 * 32, -1.0 / 4, 1.0 / 4), 3.076010376214981),
        ("W4 b1", () => UniformValues(43, 32, -1.0 / 4, 1.0 / 4), -0.22313329577445984),
        ("W4 W2", () => UniformValues(44, 32 * 1, -S32, S32), 0.07223450252786279),
        ("W4 b2", () => UniformValues(45, 1, -S32, S32), 0.1656091958284378),
        ("W5 X", () => UniformValues(51, 256 * 64, -1, 1), -15.207106828689575),
        ("W5 Y", () => UniformValues(52, 256 * 10, -1, 1), -15.812421798706055),
        ("W5 W1", () => UniformValues(53, 64 * 256, -1.0 / 8, 1.0 / 8), 7.844932481646538),
        ("W5 b1", () => UniformValues(54, 256, -1.0 / 8, 1.0 / 8), -2.3907638639211655),
        ("W5 W2", () => UniformValues(55, 256 * 256, -1.0 / 16, 1.0 / 16), -5.6091044023633),
        ("W5 b2", () => UniformValues(56, 256, -1.0 / 16, 1.0 / 16), -0.2314855232834816),
        ("W5 W3", () => UniformValues(57, 256 * 10, -1.0 / 16, 1.0 / 16), -1.5584001392126083),
        ("W5 b3", () => UniformValues(58, 10, -1.0 / 16, 1.0 / 16), -0.01659044623374939),
        ("W6 x", () => NormalValues(61, 4_194_304, 0.1), -169.38783074723253),
        ("W7 A", () => UniformValues(71, 1024 * 1024, -1, 1), 623.8754879236221),
        ("W7 B", () => UniformValues(72, 1024 * 1024, -1, 1), -250.69048857688904),
    ];

    /// <summary>The relative tolerance of an input sum (uniform is bit-exact; normal may differ in rare last bits).</summary>
    public const double InputSumTolerance = 1e-12;

    /// <summary>Every mismatch against workloads.md's reference values and input sums (empty: the generator is right).</summary>
    public static List<string> Verify()
    {
        var errors = new List<string>();
        for (int i = 0; i < 3; i++)
            if (Sm64(41, (ulong)i) != Sm64Reference41[i]) errors.Add($"sm64(41, {i}) = 0x{Sm64(41, (ulong)i):x16}, expected 0x{Sm64Reference41[i]:x16}");
        if (Sm64(0, 0) != Sm64ReferenceSeed0) errors.Add($"sm64(0, 0) = 0x{Sm64(0, 0):x16}, expected 0x{Sm64ReferenceSeed0:x16}");
        float[] u = UniformValues(41, 16, -1, 1);
        float[] n = NormalValues(61, 3, 0.1); // element i depends only on (seed, i): the first 3 of the 4M
        for (int i = 0; i < 3; i++)
        {
            if (u[i] != UniformReference[i]) errors.Add($"uniform(41, (1,16), -1, 1)[{i}] = {u[i]:R}, expected {UniformReference[i]:R}");
            if (n[i] != NormalReference[i]) errors.Add($"normal(61, (4194304,), 0.1)[{i}] = {n[i]:R}, expected {NormalReference[i]:R}");
        }
        foreach (var (name, values, expected) in InputSums)
        {
            double sum = ExactSum(values());
            if (Math.Abs(sum - expected) > InputSumTolerance * Math.Max(1, Math.Abs(expected)))
                errors.Add($"input sum {name} = {sum:R}, expected {expected:R}");
        }
        return errors;
    }
}
