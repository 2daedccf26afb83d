namespace AutogradFast.Tool.Workloads;

/// <summary>W1-W8 and the check values workloads.md states for them.</summary>
internal static class WorkloadCatalog
{
    /// <summary>A fresh instance of every workload, W1 first.</summary>
    public static IReadOnlyList<IWorkload> Create() =>
    [
        new W1SeedPoly(), new W2SeedDot(), new W3Chain1k(), new W4MlpTiny(),
        new W5MlpBatch(), new W6Elementwise4M(), new W7Matmul1024(), new W8SeedLoop(),
    ];

    /// <summary>A fresh instance of workload <paramref name="id"/> ("W1" ... "W8").</summary>
    public static IWorkload Create(string id) =>
        Create().FirstOrDefault(w => string.Equals(w.Id, id, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown workload '{id}'; expected W1 ... W8.", nameof(id));

    /// <summary>
    /// workloads.md's check values with the tolerance each implies: exact results allow a few float32
    /// roundings; printed decimals allow about one unit of their last digit; W5 allows 1e-5 relative on
    /// the large sums (BLAS summation order changes the 7th digit at 2 threads), W6's y allows ±1
    /// (summation order of 4M terms), W7's sums of 1M GEMM outputs allow 4e-6 relative (each column sum
    /// is repeated 1024 times, so one GEMM's rounding shows up 1024-fold). W3's x.grad
    /// is torch-python's value (the C# library matches what PyTorch users see; libtorch-cpp's 1.05126822
    /// is outside the tolerance on purpose).
    /// </summary>
    public static IReadOnlyList<(string Key, double Value, double Tolerance)> Expected(string id) => id switch
    {
        "W1" => [("y", 51, 1e-5), ("x.grad", 26, 1e-5), ("u.grad", 6, 1e-5)],
        "W2" => [("y", 28, 1e-5), ("x.grad[0]", 0, 1e-6), ("x.grad[1]", 4, 1e-6), ("x.grad[2]", 8, 1e-6), ("x.grad[3]", 12, 1e-6)],
        "W3" => [("y", 257.39468, 2e-4), ("x.grad", 1.05127704, 2e-7)],
        "W4" => [("loss", 0.06571377, 5e-8), ("W1.grad.sum", 0.0879058, 2e-7), ("b1.grad.sum", -0.0423730, 2e-7),
                 ("W2.grad.sum", -0.9276710, 2e-7), ("b2.grad.sum", -0.5126939, 2e-7)],
        "W5" => [("loss", 0.34711057, 0.34711057 * 1e-5), ("W1.grad.sum", -0.00632667, 1e-7), ("b1.grad.sum", 0.0178568, 1e-6),
                 ("W2.grad.sum", 1.2958853, 1.2958853 * 1e-5), ("b2.grad.sum", 0.0387852, 1e-6), ("W3.grad.sum", 0.0423774, 1e-6),
                 ("b3.grad.sum", 0.00405241, 1e-7)],
        "W6" => [("y", 4236907, 1), ("x.grad.sum", -347.8996, 347.8996 * 1e-5)],
        "W7" => [("A.grad.sum", -256707.17, 256707.17 * 4e-6), ("B.grad.sum", 638848.43, 638848.43 * 4e-6)],
        "W8" => [("c", 1433.6, 1433.6 * 1e-6), ("a.grad", 2048, 1e-3)],
        _ => throw new ArgumentException($"Unknown workload '{id}'.", nameof(id)),
    };

    /// <summary>The mismatches of <paramref name="check"/> against <see cref="Expected"/> (empty: all within tolerance).</summary>
    public static List<string> Failures(string id, IReadOnlyDictionary<string, double> check)
    {
        var failures = new List<string>();
        foreach (var (key, value, tolerance) in Expected(id))
        {
            if (!check.TryGetValue(key, out double got)) failures.Add($"{key} missing");
            else if (!(Math.Abs(got - value) <= tolerance)) failures.Add($"{key} = {got:R}, expected {value:R} ± {tolerance:G3}");
        }
        return failures;
    }
}
